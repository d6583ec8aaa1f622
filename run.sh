#!/usr/bin/env bash
# Installs what is missing, builds authd and starts it on its embedded defaults.
# Extra arguments go to authd (for example: ./run.sh --listen 0.0.0.0:8443).
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
exec build/authd/authd "$@"
