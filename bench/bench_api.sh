#!/usr/bin/env bash
# Benchmark (not a test): throughput of an authenticated read against /_ping on
# the same server, plus the server's resident memory before and after the load,
# and logins; then the same on the PostgreSQL store, beside the SQLite store's.
# Usage: bench/bench_api.sh [AUTHD_BINARY]   (default: build/authd/authd)
# Env: BENCH_SECONDS (default 10) is the length of each wrk run; BENCH_PG_SETTINGS
# the PostgreSQL server's settings (postgres -c options); BENCH_PG=0 skips it.
set -euo pipefail

name=bench_api
BENCH_TOOLS=wrk
connections=16
threads=2
target=0.70
login_connections=4 # argon2id: authd hashes one password per CPU at a time
pg_read_target=0.80  # PostgreSQL's authenticated reads over SQLite's
pg_login_target=0.90 # and its logins
# a server as an operator's: every commit flushed to disk (Debian's defaults)
pg_settings=${BENCH_PG_SETTINGS:-"-c fsync=on -c synchronous_commit=on -c full_page_writes=on"}
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

# The same for logins as admin, with the right password.
{
	echo 'wrk.method = "POST"'
	echo "wrk.body = '{\"username\":\"admin\",\"password\":\"$password\"}'"
	echo 'wrk.headers["Content-Type"] = "application/json"'
	cat "$tmp/count.lua"
} >"$tmp/login.lua"

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

field() { # NAME [FILE]
	sed -n "s/^$1=//p" "${2:-$tmp/figures}"
}

# The three runs against the running authd, into FILE.
measure() { # FILE
	auth_url="$base/enzi/v0/accounts/admin" # $base moves with each start
	{
		run_wrk ping "$base/_ping"
		run_wrk auth_read "$auth_url" -H "Authorization: Bearer $token"
		run_wrk login "$base/auth/login" -c"$login_connections" -s "$tmp/login.lua"
	} >"$1"
}

echo "# authd API benchmark: $threads wrk threads, $connections keep-alive connections," \
	"${seconds}s per run, $(nproc) CPUs shared by wrk and authd"
echo "binary=$bin"
echo "sqlite_settings=journal_mode=WAL synchronous=NORMAL (authd's own, store/sqlite)"
measure "$tmp/figures"
loaded_rss=$(rss_kib)

ping_rps=$(field ping_rps)
auth_rps=$(field auth_read_rps)
ratio=$(ratio_of "$auth_rps" "$ping_rps")
met=$(met_of "$ratio" "$target")

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
echo "login_rps=$(field login_rps) ($login_connections connections; non2xx $(field login_non2xx)," \
	"socket errors $(field login_socket_errors), p50 $(field login_p50_ms) ms)"
if [[ $(field ping_non2xx) != 0 || $(field auth_read_non2xx) != 0 ]]; then
	echo "bench_api: warning: some answers were not 2xx; the rps figures include them" >&2
fi

# ---- PostgreSQL beside SQLite: a cluster of the integration tests' harness ----
# A second authd on the PostgreSQL store runs beside the first, and the two are
# loaded in turn, $slice seconds each, so that both see the same moments of the
# machine's load; each one's rate is its requests over its seconds.
[[ ${BENCH_PG:-1} != 0 ]] || exit 0
if ! pg_available; then
	echo "pg: not measured (it_pgcluster is not built, or Debian's postgresql is not installed)"
	exit 0
fi
# a login takes a few hundred ms of hashing: its slices are longer, so that the
# connections' first logins (started, not yet answered) weigh less
read_slice=2
login_slice=5
pg_pid=
bench_cleanup() {
	if [[ -n $pg_pid ]]; then
		pid=$pg_pid
		stop_authd
	fi
	pg_stop
}
# shellcheck disable=SC2086 # the settings are several words
pg_start $pg_settings
shown=$(psql "$dsn" -Atc "SELECT string_agg(name || '=' || current_setting(name), ' '
	ORDER BY name) FROM pg_settings WHERE name IN ('server_version', 'fsync',
	'synchronous_commit', 'full_page_writes', 'wal_level', 'shared_buffers')" 2>&1) ||
	shown="(could not be read)"
echo "pg_settings=$shown"
(
	umask 077 # the DSN holds the role's password
	printf '{"store": {"driver": "postgres", "dsn": "%s"%s}}\n' "$dsn" \
		"${BENCH_PG_POOL:+, \"maxConnections\": $BENCH_PG_POOL}" >"$tmp/pg.json"
)
lite_pid=$pid lite_base=$base lite_token=$token
AUTHD_CONFIG=$tmp/pg.json data_dir=$tmp/data-pg start_authd
admin_login
pg_pid=$pid pg_base=$base pg_token=$token
pid=$lite_pid

