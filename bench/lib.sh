# Shared by the benchmark scripts: finds the authd binary, starts it on a free
# port with a private data dir, logs in as admin, and stops it by pid at exit.
# The caller sets `name` first; afterwards it has $bin, $tmp, $pid, $base, $token,
# and stop_authd, start_authd and admin_login to restart it on the same data dir
# (or on $data_dir and $AUTHD_CONFIG, when set); with BENCH_START_LATER set it
# starts nothing and the caller calls those itself. Also: ratio_of and met_of,
# pg_start and pg_stop (a PostgreSQL cluster), api and authz_request (a user,
# a bundle and a decision's request), callgrind_count.
# shellcheck shell=bash

repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-build/authd/authd}
# a relative path is taken from the current directory, else from the repo root
if [[ ! -x $bin && $bin != /* && -x $repo/$bin ]]; then
	bin=$repo/$bin
fi
seconds=${BENCH_SECONDS:-10}
password="bench-$RANDOM-$RANDOM-$RANDOM"

die() {
	echo "$name: $*" >&2
	exit 1
}

[[ -x $bin ]] || die "no authd binary at \"$bin\" (build it first, or pass its path)"
[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a positive integer, not \"$seconds\""
for tool in curl ss ${BENCH_TOOLS:-}; do
	command -v "$tool" >/dev/null || die "$tool is not installed (Debian: apt-get install $tool)"
done

exec 3>&1 # the real stdout, for the trap (it may fire inside a redirection)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/authd-bench.XXXXXX")
pid=

# Stops authd by its pid (SIGTERM, then wait; SIGKILL after 20 s) and prints
# its exit status.
stop_authd() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 200); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "$name: authd did not stop on SIGTERM within 20 s; killing it" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
		local status=0
		wait "$pid" 2>/dev/null || status=$?
		echo "authd_exit_status=$status" >&3
	fi
	pid=
}

# Stops authd and removes the temp dir, whether the benchmark got to the end or not.
cleanup() {
	local rc=$?

	trap - EXIT INT TERM
	stop_authd
	if declare -F bench_cleanup >/dev/null; then
		bench_cleanup
	fi
	if [[ $rc -ne 0 && -s $tmp/authd.log ]]; then
		echo "$name: last lines of the authd log:" >&2
		tail -n 20 "$tmp/authd.log" >&2
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A port nobody listens on now; authd failing to bind is caught below anyway.
free_port() {
	local used port

	used=$(ss -Htln 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }')
	for _ in $(seq 1 100); do
		port=$((20000 + RANDOM % 40000))
		if ! grep -qx "$port" <<<"$used"; then
			echo "$port"
			return 0
		fi
	done
	die "found no free port"
}

rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"
}

# Starts authd on a free port ($port, $base) with the data dir in $tmp, behind
# an optional wrapper command (a profiler), and waits until it answers /_ping.
# A port taken between free_port and authd's bind (a client's ephemeral port,
# a connection of the last start in TIME_WAIT) is tried again with another;
# bench_before_start, when the caller defines it, picks its own ports again.
# shellcheck disable=SC2120 # the wrapper is bench_authz.sh's, on a restart
start_authd() { # [WRAPPER...]
	local i try from

	for try in 1 2 3; do
		port=$(free_port)
		# the caller's other ports for this try (a config naming them), when it has some
		if declare -F bench_before_start >/dev/null; then
			bench_before_start
		fi
		base="https://127.0.0.1:$port"
		from=$(($(stat -c %s "$tmp/authd.log" 2>/dev/null || echo 0) + 1))
		AUTHD_ADMIN_PASSWORD=$password "$@" "$bin" --data-dir "${data_dir:-$tmp/data}" \
			--listen "127.0.0.1:$port" ${AUTHD_CONFIG:+--config "$AUTHD_CONFIG"} \
			>>"$tmp/authd.log" 2>&1 3>&- &
		pid=$!
		for i in $(seq 1 300); do
			curl -skf --max-time 2 "$base/_ping" >/dev/null 2>&1 && return 0
			kill -0 "$pid" 2>/dev/null || break
			[[ $i -lt 300 ]] || die "authd did not answer /_ping within 30 s"
			sleep 0.1
		done
		wait "$pid" 2>/dev/null || true
		pid=
		tail -c "+$from" "$tmp/authd.log" | grep -q "Address already in use" ||
			die "authd exited during start-up"
	done
	die "authd found no free port in $try tries"
}

# Logs in as admin: $token.
admin_login() {
	local login

	login=$(curl -sk --max-time 30 -H 'Content-Type: application/json' \
		-d "{\"username\":\"admin\",\"password\":\"$password\"}" "$base/auth/login") ||
		die "login request failed"
	token=$(sed -n 's/.*"auth_token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' <<<"$login")
	[[ -n $token ]] || die "login as admin gave no auth_token: $login"
}

ratio_of() { # A B: A / B with two decimals
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'
}

met_of() { # RATIO TARGET
	awk -v r="$1" -v t="$2" 'BEGIN { print (r + 0 >= t + 0 ? "met" : "NOT met") }'
}

# ---- PostgreSQL: a throwaway cluster of the integration tests' harness ----
pgcluster=$(dirname "$bin")/../tests/integration/it_pgcluster

# Whether pg_start can run: it_pgcluster built, Debian's postgresql installed.
pg_available() {
	[[ -x $pgcluster && -x /usr/lib/postgresql/15/bin/initdb ]]
}

# Starts a cluster with it_pgcluster (initdb in $tmp, a free loopback port)
# and the postgres -c options given; sets $dsn. pg_stop stops it.
pg_start() { # [SETTINGS...]
	coproc PG { exec "$pgcluster" "$@" 2>"$tmp/pgcluster.log"; }
	# shellcheck disable=SC2034 # $dsn is the caller's
	read -r -t 120 dsn <&"${PG[0]}" || die "it_pgcluster gave no DSN: $(cat "$tmp/pgcluster.log")"
}

# it_pgcluster stops its server (by the postmaster's pid) when its stdin closes.
pg_stop() {
	[[ -n ${PG_PID:-} ]] || return 0
	local cluster=$PG_PID
	eval "exec ${PG[1]}>&-"
	for _ in $(seq 1 300); do
		kill -0 "$cluster" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$cluster" 2>/dev/null && kill -TERM "$cluster" 2>/dev/null
	wait "$cluster" 2>/dev/null || true
}

# ---- authorization requests, as dockerd sends them ----

# An admin's API call on $base, the answer on stdout.
api() { # METHOD PATH [BODY]
	curl -sSf --max-time 30 --cacert "${data_dir:-$tmp/data}/ca/cluster-ca.pem" \
		-H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		-X "$1" ${3:+-d "$3"} "$base$2"
}

# A user with Restricted Control on /Shared ($user), a bundle the admin makes
# for it in $tmp/bundle, and in $tmp/authzreq.json what dockerd sends the
# plugin for `docker volume ls` with that bundle.
authz_request() {
	local uid

	user=bench-rc
	uid=$(api POST /enzi/v0/accounts \
		"{\"name\":\"$user\",\"password\":\"$password-u\",\"isActive\":true}" |
		sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
	[[ -n $uid ]] || die "cannot create $user"
	api PUT "/collectionGrants/$uid/shared/restrictedcontrol" >/dev/null
	api GET "/api/clientbundle?label=bench&account=$user" >"$tmp/bundle.zip"
	unzip -q "$tmp/bundle.zip" -d "$tmp/bundle"
	printf '{"User":"%s","UserAuthNMethod":"TLS","RequestMethod":"GET","RequestUri":"/v1.41/volumes",%s,"RequestPeerCertificates":["%s"]}' \
		"$user" '"RequestHeaders":{"User-Agent":"Docker-Client/20.10.24 (linux)","Accept-Encoding":"gzip"}' \
		"$(base64 -w0 "$tmp/bundle/cert.pem")" >"$tmp/authzreq.json"
}

# ---- instructions (callgrind), which unlike time do not move with the machine's load ----

# Zeroes the counters of PID, a process running under valgrind --tool=callgrind
# with --callgrind-out-file=OUT, runs COMMAND, then dumps them, the Nth dump
# (OUT.N); prints the dump's instructions, every thread's, and the requests the
# command's first line counted ("requests=R", as bench_authz prints; 0 without).
callgrind_count() { # PID OUT N COMMAND...
	local cg_pid=$1 dump=$2.$3 out summary

	shift 3
	callgrind_control -z "$cg_pid" >/dev/null 2>&1 || die "callgrind_control cannot reach $cg_pid"
	out=$("$@")
	callgrind_control -d "$cg_pid" >/dev/null 2>&1 || die "callgrind_control cannot reach $cg_pid"
	summary=$(sed -n 's/^summary: //p' "$dump")
	[[ -n $summary ]] || die "no callgrind dump $dump"
	echo "$summary $(sed -n '1s/.* requests=\([0-9]*\).*/\1/p' <<<"$out" | grep . || echo 0)"
}

# The bench starts its own servers when it sets BENCH_START_LATER.
if [[ -z ${BENCH_START_LATER:-} ]]; then
	# shellcheck disable=SC2119 # no wrapper the first time
	start_authd
	admin_login
fi

