#!/usr/bin/env bash
# Installs what is missing, builds authd twice (plain, and with AddressSanitizer
# and UndefinedBehaviorSanitizer) and runs every test against each build.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh --test

run_suite() {
	local dir=$1
	shift
	cmake -S . -B "$dir" "$@" >/dev/null
	cmake --build "$dir" -j"$(nproc)"
	# -V shows each Check summary line; ctest closes with its own count
	(cd "$dir" && ctest -V -j2)
}

echo "== plain build"
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DAUTHD_SANITIZE=ON
echo "== fuzzing: each target for 10 s under ASan+UBSan (scripts/fuzz.sh SECONDS runs longer)"
scripts/fuzz.sh 10
