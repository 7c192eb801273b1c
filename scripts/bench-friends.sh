#!/usr/bin/env bash
# Friends benchmark: seeds a fresh database with `kefu-server seed-friends` (user 1 with 500
# friends and 20,000 peer messages by default), opens the user page in headless Chromium and
# prints list, open and new-message render times measured in the page (tests/bench_friends.rs).
# Usage: scripts/bench-friends.sh [ROUNDS]   (KEFU_BENCH_FRIENDS / KEFU_BENCH_MESSAGES to change the data)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --browser
source scripts/env.sh
scripts/build.sh
KEFU_BENCH_ROUNDS="${1:-30}" KEFU_SERVER_BIN="$PWD/target/release/kefu-server" KEFU_DIST="$PWD/dist" \
  cargo test -p kefu --test bench_friends -- --ignored --nocapture 2>&1 \
  | grep -v '^running\|^test \|^$\|test result'
