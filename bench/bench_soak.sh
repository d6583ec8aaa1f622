#!/usr/bin/env bash
# Benchmark (not a test): a soak of authd with logins, authenticated reads and
# authorization decisions at once, its resident memory sampled every second,
# against the /_ping rate of the same server as the reference.
# Usage: bench/bench_soak.sh [AUTHD_BINARY]   (default: build/authd/authd)
# Env: BENCH_SECONDS (default 60) is the length of the soak; BENCH_REF_SECONDS
# (default 10) that of the /_ping reference run before it.
set -euo pipefail

name=bench_soak
BENCH_TOOLS=wrk
BENCH_SECONDS=${BENCH_SECONDS:-60}
ref_seconds=${BENCH_REF_SECONDS:-10}
connections=64 # in all: split about evenly between the three endpoints
rss_growth_target=5
user_password="soak-$RANDOM-$RANDOM-pass"
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

[[ $seconds -ge 12 ]] || die "BENCH_SECONDS must be 12 or more: memory is compared from the 10th second on"

api() { # METHOD PATH [BODY]: an admin call; prints the answer, fails on a non-2xx
	curl -skf --max-time 30 -X "$1" -H "Authorization: Bearer $token" \
		-H 'Content-Type: application/json' ${3:+-d "$3"} "$base$2" ||
		die "$1 $2 failed"
}

# alice: no admin, restrictedcontrol on /Shared, so that decisions about her
# go through the grants (an admin is allowed everything without looking).
alice=$(api POST /enzi/v0/accounts \
	"{\"name\":\"alice\",\"fullName\":\"Alice\",\"password\":\"$user_password\"}")
alice_id=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' <<<"$alice")
api PUT "/collectionGrants/$alice_id/shared/restrictedcontrol" >/dev/null
user_token=$(curl -sk --max-time 30 -H 'Content-Type: application/json' \
	-d "{\"username\":\"alice\",\"password\":\"$user_password\"}" "$base/auth/login" |
	sed -n 's/.*"auth_token":"\([^"]*\)".*/\1/p')
[[ -n $user_token ]] || die "alice cannot log in"

# What every wrk run counts: non-2xx, 5xx and 429 answers, and for decisions
# how many allowed; printed as key=value lines for the parsing below.
cat >"$tmp/count.lua" <<'EOF'
local threads = {}

