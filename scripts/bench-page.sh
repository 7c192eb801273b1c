#!/usr/bin/env bash
# Runs one in-page browser benchmark (tests/bench_NAME.rs, ignored in CI) on the release
# build: sets up, builds, and prints the figures it measures in headless Chromium.
# Usage: scripts/bench-page.sh NAME [ROUNDS]   (scripts/bench-console.sh, scripts/bench-friends.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1
scripts/setup.sh --browser
source scripts/env.sh
scripts/build.sh
KEFU_BENCH_ROUNDS="${2:-30}" KEFU_SERVER_BIN="$PWD/target/release/kefu-server" KEFU_DIST="$PWD/dist" \
  cargo test -p kefu --test "bench_$name" -- --ignored --nocapture 2>&1 \
  | grep -v '^running\|^test \|^$\|test result'
