#!/usr/bin/env bash
# Benchmark (not a test): authorization decisions on authd's plugin socket, their
# rate, latency and instructions, each beside the same server's no-op answer to
# the same body; then what the plugin adds to `docker volume ls` through a TLS
# engine. Needs root (dockerd) and valgrind.
# Usage: bench/bench_authz.sh [AUTHD_BINARY]; env BENCH_SECONDS (default 10),
# BENCH_RUNS (default 30; 0 skips the engines).
set -euo pipefail

name=bench_authz
threads=32
runs=${BENCH_RUNS:-30}
rate_target=0.80
p99_ratio_target=1.3
p99_1conn_target_us=150
ir_target=1.5
cg_seconds=4
e2e_target=1.10
export BENCH_TOOLS="dockerd docker unzip base64 tar valgrind callgrind_control"

[[ $(id -u) -eq 0 ]] || {
	echo "$name: dockerd needs root" >&2
	exit 1
}
[[ $runs =~ ^[0-9]+$ ]] || {
	echo "$name: BENCH_RUNS must be a whole number (0 skips the engines)" >&2
	exit 1
}

plugin=authd-bench-$$
sock=/run/docker/plugins/$plugin.sock
mkdir -p /run/docker/plugins
# authd reads its config at start-up only
AUTHD_CONFIG=$(mktemp /tmp/authd-bench-config.XXXXXX)
printf '{"authz":{"socket":"%s"}}\n' "$sock" >"$AUTHD_CONFIG"
export AUTHD_CONFIG

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
# kept with authd's data, which it is started on again under callgrind
mv "$AUTHD_CONFIG" "$tmp/config.json"
AUTHD_CONFIG=$tmp/config.json

gen=$(dirname "$bin")/../bench/bench_authz
[[ -x $gen ]] || die "no load generator at $gen (it is built with authd)"
# Debian's CLI, as the tests use, rather than one a developer put in /usr/local
docker=$(PATH=/usr/sbin:/usr/bin:$PATH command -v docker)
# engines live under a short path: containerd's sockets sit in the exec root
edir=$(mktemp -d /tmp/abz-XXXXXX)
engine_pids=()

