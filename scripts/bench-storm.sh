#!/usr/bin/env bash
# Restart-storm benchmark (kefu-load --storm, load/src/storm.rs): CLIENTS clients (default
# 10,000) connected and chatting with a heartbeating agent; the backend killed with SIGKILL,
# down for 1 s, started again; prints when 50 / 99 / 100 % of clients are back and resumed,
# the handshake latencies, the backend's CPU and peak memory during the storm, and messages
# lost or doubled. Runs it against the reference server (release build, fresh SQLite file)
# and, with --original, against the original backend (v0 clients; Java from setup.sh --original).
# Usage: scripts/bench-storm.sh [CLIENTS] [--original]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
clients=${1:-10000}
cargo build -q --release -p kefu-server -p kefu-load
echo "== reference server, $clients clients"
target/release/kefu-load --storm --server-bin target/release/kefu-server --clients "$clients"
if [ "${2:-}" = "--original" ]; then
  classes="$PWD/target/original-classes"
  [ -f "$classes/classpath.txt" ] || ORIGINAL_CLASSES_DIR="$classes" sh tests/original-backend/build.sh >/dev/null
  echo "== original backend, $clients clients (v0)"
  target/release/kefu-load --storm --original-classes "$classes" --clients "$clients"
fi
