#!/usr/bin/env bash
# Benchmark (not a test): authorization decisions on the plugin's TLS listener
# (authz.listen) through haproxy in front of three authd replicas on one
# PostgreSQL store, beside the same decisions sent to one of the replicas
# directly, in one run: what the load balancer and a cluster cost.
# Usage: bench/bench_cluster.sh [AUTHD_BINARY]; env BENCH_SECONDS (default 10).
set -euo pipefail

name=bench_cluster
threads=32
target=0.80
export BENCH_TOOLS="haproxy unzip base64 openssl valgrind callgrind_control"
export BENCH_START_LATER=1
PATH=$PATH:/usr/sbin # Debian's haproxy
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

gen=$(dirname "$bin")/../bench/bench_authz
[[ -x $gen ]] || die "no load generator at $gen (it is built with authd)"
pg_available || die "needs it_pgcluster (built with the tests) and Debian's postgresql"
cfg_template=$repo/etc/haproxy.cfg
[[ -r $cfg_template ]] || die "no $cfg_template"

replica_pids=()
hp_pid=
# Stops haproxy, the replicas and PostgreSQL, by pid.
bench_cleanup() {
	local p

	if [[ -n $hp_pid ]]; then
		kill -TERM "$hp_pid" 2>/dev/null || true
		wait "$hp_pid" 2>/dev/null || true
	fi
	for p in "${replica_pids[@]}"; do
		pid=$p
		stop_authd
	done
	pg_stop
}

# Starts haproxy on CONFIG, under WRAPPER when given, and waits until the
# replicas are in service (two health checks a second apart).
start_haproxy() { # CONFIG [WRAPPER...]
	local i config=$1

	shift
	"$@" haproxy -db -f "$config" >>"$tmp/haproxy.log" 2>&1 3>&- &
	hp_pid=$!
	for i in $(seq 1 300); do
		kill -0 "$hp_pid" 2>/dev/null || die "haproxy exited: $(tail -5 "$tmp/haproxy.log")"
		curl -sf --max-time 2 --cacert "$tmp/haproxy-ca.pem" "https://127.0.0.1:$hp_api/_ping" >/dev/null 2>&1 && break
		[[ $i -lt 300 ]] || die "nothing answered /_ping through haproxy within 30 s"
		sleep 0.1
	done
	sleep 3
}

# ---- the store and three replicas sharing its CAs (store.keyFile) ----
# shellcheck disable=SC2119 # the server's default settings
pg_start
(umask 077 && openssl rand -hex 32 >"$tmp/store.key")
api_ports=()
plugin_ports=()
# Replica $replica's config, with a plugin port of its own (start_authd calls it before each try).
bench_before_start() {
	plugin_ports[replica - 1]=$(free_port)
	(
		umask 077 # the DSN holds the role's password
		printf '{"store":{"driver":"postgres","dsn":"%s","keyFile":"%s"},"authz":{"listen":"127.0.0.1:%s"},"replica":{"name":"bench-%s"}}\n' \
			"$dsn" "$tmp/store.key" "${plugin_ports[replica - 1]}" "$replica" >"$tmp/replica$replica.json"
	)
}
for replica in 1 2 3; do
	# the first makes the CAs in the store, the others read them
	AUTHD_CONFIG=$tmp/replica$replica.json data_dir=$tmp/data$replica start_authd
	replica_pids+=("$pid")
	api_ports+=("$port")
	pid= # stopped by bench_cleanup, with the others
done
unset -f bench_before_start # replica 1's restart under callgrind keeps its plugin port
data_dir=$tmp/data1
base=https://127.0.0.1:${api_ports[0]}
admin_login
authz_request
"$bin" engine-tls --config "$tmp/replica1.json" --data-dir "$tmp/data1" --plugin-client \
	--name bench-engine --out "$tmp/plugin" >"$tmp/engine-tls.log" 2>&1 ||
	die "authd engine-tls failed: $(cat "$tmp/engine-tls.log")"

