#!/usr/bin/env bash
# Sets up (idempotently) and runs every test: native unit and property tests, the server's
# WebSocket tests, the wasm component tests in headless Chromium, and the end-to-end tests
# (real server + real Chromium through WebDriver).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --browser
source scripts/env.sh
scripts/build.sh

echo "== native tests (protocol, server and app logic; server over real WebSockets)"
cargo test --workspace --exclude kefu
KEFU_SERVER_BIN="$PWD/target/release/kefu-server" KEFU_DIST="$PWD/dist" \
  cargo test -p kefu --lib --test server_ws --test server_v1 --test server_auth

echo "== wasm component tests (headless Chromium)"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test -p kefu --target wasm32-unknown-unknown --test components

echo "== end-to-end tests (server + Chromium via WebDriver)"
KEFU_SERVER_BIN="$PWD/target/release/kefu-server" KEFU_DIST="$PWD/dist" \
  cargo test -p kefu --test e2e -- --test-threads=2
