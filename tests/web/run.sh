#!/usr/bin/env bash
# Runs the admin page's browser test (CTest's web_browser): installs
# playwright-core from the lock file into a work dir in the build tree, then
# drives the page of the given authd binary in Debian's Chromium. With a third
# argument, the tests' PostgreSQL cluster command (web_browser_pg), authd
# keeps its store in a database of a cluster that command starts and stops.
#   run.sh AUTHD_BINARY WORK_DIR [IT_PGCLUSTER]
set -euo pipefail
authd=$1
work=$2
src=$(cd "$(dirname "$0")" && pwd)

for tool in node npm certutil /usr/bin/chromium; do
	command -v "$tool" >/dev/null || {
		echo "web: $tool is missing (scripts/install-deps.sh --test installs it)" >&2
		exit 1
	}
done
mkdir -p "$work"
cp "$src/package.json" "$src/package-lock.json" "$src/web.test.mjs" "$work/"
# a changed lock file means other packages: install again
stamp="$work/node_modules/.installed-lock.json"
if [ ! -d "$work/node_modules/playwright-core" ] || ! cmp -s "$src/package-lock.json" "$stamp"; then
	(cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
	cp "$src/package-lock.json" "$stamp"
fi
config=()
if [ -n "${3:-}" ]; then
	# it prints the DSN, and stops the cluster when its input closes (with this script)
	coproc PG { "$3"; }
	pg_pid=$PG_PID
	if ! read -r dsn <&"${PG[0]}"; then
		status=0
		wait "$pg_pid" || status=$?
		exit "$status" # 77 where PostgreSQL is not installed: skipped
	fi
	(umask 077 && printf '{"store": {"driver": "postgres", "dsn": "%s"}}\n' "$dsn" >"$work/pg.json")
	config=(--config "$work/pg.json")
fi
status=0
node "$work/web.test.mjs" --authd "$authd" --artifacts "$work/artifacts" "${config[@]}" || status=$?
if [ -n "${3:-}" ]; then
	eval "exec ${PG[1]}>&-"
	wait "$pg_pid" || true
fi
exit "$status"
