#!/usr/bin/env bash
# Runs the admin page's browser test (CTest's web_browser): installs
# playwright-core from the lock file into a work dir in the build tree, then
# drives the page of the given authd binary in Debian's Chromium.
#   run.sh AUTHD_BINARY WORK_DIR
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
exec node "$work/web.test.mjs" --authd "$authd" --artifacts "$work/artifacts"
