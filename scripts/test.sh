#!/usr/bin/env bash
# Sets up (idempotently) and runs every test: native unit and property tests of every crate
# (kefu-core's logic, the protocol, the server's rules in process; the store's on SQLite and on
# a throwaway PostgreSQL), the server's tests over
# real WebSockets (server/tests), the wasm component tests in headless Chromium, and the
# browser end-to-end tests (real server + real Chromium through WebDriver).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --browser --original --balancer --postgres --redis
source scripts/env.sh
scripts/build.sh

echo "== native tests (protocol, core, server in process and as a process, load generator)"
cargo test --workspace --exclude kefu

echo "== wasm component tests (headless Chromium)"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test -p kefu --target wasm32-unknown-unknown --test components

echo "== end-to-end tests (server + Chromium via WebDriver)"
KEFU_SERVER_BIN="$PWD/target/release/kefu-server" KEFU_DIST="$PWD/dist" \
  cargo test -p kefu --test e2e -- --test-threads=2
