#!/usr/bin/env bash
# One client's view of the server's write path: resume -> ready and send -> ack, one frame
# at a time (see load/src/probe.rs). Starts the release server (or the binary given) on a
# fresh SQLite file and stops it afterwards.
# Usage: scripts/bench-probe.sh [ROUNDS] [SERVER_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/server-helpers.sh
rounds=${1:-200}
server=${2:-target/release/kefu-server}
cargo build -q --release -p kefu-load
[ "$server" = target/release/kefu-server ] && cargo build -q --release -p kefu-server
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
secret=probe-benchmark-secret
"$server" --port 0 --database "$work/probe.db" --static-dir dist --app-secret "$secret" \
  --max-frames-per-second 1000 >"$work/server.log" 2>/dev/null &
pid=$!
port=$(server_port "$work/server.log")
target/release/kefu-load --url "ws://127.0.0.1:$port/webSocket/" --app-secret "$secret" --probe "$rounds"