-- each thread counts in its own Lua state; done() reads the counts through these
function setup(thread)
	threads[#threads + 1] = thread
end

function init(args)
	counts = {non2xx = 0, s5xx = 0, s429 = 0, allowed = 0}
end

function response(status, headers, body)
	local c = counts
	if status < 200 or status > 299 then
		c.non2xx = c.non2xx + 1
	end
	if status >= 500 then
		c.s5xx = c.s5xx + 1
	elseif status == 429 then
		c.s429 = c.s429 + 1
	elseif status == 200 and decisions and body:find('"allow":true', 1, true) then
		c.allowed = c.allowed + 1
	end
end

function done(summary, latency, requests)
	local e, sum = summary.errors, {non2xx = 0, s5xx = 0, s429 = 0, allowed = 0}
	for _, t in ipairs(threads) do
		for k, v in pairs(t:get("counts")) do
			sum[k] = sum[k] + v
		end
	end
	local figures = {
		{"requests", summary.requests},
		{"rps", string.format("%.1f", summary.requests / (summary.duration / 1e6))},
		{"non2xx", sum.non2xx}, {"5xx", sum.s5xx}, {"429", sum.s429}, {"allowed", sum.allowed},
		{"socket_errors", e.connect + e.read + e.write + e.timeout},
		{"socket_errors_by_kind", string.format("connect %d read %d write %d timeout %d",
			e.connect, e.read, e.write, e.timeout)},
		{"p50_ms", string.format("%.2f", latency:percentile(50) / 1000)},
		{"p99_ms", string.format("%.2f", latency:percentile(99) / 1000)},
	}
	for _, f in ipairs(figures) do
		io.write("wrk_" .. f[1] .. "=" .. f[2] .. "\n")
	end
end
EOF

# The login: alice's right password, so the throttle (failures only) never counts it.
{
	echo 'wrk.method = "POST"'
	echo 'wrk.headers["Content-Type"] = "application/json"'
	echo "wrk.body = '{\"username\":\"alice\",\"password\":\"$user_password\"}'"
	cat "$tmp/count.lua"
} >"$tmp/login.lua"

# Decisions alternate: alice listing volumes (allowed by her grant) and alice
# creating a privileged container (denied: restrictedcontrol has no Privileged).
# Both answer 200; allow says which.
privileged=$(printf '{"Image":"x","HostConfig":{"Privileged":true}}' | base64 -w0)
{
	echo 'decisions = true'
	echo 'local reqs, n = {}, 0'
	echo 'function request()'
	echo '	if #reqs == 0 then'
	echo "		local h = {[\"Authorization\"] = \"Bearer $token\", [\"Content-Type\"] = \"application/json\"}"
	echo "		reqs[1] = wrk.format(\"POST\", \"/api/authz\", h, '{\"account\":\"alice\",\"method\":\"GET\",\"uri\":\"/v1.41/volumes\"}')"
	echo "		reqs[2] = wrk.format(\"POST\", \"/api/authz\", h, '{\"account\":\"alice\",\"method\":\"POST\",\"uri\":\"/v1.41/containers/create\",\"body\":\"$privileged\"}')"
	echo '	end'
	echo '	n = n + 1'
	echo '	return reqs[n % 2 + 1]'
	echo 'end'
	cat "$tmp/count.lua"
} >"$tmp/authz.lua"

# wrk NAME CONNECTIONS SECONDS URL [wrk args...]: one wrk thread; its figures go to
# $tmp/NAME.out as NAME_* lines. --timeout 10s: a slow answer shows in p99, not as an error.
run_wrk() {
	local name=$1 conns=$2 secs=$3 url=$4
	shift 4

	wrk -t1 -c"$conns" -d"${secs}s" --timeout 10s "$@" "$url" >"$tmp/$name.wrk" 2>&1 ||
		die "wrk failed against $url: $(tail -n 3 "$tmp/$name.wrk")"
	grep -q '^wrk_rps=' "$tmp/$name.wrk" || die "wrk printed no figures: $(cat "$tmp/$name.wrk")"
	sed -n "s/^wrk_/${name}_/p" "$tmp/$name.wrk" >"$tmp/$name.out"
}

# Samples VmRSS once a second as "SECONDS KIB" lines until authd or the soak ends.
sample_rss() {
	local start=$EPOCHREALTIME

	while kill -0 "$pid" 2>/dev/null && [[ -e $tmp/soaking ]]; do
		echo "$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }') $(rss_kib)"
		sleep 1
	done >"$tmp/rss.txt"
}

# The RSS sampled at second $1 (the first sample at or after it).
# The floor of the samples in the 5 s up to second $1: each login in progress
# holds a 19 MiB argon2 buffer (one per CPU at most) for a tenth of a second,
# so a single sample moves by tens of MB; a leak raises the floor.
rss_at() {
	awk -v s="$1" '$1 > s - 5 && $1 <= s + 0.5 && (m == "" || $2 < m) { m = $2 } END { print m }' \
		"$tmp/rss.txt"
}

growth_pct() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 100 / a }'
}

field() { # NAME: a figure of the reference or of the soak (not of the warm-up's warm_*)
	sed -n "s/^$1=//p" "$tmp"/[!w]*.out | head -n 1
}

echo "# authd soak: logins, reads and decisions at once on $connections keep-alive HTTPS" \
	"connections, ${seconds}s, $(nproc) CPUs shared by wrk and authd"
echo "binary=$bin"

# The reference first, alone: the cheapest HTTPS request at the same concurrency.
run_wrk ping "$connections" "$ref_seconds" "$base/_ping" -s "$tmp/count.lua"

# mixed_load SECONDS PREFIX: the three endpoints at once, about a third of the
# connections each; their figures go to $tmp/PREFIX{login,read,authz}.out.
mixed_load() {
	local secs=$1 prefix=$2 jobs=() status=0

	run_wrk "${prefix}login" $((connections - 2 * (connections / 3))) "$secs" \
		"$base/auth/login" -s "$tmp/login.lua" &
	jobs+=($!)
	run_wrk "${prefix}read" $((connections / 3)) "$secs" "$base/enzi/v0/accounts/alice" \
		-H "Authorization: Bearer $user_token" -s "$tmp/count.lua" &
	jobs+=($!)
	run_wrk "${prefix}authz" $((connections / 3)) "$secs" "$base/api/authz" -s "$tmp/authz.lua" &
	jobs+=($!)
	for job in "${jobs[@]}"; do
		wait "$job" || status=1
	done
	[[ $status -eq 0 ]] || die "a wrk run failed"
	kill -0 "$pid" 2>/dev/null || die "authd died under load"
}

