#!/usr/bin/env bash
# Benchmark (not a test): client bundles issued per second over HTTPS by four
# concurrent clients, beside the raw in-process rate of the same ECDSA P-256
# key generation and signing, and `cfssl serve` when Debian's golang-cfssl is
# installed. Usage: bench/bench_bundles.sh [AUTHD_BINARY]; env BENCH_SECONDS.
set -euo pipefail

name=bench_bundles
target=0.50
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

gen=$(dirname "$bin")/../bench/bench_bundles
[[ -x $gen ]] || die "no load generator at $gen (it is built with authd)"

rate() { cut -d' ' -f1 <<<"$1"; }
failures() { cut -d' ' -f3 <<<"$1"; }

echo "# client bundles: 4 concurrent clients, ${seconds}s per run, $(nproc) CPUs"
raw=$("$gen" --raw "$seconds")
https=$("$gen" --https "$base/api/clientbundle?label=bench" "$token" "$tmp/data/ca/cluster-ca.pem" \
	"$seconds")
ratio=$(awk -v a="$(rate "$https")" -v r="$(rate "$raw")" 'BEGIN { printf "%.2f", (r > 0 ? a / r : 0) }')
met=$(awk -v x="$ratio" -v t="$target" 'BEGIN { print (x + 0 >= t + 0 ? "met" : "NOT met") }')
echo "raw_issue_per_s=$(rate "$raw")"
echo "https_bundles_per_s=$(rate "$https") (failed: $(failures "$https"))"
echo "ratio=$ratio (target >= $target: $met)"

if command -v cfssl >/dev/null && command -v cfssljson >/dev/null; then
	cport=$(free_port)
	(cd "$tmp" && echo '{"CN":"bench CA","key":{"algo":"ecdsa","size":256}}' |
		cfssl gencert -initca - 2>/dev/null | cfssljson -bare ca)
	# cfssl serves HTTPS too, as authd does: a server certificate for 127.0.0.1
	"$bin" engine-tls --data-dir "$tmp/data" --name cfssl --san 127.0.0.1 --mode direct \
		--out "$tmp/cfssl-tls" >/dev/null
	cfssl serve -address 127.0.0.1 -port "$cport" -ca "$tmp/ca.pem" -ca-key "$tmp/ca-key.pem" \
		-tls-cert "$tmp/cfssl-tls/server-cert.pem" -tls-key "$tmp/cfssl-tls/server-key.pem" \
		>"$tmp/cfssl.log" 2>&1 &
	cfssl_pid=$!
	for _ in $(seq 1 100); do
		curl -sf -o /dev/null --cacert "$tmp/cfssl-tls/ca.pem" -d '{}' \
			"https://127.0.0.1:$cport/api/v1/cfssl/info" && break
		sleep 0.1
	done
	cf=$("$gen" --cfssl "https://127.0.0.1:$cport/api/v1/cfssl/newcert" "$tmp/cfssl-tls/ca.pem" \
		"$seconds")
	kill "$cfssl_pid" 2>/dev/null || true
	wait "$cfssl_pid" 2>/dev/null || true
	echo "cfssl_newcert_per_s=$(rate "$cf") (failed: $(failures "$cf"); HTTPS, key and certificate only)"
	awk -v a="$(rate "$https")" -v c="$(rate "$cf")" \
		'BEGIN { printf "authd_vs_cfssl=%.2f (target > 1: %s)\n", (c > 0 ? a / c : 0), (a > c ? "met" : "NOT met") }'
else
	echo "cfssl: not installed (apt-get install golang-cfssl to compare)"
fi