# wrk_slice read|login BASE TOKEN: one slice; prints "requests seconds non2xx socket_errors".
wrk_slice() {
	local out
	if [[ $1 == read ]]; then
		out=$(wrk -t"$threads" -c"$connections" -d"${read_slice}s" -s "$tmp/count.lua" \
			-H "Authorization: Bearer $3" "$2/enzi/v0/accounts/admin") || die "wrk failed"
	else
		out=$(wrk -t"$threads" -c"$login_connections" -d"${login_slice}s" -s "$tmp/login.lua" \
			"$2/auth/login") || die "wrk failed"
	fi
	awk -F= '{ v[$1] = $2 } END { printf "%d %.3f %d %d\n", v["wrk_requests"],
		(v["wrk_rps"] > 0 ? v["wrk_requests"] / v["wrk_rps"] : 0), v["wrk_non2xx"],
		v["wrk_socket_errors"] }' <<<"$out"
}

# The floor of a read on PostgreSQL: the lookup the read makes (store_accounts.c's
# store_account_get, prepared, its key bound) alone, by pgbench on as many connections
# as wrk's. Its CPU time per query is what one round trip adds to a read on this
# machine, the client's libpq side included.
cat >"$tmp/lookup.sql" <<'EOF'
SELECT a.id, a.name, a.full_name, a.ldap_dn, a.is_org, a.is_admin, a.is_active, a.is_imported,
 a.created_at, a.updated_at, 0, 0, a.ldap_missing, a.ldap_id FROM accounts a
 WHERE a.id = :key OR a.name = :key;
EOF
pgbench=/usr/lib/postgresql/15/bin/pgbench
# floor_slice: one slice of the lookup; prints "queries seconds 0 0" as wrk_slice does.
floor_slice() {
	local out
	out=$("$pgbench" -n -M prepared -c"$connections" -j"$threads" -T"$read_slice" \
		-D key=admin -f "$tmp/lookup.sql" "$dsn" 2>&1) || die "pgbench failed: $out"
	awk -v s="$read_slice" '/^tps = / { printf "%d %d 0 0\n", $3 * s, s }' <<<"$out"
}

# alternate read|login SLICE: the rounds, SQLite then PostgreSQL (then, for reads, the
# lookup's floor), $seconds (at least two slices) on each; prints each one's rate and
# the errors of the first two.
alternate() {
	local i rounds=$(((seconds + $2 - 1) / $2))
	((rounds >= 2)) || rounds=2
	for ((i = 0; i < rounds; i++)); do
		echo "sqlite $(wrk_slice "$1" "$lite_base" "$lite_token")"
		echo "pg $(wrk_slice "$1" "$pg_base" "$pg_token")"
		[[ $1 != read ]] || echo "floor $(floor_slice)"
	done | awk '{ r[$1] += $2; t[$1] += $3; e[$1] += $4 + $5 }
		END { printf "%.1f %.1f %d %.1f\n", (t["sqlite"] > 0 ? r["sqlite"] / t["sqlite"] : 0),
			(t["pg"] > 0 ? r["pg"] / t["pg"] : 0), e["sqlite"] + e["pg"],
			(t["floor"] > 0 ? r["floor"] / t["floor"] : 0) }'
}

read -r lite_read pg_read read_errors lookup_qps < <(alternate read "$read_slice")
read -r lite_login pg_login login_errors _ < <(alternate login "$login_slice")
read_vs=$(ratio_of "$pg_read" "$lite_read")
login_vs=$(ratio_of "$pg_login" "$lite_login")
# A read on PostgreSQL costs at least a SQLite read's CPU time plus one lookup's:
# 1/best = 1/sqlite + 1/lookup, so the best ratio is lookup / (sqlite + lookup).
floor_vs=$(awk -v l="$lookup_qps" -v s="$lite_read" 'BEGIN {
	printf "%.2f", (l + s > 0 ? l / (l + s) : 0) }')
echo "alternating: slices of ${read_slice}s (reads) and ${login_slice}s (logins), SQLite then" \
	"PostgreSQL, ${seconds}s or two slices on each"
echo "alt_auth_read_rps=sqlite $lite_read pg $pg_read (non-2xx and socket errors: $read_errors)"
echo "alt_login_rps=sqlite $lite_login pg $pg_login (non-2xx and socket errors: $login_errors)"
echo "pg_lookup_qps=$lookup_qps (the read's one query alone: pgbench, prepared, $connections connections)"
echo "pg_vs_sqlite_auth_read=$read_vs (target >= $pg_read_target: $(met_of "$read_vs" "$pg_read_target");" \
	"best possible with one lookup a read: $floor_vs)"
echo "pg_vs_sqlite_login=$login_vs (target >= $pg_login_target: $(met_of "$login_vs" "$pg_login_target"))"
