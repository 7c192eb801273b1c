#!/usr/bin/env bash
# Server load benchmark: starts the release server on a fresh SQLite file and runs the load
# generator (kefu-load) twice: 10,000 clients heartbeating every 2 s, then 2,000 clients with
# users sending 1,000 messages/s to one agent. Prints latencies and the server's peak RSS.
# Everything runs on loopback and stops by itself (needs curl, to sign the agent in).
# Usage: scripts/bench-load.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/server-helpers.sh
seconds=${1:-20}
cargo build -q --release -p kefu-server -p kefu-load
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

runs=0
secret=load-benchmark-secret
run() {
  local label=$1; shift
  runs=$((runs + 1))
  rm -f "$work/server.log"
  local database="$work/run$runs.db"
  # As in real use: users prove themselves with app tokens, the agent signs in.
  target/release/kefu-server --database "$database" agent add load --password load-password >/dev/null
  # Every client connects from 127.0.0.1 here: lift the per-address bounds (the per-connection
  # and per-user ones stay as they are).
  target/release/kefu-server --port 0 --database "$database" --static-dir dist --app-secret "$secret" \
    --max-connections-per-address 100000 --max-frames-per-second-per-address 1000000 \
    --max-text-kib-per-second-per-address 1000000 >"$work/server.log" 2>/dev/null &
  pid=$!
  local port token
  port=$(server_port "$work/server.log")
  token=$(agent_token "$port" load load-password)
  echo "== $label"
  target/release/kefu-load --url "ws://127.0.0.1:$port/webSocket/" --duration "$seconds" \
    --app-secret "$secret" --agent-token "$token" "$@"
  echo "server peak RSS: $(awk '/VmHWM/ { printf "%.1f MB", $2 / 1024 }' /proc/$pid/status)"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}

run "10000 clients, heartbeats" --clients 10000
run "2000 clients, 1000 messages/s" --clients 2000 --rate 1000