# Memory retained is compared from a warm server (every handler thread has
# run each endpoint), so that what a first use allocates once is not counted.
mixed_load 5 warm_
sleep 3 # the last logins' argon2 buffers are freed, the connections closed
idle_before=$(rss_kib)
touch "$tmp/soaking"
sample_rss &
sampler=$!
mixed_load "$seconds" ""
rm -f "$tmp/soaking"
wait "$sampler" || true
sleep 3
idle_after=$(rss_kib)

rss_first=$(rss_at 10)
rss_last=$(rss_at "$seconds")
rss_last=${rss_last:-$(tail -n 1 "$tmp/rss.txt" | cut -d' ' -f2)}
[[ -n $rss_first && -n $rss_last ]] || die "too few memory samples: $(wc -l <"$tmp/rss.txt")"
growth=$(growth_pct "$rss_first" "$rss_last")
retained=$(growth_pct "$idle_before" "$idle_after")
rss_peak=$(sort -k2 -n "$tmp/rss.txt" | tail -n 1 | cut -d' ' -f2)

echo "reference_ping_rps=$(field ping_rps) (/_ping alone, $connections connections, ${ref_seconds}s)"
echo "reference_ping_latency_ms=p50 $(field ping_p50_ms) p99 $(field ping_p99_ms)"
total_rps=0
errors=0
non2xx=0
for ep in login read authz; do
	echo "${ep}_rps=$(field "${ep}_rps")"
	echo "${ep}_latency_ms=p50 $(field "${ep}_p50_ms") p99 $(field "${ep}_p99_ms")"
	echo "${ep}_requests=$(field "${ep}_requests") non2xx=$(field "${ep}_non2xx")" \
		"5xx=$(field "${ep}_5xx") 429=$(field "${ep}_429")" \
		"socket_errors=$(field "${ep}_socket_errors") ($(field "${ep}_socket_errors_by_kind"))"
	total_rps=$(awk -v a="$total_rps" -v b="$(field "${ep}_rps")" 'BEGIN { print a + b }')
	errors=$((errors + $(field "${ep}_socket_errors")))
	non2xx=$((non2xx + $(field "${ep}_non2xx")))
done
echo "authz_allowed=$(field authz_allowed) of $(field authz_requests) (half are meant to be denied)"
echo "total_rps=$total_rps ($(awk -v t="$total_rps" -v p="$(field ping_rps)" \
	'BEGIN { printf "%.2f", (p > 0 ? t / p : 0) }') of the /_ping rate)"
echo "rss_10s_kib=$rss_first"
echo "rss_${seconds}s_kib=$rss_last"
echo "rss_peak_kib=$rss_peak"
echo "rss_growth_pct=$growth"
echo "rss_idle_kib=$idle_before before the soak, $idle_after 3 s after it"
echo "rss_retained_pct=$retained"

verdict() { # NAME OK(0|1) TEXT...
	if [[ $2 == 1 ]]; then
		echo "PASS $1: ${*:3}"
	else
		echo "FAIL $1: ${*:3}"
		failed=1
	fi
}
failed=0
below() { # VALUE LIMIT: 1 when VALUE < LIMIT
	awk -v v="$1" -v t="$2" 'BEGIN { print (v < t) }'
}
verdict rss_growth "$(below "$growth" "$rss_growth_target")" \
	"$growth% from the 10th to the ${seconds}th second (target < $rss_growth_target%)"
verdict rss_retained "$(below "$retained" "$rss_growth_target")" \
	"$retained% idle after the soak over idle before it (target < $rss_growth_target%)"
verdict socket_errors "$((errors == 0))" "$errors (target 0)"
verdict non2xx "$((non2xx == 0))" "$non2xx, of them 429 $(($(field login_429) + $(field read_429) + \
	$(field authz_429))) and 5xx $(($(field login_5xx) + $(field read_5xx) + $(field authz_5xx))) (target 0)"
exit "$failed"
