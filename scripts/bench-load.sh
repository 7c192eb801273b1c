#!/usr/bin/env bash
# Server load benchmark: starts the release server on a fresh SQLite file and runs the load
# generator (kefu-load) twice: 10,000 clients heartbeating every 2 s, then 2,000 clients with
# users sending 1,000 messages/s to one agent. Prints latencies and the server's peak RSS.
# Everything runs on loopback and stops by itself. Usage: scripts/bench-load.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
seconds=${1:-20}
cargo build -q --release -p kefu-server -p kefu-load
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

runs=0
run() {
  local label=$1; shift
  runs=$((runs + 1))
  rm -f "$work/server.log"
  target/release/kefu-server --port 0 --database "$work/run$runs.db" --static-dir dist >"$work/server.log" 2>/dev/null &
  pid=$!
  for _ in $(seq 100); do grep -qs listening "$work/server.log" && break; sleep 0.05; done
  local port
  port=$(head -n1 "$work/server.log" | sed 's/.*://')
  echo "== $label"
  target/release/kefu-load --url "ws://127.0.0.1:$port/webSocket/" --duration "$seconds" "$@"
  echo "server peak RSS: $(awk '/VmHWM/ { printf "%.1f MB", $2 / 1024 }' /proc/$pid/status)"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}

run "10000 clients, heartbeats" --clients 10000
run "2000 clients, 1000 messages/s" --clients 2000 --rate 1000
