#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang, ASan and UBSan in build-fuzz,
# runs each for SECONDS (default 60) over a scratch copy of its seed corpus, and
# prints each one's executions and rate. Exits non-zero if any target crashes.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -eq 0 ]; then
	echo "usage: scripts/fuzz.sh [SECONDS]   (each target runs this long; default 60)" >&2
	exit 2
fi
scripts/install-deps.sh --test

build=build-fuzz
CC=clang cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DAUTHD_FUZZ=ON \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzzers -j"$(nproc)"

# Runs write new inputs and crash files here, never into fuzz/corpus: the
# committed seeds change only by hand (fuzz/README.md).
runs="$build/fuzz-runs"
rm -rf "$runs"
failed=()
printf '%-14s %14s %10s  %s\n' target executions exec/s result
for bin in "$build"/fuzz/fuzz_*; do
	[ -x "$bin" ] && [ -f "$bin" ] || continue
	t=${bin##*/fuzz_}
	work="$runs/$t"
	mkdir -p "$work/corpus" "$work/crashes" "$work/tmp"
	if [ -d "fuzz/corpus/$t" ]; then
		cp -R "fuzz/corpus/$t/." "$work/corpus/"
	fi
	args=(-max_total_time="$secs" -print_final_stats=1 -timeout=30 -rss_limit_mb=4096
		-artifact_prefix="$work/crashes/")
	[ -f "fuzz/dict/$t.dict" ] && args+=(-dict="fuzz/dict/$t.dict")
	rc=0
	TMPDIR="$work/tmp" UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$bin" "${args[@]}" "$work/corpus" >"$work/log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -n 1)
	if [ "$rc" -eq 0 ]; then
		result=ok
	else
		result="CRASH (exit $rc)"
		failed+=("$t")
	fi
	printf '%-14s %14s %10s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$result"
	if [ "$rc" -ne 0 ]; then
		# the sanitizer's report and the input that caused it
		grep -E -A40 '^==[0-9]+== ?ERROR|runtime error' "$work/log" | head -n 60 | sed 's/^/    /'
		ls "$work/crashes" | sed "s|^|    input: $work/crashes/|"
	fi
done

if [ ${#failed[@]} -ne 0 ]; then
	echo "fuzz: crashes in: ${failed[*]} (logs and inputs under $runs)" >&2
	exit 1
fi
echo "fuzz: no crashes"
