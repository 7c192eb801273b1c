#!/usr/bin/env bash
# Console benchmark: seeds a fresh database with `kefu-server seed` (1,000 conversations,
# 50,000 messages by default), opens the agent console in headless Chromium and prints load,
# switch and new-message render times measured in the page.
# Usage: scripts/bench-console.sh [ROUNDS]   (KEFU_BENCH_CONVERSATIONS / KEFU_BENCH_MESSAGES to change the data)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --browser
source scripts/env.sh
scripts/build.sh
KEFU_BENCH_ROUNDS="${1:-30}" KEFU_SERVER_BIN="$PWD/target/release/kefu-server" KEFU_DIST="$PWD/dist" \
  cargo test -p kefu --test bench_console -- --ignored --nocapture 2>&1 \
  | grep -v '^running\|^test \|^$\|test result'