# Stops the engines by pid (SIGTERM lets dockerd release its mounts), then lib.sh's cleanup.
eval "lib_$(declare -f cleanup)"
stop_engines() {
	local p

	for p in "${engine_pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${engine_pids[@]}"; do
		for _ in $(seq 1 200); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	umount -l "$edir"/*/root 2>/dev/null || true
	rm -rf "$edir"
}
cleanup() {
	local rc=$?

	set +e # a failing stop must not skip the rest
	stop_engines
	(exit "$rc")
	lib_cleanup
}

# A user with Restricted Control on /Shared, a bundle for it, and what dockerd
# sends for `docker volume ls` with that bundle.
authz_request

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
line() { grep "^$1 " <<<"$2"; } # PATH OUTPUT: that path's line of the generator's output
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { print ((op == "<=" ? v <= t : v >= t) ? "met" : "NOT met") }'; }

activate=(/Plugin.Activate - '"authz"')
noop=(/AuthZPlugin.AuthZRes "$tmp/authzreq.json" '"Allow":true')
decide=(/AuthZPlugin.AuthZReq "$tmp/authzreq.json" '"Allow":true')

# The no-op reference is AuthZRes with the same body as the decisions: authd
# reads it, parses it and answers allow without deciding anything, so it costs
# what every plugin request costs (the transfer, the HTTP and the JSON) and
# nothing of the decision. Plugin.Activate, with no body at all, is printed
# too: the floor of the socket and libmicrohttpd. The generator sends to the
# three in turn, a second each, so that all see the same machine load.
echo "# authz decisions: $threads keep-alive connections on the plugin socket, ${seconds}s per path, $(nproc) CPUs"
out=$("$gen" "$sock" "$seconds" "$threads" "${activate[@]}" "${noop[@]}" "${decide[@]}")
f=$(line /Plugin.Activate "$out")
n=$(line /AuthZPlugin.AuthZRes "$out")
d=$(line /AuthZPlugin.AuthZReq "$out")
echo "floor_activate_per_s=$(field rate "$f") (p50 $(field p50_us "$f") us, p99 $(field p99_us "$f") us; no body, for reading the others)"
echo "noop_same_body_per_s=$(field rate "$n") (p50 $(field p50_us "$n") us, p99 $(field p99_us "$n") us, failures $(field failures "$n"))"
echo "decisions_per_s=$(field rate "$d") (p50 $(field p50_us "$d") us, p99 $(field p99_us "$d") us, failures $(field failures "$d"))"
r=$(awk -v d="$(field p99_us "$d")" -v n="$(field p99_us "$n")" 'BEGIN { printf "%.2f", (n > 0 ? d / n : 0) }')
echo "p99_ratio=$r (decision p99 / no-op p99; target <= $p99_ratio_target: $(verdict "$r" "$p99_ratio_target" "<="))"
r=$(awk -v d="$(field rate "$d")" -v n="$(field rate "$n")" 'BEGIN { printf "%.2f", (n > 0 ? d / n : 0) }')
echo "rate_ratio=$r (decisions / no-op per second; target >= $rate_target: $(verdict "$r" "$rate_target" ">="))"

# One connection: the service time alone, without 32 requests queueing for 2 CPUs.
echo "# one connection, $(((seconds + 1) / 2))s per path"
out=$("$gen" "$sock" "$(((seconds + 1) / 2))" 1 "${activate[@]}" "${noop[@]}" "${decide[@]}")
f=$(line /Plugin.Activate "$out")
n=$(line /AuthZPlugin.AuthZRes "$out")
d=$(line /AuthZPlugin.AuthZReq "$out")
p99=$(field p99_us "$d")
echo "decision_1conn_p99_us=$p99 (p50 $(field p50_us "$d") us; target <= $p99_1conn_target_us: $(verdict "$p99" "$p99_1conn_target_us" "<="))"
echo "noop_1conn_p99_us=$(field p99_us "$n") (p50 $(field p50_us "$n") us), activate_1conn_p99_us=$(field p99_us "$f") (p50 $(field p50_us "$f") us); the same run's references"

# Starts dockerd as the integration tests do, TLS on a free port; sets $eport.
start_engine() { # NAME [PLUGIN]
	local dir=$edir/$1

	mkdir -p "$dir/cli"
	"$bin" engine-tls --data-dir "$tmp/data" --name "bench-$1" --san 127.0.0.1 \
		--mode controller --out "$dir/tls" >"$dir/engine-tls.log" 2>&1 ||
		die "authd engine-tls failed: $(cat "$dir/engine-tls.log")"
	echo '{}' >"$dir/daemon.json"
	eport=$(free_port)
	dockerd --iptables=false --bridge=none --storage-driver=vfs --data-root "$dir/root" \
		--exec-root "$dir/run" --pidfile "$dir/pid" --config-file "$dir/daemon.json" \
		-H "unix://$dir/docker.sock" -H "tcp://127.0.0.1:$eport" --tlsverify \
		--tlscacert "$dir/tls/ca.pem" --tlscert "$dir/tls/server-cert.pem" \
		--tlskey "$dir/tls/server-key.pem" ${2:+--authorization-plugin="$2"} \
		>"$dir/dockerd.log" 2>&1 3>&- &
	engine_pids+=($!)
	for i in $(seq 1 300); do
		DOCKER_CONFIG=$dir/cli "$docker" -H "unix://$dir/docker.sock" version >/dev/null 2>&1 && return 0
		kill -0 "${engine_pids[-1]}" 2>/dev/null || die "dockerd $1 exited: $(tail -5 "$dir/dockerd.log")"
		[[ $i -lt 300 ]] || die "dockerd $1 did not answer within 30 s"
		sleep 0.1
	done
}

# Wall time of one `docker volume ls` as the bench user, in microseconds.
volume_ls_us() { # PORT
	local t0 t1

	t0=$(date +%s%N)
	DOCKER_HOST=tcp://127.0.0.1:$1 DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$tmp/bundle \
		DOCKER_CONFIG=$edir/cli "$docker" volume ls >/dev/null || die "docker volume ls failed on :$1"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# The medians of `docker volume ls` through an engine with the plugin and one without.
end_to_end() {
	start_engine plugin "$plugin"
	with_port=$eport
	start_engine plain
	without_port=$eport
	mkdir -p "$edir/cli"
	for _ in 1 2 3; do # warm-up: TLS session set-up, the plugin's first connection
		volume_ls_us "$with_port" >/dev/null
		volume_ls_us "$without_port" >/dev/null
	done
	: >"$edir/with.us"
	: >"$edir/without.us"
	# alternating, so that both see the same moments of machine load
	for _ in $(seq 1 "$runs"); do
		volume_ls_us "$with_port" >>"$edir/with.us"
		volume_ls_us "$without_port" >>"$edir/without.us"
	done
	with=$(median <"$edir/with.us")
	without=$(median <"$edir/without.us")
	echo "# end to end: median of $runs \`docker volume ls\` ($("$docker" --version | cut -d, -f1)) per engine, TLS, same run"
	awk -v w="$with" -v o="$without" -v t="$e2e_target" 'BEGIN {
		r = o > 0 ? w / o : 0
		printf "volume_ls_with_plugin_ms=%.1f\nvolume_ls_without_plugin_ms=%.1f\n", w / 1000, o / 1000
		printf "e2e_ratio=%.3f (target <= %.2f: %s)\n", r, t, (r <= t ? "met" : "NOT met")
	}'
}
[[ $runs -eq 0 ]] || end_to_end

# Instructions per request, which unlike time do not move with the load of a
# shared machine: authd again, on the same data, under callgrind; counters
# zeroed before and dumped after one connection's requests to each path (its
# other threads idle meanwhile), after a warm-up of each.
instructions() { # DUMP PATH BODYFILE EXPECT: instructions per request, whole process
	local summary requests

	read -r summary requests < <(callgrind_count "$pid" "$tmp/callgrind.out" "$1" \
		"$gen" "$sock" "$cg_seconds" 1 "${@:2}")
	[[ $requests -gt 0 ]] || die "no requests answered under callgrind on $2"
	echo $((summary / requests))
}
stop_authd
start_authd valgrind --tool=callgrind --callgrind-out-file="$tmp/callgrind.out"
for _ in $(seq 1 100); do
	[[ -S $sock ]] && break
	sleep 0.1
done
"$gen" "$sock" 1 1 "${activate[@]}" "${noop[@]}" "${decide[@]}" >/dev/null
echo "# callgrind: instructions per request, one connection, ${cg_seconds}s per path (authd $(valgrind --version))"
ir_f=$(instructions 1 "${activate[@]}")
ir_n=$(instructions 2 "${noop[@]}")
ir_d=$(instructions 3 "${decide[@]}")
echo "instructions_per_activate=$ir_f (the floor, for reading)"
echo "instructions_per_noop=$ir_n"
echo "instructions_per_decision=$ir_d"
r=$(awk -v d="$ir_d" -v n="$ir_n" 'BEGIN { printf "%.2f", d / n }')
echo "instructions_ratio=$r (decision / no-op; target <= $ir_target: $(verdict "$r" "$ir_target" "<="))"
stop_authd >/dev/null 3>&1
