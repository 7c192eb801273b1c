#!/usr/bin/env bash
# Builds the web app into dist/ (release, size-optimised) and the reference server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
trunk build --release
cargo build --release -p kefu-server