# ---- haproxy: the project's etc/haproxy.cfg, its addresses and paths replaced ----
hp_api=$(free_port)
hp_plugin=$(free_port)
cp "$tmp/data1/ca/cluster-ca.pem" "$tmp/haproxy-ca.pem"
sed_args=(-e '/^[[:space:]]*log \/dev\/log/d'
	-e "s|bind :8443|bind 127.0.0.1:$hp_api|" -e "s|bind :8444|bind 127.0.0.1:$hp_plugin|"
	-e "s|/etc/haproxy/authd-ca.pem|$tmp/haproxy-ca.pem|")
for i in 1 2 3; do
	sed_args+=(-e "s|10\.0\.0\.1$i:8443|127.0.0.1:${api_ports[i - 1]}|"
		-e "s|10\.0\.0\.1$i:8444 check port 8443|127.0.0.1:${plugin_ports[i - 1]} check port ${api_ports[i - 1]}|")
done
sed "${sed_args[@]}" "$cfg_template" >"$tmp/haproxy.cfg"
! grep -q '10\.0\.0\.\|:844[34]\b' "$tmp/haproxy.cfg" || die "etc/haproxy.cfg changed: $tmp/haproxy.cfg still names the template's addresses"
haproxy -c -q -f "$tmp/haproxy.cfg" >"$tmp/haproxy-check.log" 2>&1 ||
	die "haproxy refuses the config: $(cat "$tmp/haproxy-check.log")"
start_haproxy "$tmp/haproxy.cfg"

# Decisions each replica counted (/metrics), one line "n1 n2 n3".
decisions_per_replica() {
	local i counts=()

	for i in 0 1 2; do
		counts+=("$(curl -sSf --max-time 10 --cacert "$tmp/haproxy-ca.pem" -H "Authorization: Bearer $token" \
			"https://127.0.0.1:${api_ports[i]}/metrics" |
			awk '/^authd_authz_decisions_total[{ ]/ { n += $NF } END { printf "%d", n }')")
	done
	echo "${counts[*]}"
}

# The generator's figure NAME on its output's line N (the targets' order).
figure() { # N NAME OUTPUT
	awk -v n="$1" -v k="$2" 'NR == n { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' <<<"$3"
}

direct=("https://127.0.0.1:${plugin_ports[0]}/AuthZPlugin.AuthZReq" "$tmp/authzreq.json" '"Allow":true')
proxied=("https://127.0.0.1:$hp_plugin/AuthZPlugin.AuthZReq" "$tmp/authzreq.json" '"Allow":true')

# The two in turn, a second each, so that both see the same moments of the
# machine's load: every thread keeps a TLS connection to each, made once.
echo "# decisions on authz.listen (TLS, the engine's client certificate): $threads keep-alive" \
	"connections, ${seconds}s each to replica 1 directly and through haproxy to 3 replicas, $(nproc) CPUs"
before=$(decisions_per_replica)
out=$("$gen" "tls:$tmp/plugin" "$seconds" "$threads" "${direct[@]}" "${proxied[@]}")
after=$(decisions_per_replica)
d_rate=$(figure 1 rate "$out")
p_rate=$(figure 2 rate "$out")
echo "direct_decisions_per_s=$d_rate (p50 $(figure 1 p50_us "$out") us, p99 $(figure 1 p99_us "$out") us," \
	"failures $(figure 1 failures "$out"); the reference: one replica, no load balancer)"
echo "haproxy_decisions_per_s=$p_rate (p50 $(figure 2 p50_us "$out") us, p99 $(figure 2 p99_us "$out") us," \
	"failures $(figure 2 failures "$out"))"
r=$(ratio_of "$p_rate" "$d_rate")
echo "cluster_ratio=$r (through haproxy / directly; target >= $target: $(met_of "$r" "$target"))"
# replica 1 also answered the direct requests: they are taken off its count
read -r -a b <<<"$before"
read -r -a a <<<"$after"
echo "haproxy_share=replica1 $((a[0] - b[0] - $(figure 1 requests "$out"))) replica2 $((a[1] - b[1]))" \
	"replica3 $((a[2] - b[2])) (decisions each replica answered through haproxy)"

