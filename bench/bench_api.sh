#!/usr/bin/env bash
# Benchmark (not a test): throughput of an authenticated read against /_ping on
# the same server, plus the server's resident memory before and after the load.
# Usage: bench/bench_api.sh [AUTHD_BINARY]   (default: build/authd/authd)
# Env: BENCH_SECONDS (default 10) is the length of each wrk run.
set -euo pipefail

name=bench_api
BENCH_TOOLS=wrk
connections=16
threads=2
target=0.70
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

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
