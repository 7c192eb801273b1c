#!/usr/bin/env bash
# Sets up (idempotently), builds, and runs Kefu: the reference server serving the web app.
# Options are the server's: --bind ADDR --port PORT (or KEFU_BIND / KEFU_PORT).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec target/release/kefu-server --static-dir dist "$@"