# One connection: the latency the extra hop adds, without queueing for the CPUs.
echo "# one connection, $(((seconds + 1) / 2))s each"
out=$("$gen" "tls:$tmp/plugin" "$(((seconds + 1) / 2))" 1 "${direct[@]}" "${proxied[@]}")
echo "direct_1conn_p50_us=$(figure 1 p50_us "$out") (p99 $(figure 1 p99_us "$out") us," \
	"$(figure 1 rate "$out") per s)"
echo "haproxy_1conn_p50_us=$(figure 2 p50_us "$out") (p99 $(figure 2 p99_us "$out") us," \
	"$(figure 2 rate "$out") per s)"

# ---- instructions per decision (callgrind): haproxy's, beside a replica's ----
cg_seconds=4
# haproxy's instructions per decision passed through, under one connection's
# decisions. Its health checks (a TLS handshake with each replica for each
# backend every second) would count too, a few per second beside thousands of
# decisions yet tens of millions of instructions, and not evenly from one
# window to the next: in this run they are an hour apart.
sed 's/ inter 1s / inter 1h /' "$tmp/haproxy.cfg" >"$tmp/haproxy-cg.cfg"
grep -q ' inter 1h ' "$tmp/haproxy-cg.cfg" || die "etc/haproxy.cfg changed: no 'inter 1s' to lengthen"
kill -TERM "$hp_pid" 2>/dev/null
wait "$hp_pid" 2>/dev/null || true
hp_pid=
start_haproxy "$tmp/haproxy-cg.cfg" valgrind --tool=callgrind --callgrind-out-file="$tmp/haproxy.callgrind"
"$gen" "tls:$tmp/plugin" 1 1 "${proxied[@]}" >/dev/null # warm-up
read -r busy n < <(callgrind_count "$hp_pid" "$tmp/haproxy.callgrind" 1 \
	"$gen" "tls:$tmp/plugin" "$cg_seconds" 1 "${proxied[@]}")
[[ ${n:-0} -gt 0 ]] || die "no decision answered through haproxy under callgrind"
hp_ir=$((busy / n)) hp_n=$n
# The same replica's, every thread, for a decision over TLS; replica 1 again, under callgrind.
pid=${replica_pids[0]}
stop_authd
AUTHD_CONFIG=$tmp/replica1.json data_dir=$tmp/data1 start_authd valgrind --tool=callgrind \
	--callgrind-out-file="$tmp/authd.callgrind"
replica_pids[0]=$pid
pid=
"$gen" "tls:$tmp/plugin" 1 1 "${direct[@]}" >/dev/null # warm-up
# Its background work is counted idle for as long and taken off: the
# once-a-second tick and the change follower's polls, and now and then much
# more (the snapshot's one-minute resync), which lands in one window or
# another: of three windows of each, the least.
least=
for k in 1 2 3; do
	read -r c _ < <(callgrind_count "${replica_pids[0]}" "$tmp/authd.callgrind" "$k" sleep "$cg_seconds")
	[[ -n $c ]] || die "no callgrind figure for replica 1"
	[[ -n $least && $least -le $c ]] || least=$c
done
idle=$least least=
for k in 4 5 6; do
	read -r c n < <(callgrind_count "${replica_pids[0]}" "$tmp/authd.callgrind" "$k" \
		"$gen" "tls:$tmp/plugin" "$cg_seconds" 1 "${direct[@]}")
	[[ ${n:-0} -gt 0 ]] || die "no decision answered by replica 1 under callgrind"
	c=$(((c - idle) / n))
	[[ -n $least && $least -le $c ]] || least=$c
done
authd_ir=$least
echo "# callgrind: instructions per decision, one connection, ${cg_seconds}s ($(valgrind --version))"
echo "instructions_per_decision_authd=$authd_ir (replica 1, every thread: TLS, HTTP, JSON, the" \
	"decision; the least of three windows, net of $((idle / cg_seconds)) instructions a second idle)"
echo "instructions_per_decision_haproxy=$hp_ir (haproxy passing one through, every thread;" \
	"$hp_n decisions; $(ratio_of "$hp_ir" "$authd_ir") of a replica's)"
