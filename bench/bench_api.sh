#!/usr/bin/env bash
# Benchmark (not a test): throughput of an authenticated read against /_ping on
# the same server, plus the server's resident memory before and after the load.
# Usage: bench/bench_api.sh [AUTHD_BINARY]   (default: build/authd/authd)
# Env: BENCH_SECONDS (default 10) is the length of each wrk run.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-build/authd/authd}
# a relative path is taken from the current directory, else from the repo root
if [[ ! -x $bin && $bin != /* && -x $repo/$bin ]]; then
	bin=$repo/$bin
fi
seconds=${BENCH_SECONDS:-10}
connections=16
threads=2
target=0.70
password="bench-$RANDOM-$RANDOM-$RANDOM"

die() {
	echo "bench_api: $*" >&2
	exit 1
}

[[ -x $bin ]] || die "no authd binary at \"$bin\" (build it first, or pass its path)"
[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a positive integer, not \"$seconds\""
for tool in wrk curl ss; do
	command -v "$tool" >/dev/null || die "$tool is not installed (Debian: apt-get install $tool)"
done

exec 3>&1 # the real stdout, for the trap (it may fire inside a redirection)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/authd-bench.XXXXXX")
pid=

# Stops authd by its pid (SIGTERM, then wait; SIGKILL after 20 s) and removes
# the temp dir, whether the benchmark got to the end or not.
cleanup() {
	local rc=$?

	trap - EXIT INT TERM
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 200); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "bench_api: authd did not stop on SIGTERM within 20 s; killing it" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
		local status=0
		wait "$pid" 2>/dev/null || status=$?
		echo "authd_exit_status=$status" >&3
	fi
	if [[ $rc -ne 0 && -s $tmp/authd.log ]]; then
		echo "bench_api: last lines of the authd log:" >&2
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

port=$(free_port)
base="https://127.0.0.1:$port"
AUTHD_ADMIN_PASSWORD=$password "$bin" --data-dir "$tmp/data" --listen "127.0.0.1:$port" \
	>"$tmp/authd.log" 2>&1 3>&- &
pid=$!

for i in $(seq 1 300); do
	kill -0 "$pid" 2>/dev/null || die "authd exited during start-up"
	if curl -skf --max-time 2 "$base/_ping" >/dev/null 2>&1; then
		break
	fi
	[[ $i -lt 300 ]] || die "authd did not answer /_ping within 30 s"
	sleep 0.1
done

login=$(curl -sk --max-time 30 -H 'Content-Type: application/json' \
	-d "{\"username\":\"admin\",\"password\":\"$password\"}" "$base/auth/login") ||
	die "login request failed"
token=$(sed -n 's/.*"auth_token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' <<<"$login")
[[ -n $token ]] || die "login as admin gave no auth_token: $login"

auth_url="$base/enzi/v0/accounts/admin"
status=$(curl -sk --max-time 10 -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer $token" "$auth_url")
[[ $status == 200 ]] || die "GET /enzi/v0/accounts/admin answered $status, not 200"

sleep 1 # let start-up settle before reading the idle footprint
idle_rss=$(rss_kib)

# Counts non-2xx answers per wrk thread and sums them at the end; prints the
# figures as key=value lines for the parsing below.
cat >"$tmp/count.lua" <<'EOF'
local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	non2xx = 0
end

function response(status, headers, body)
	if status < 200 or status > 299 then
		non2xx = non2xx + 1
	end
end

function done(summary, latency, requests)
	local n = 0
	for _, t in ipairs(threads) do
		n = n + t:get("non2xx")
	end
	local e = summary.errors
	io.write(string.format("wrk_requests=%d\n", summary.requests))
	io.write(string.format("wrk_rps=%.1f\n", summary.requests / (summary.duration / 1e6)))
	io.write(string.format("wrk_non2xx=%d\n", n))
	io.write(string.format("wrk_socket_errors=%d\n",
		e.connect + e.read + e.write + e.timeout))
	io.write(string.format("wrk_p50_ms=%.2f\n", latency:percentile(50) / 1000))
	io.write(string.format("wrk_p99_ms=%.2f\n", latency:percentile(99) / 1000))
end
EOF

# run_wrk NAME URL [wrk args...]: runs wrk and prints NAME_* figures.
run_wrk() {
	local name=$1 url=$2 out
	shift 2

	out=$(wrk -t"$threads" -c"$connections" -d"${seconds}s" -s "$tmp/count.lua" "$@" "$url") ||
		die "wrk failed against $url"
	echo "$out" >"$tmp/wrk-$name.txt"
	grep -q '^wrk_rps=' <<<"$out" || die "wrk printed no figures: $out"
	sed -n "s/^wrk_/${name}_/p" <<<"$out"
}

field() {
	sed -n "s/^$1=//p" "$tmp/figures"
}

echo "# authd API benchmark: $threads wrk threads, $connections keep-alive connections," \
	"${seconds}s per run, $(nproc) CPUs shared by wrk and authd"
echo "binary=$bin"
{
	run_wrk ping "$base/_ping"
	run_wrk auth_read "$auth_url" -H "Authorization: Bearer $token"
} >"$tmp/figures"
loaded_rss=$(rss_kib)

ping_rps=$(field ping_rps)
auth_rps=$(field auth_read_rps)
ratio=$(awk -v a="$auth_rps" -v p="$ping_rps" 'BEGIN { printf "%.2f", (p > 0 ? a / p : 0) }')
met=$(awk -v r="$ratio" -v t="$target" 'BEGIN { print (r + 0 >= t + 0 ? "met" : "NOT met") }')

echo "ping_rps=$ping_rps"
echo "auth_read_rps=$auth_rps"
echo "ratio=$ratio (target >= $target: $met)"
echo "idle_rss_kib=$idle_rss"
echo "loaded_rss_kib=$loaded_rss"
echo "ping_non2xx=$(field ping_non2xx)"
echo "auth_read_non2xx=$(field auth_read_non2xx)"
echo "ping_socket_errors=$(field ping_socket_errors)"
echo "auth_read_socket_errors=$(field auth_read_socket_errors)"
echo "ping_latency_ms=p50 $(field ping_p50_ms) p99 $(field ping_p99_ms)"
echo "auth_read_latency_ms=p50 $(field auth_read_p50_ms) p99 $(field auth_read_p99_ms)"
if [[ $(field ping_non2xx) != 0 || $(field auth_read_non2xx) != 0 ]]; then
	echo "bench_api: warning: some answers were not 2xx; the rps figures include them" >&2
fi
