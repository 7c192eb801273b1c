#!/usr/bin/env bash
# Restart-storm benchmark (kefu-load --storm, load/src/storm.rs): CLIENTS clients (default
# 10,000) connected and chatting with a heartbeating agent; the backend killed with SIGKILL,
# down for 1 s, started again; prints when 50 / 99 / 100 % of clients are back and resumed,
# the handshake latencies, the backend's CPU and peak memory during the storm, and messages
# lost or doubled. Runs it against the reference server (release build, fresh SQLite file)
# and, with --original, against the original backend (v0 clients; Java from setup.sh --original).
# Each client connects from its own loopback address (127.1.0.1 onwards), as browsers do.
# --pinned: the backend on CPU 0 only and the generator on CPU 1 only (taskset), so that the
# two do not take each other's time: the nearest this one machine gets to the clients being
# elsewhere.
# Usage: scripts/bench-storm.sh [CLIENTS] [--original] [--pinned]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
clients=10000 original=false pinned=()
for arg in "$@"; do
  case $arg in
    --original) original=true ;;
    --pinned) pinned=(taskset -c 1) ;;
    [0-9]*) clients=$arg ;;
    *) echo "usage: $0 [CLIENTS] [--original] [--pinned]" >&2; exit 2 ;;
  esac
done
backend_cpus=()
[ ${#pinned[@]} -gt 0 ] && backend_cpus=(--storm-backend-cpus 0)
cargo build -q --release -p kefu-server -p kefu-load
echo "== reference server, $clients clients${pinned:+ (pinned: backend CPU 0, generator CPU 1)}"
"${pinned[@]}" target/release/kefu-load --storm --server-bin target/release/kefu-server --clients "$clients" "${backend_cpus[@]}"
if $original; then
  classes="$PWD/target/original-classes"
  # Not our code: the original backend is taken from shared/ beside the clone (or $KEFU_ORIGINAL_BACKEND).
  original_dir="${KEFU_ORIGINAL_BACKEND:-$PWD/../shared/original-backend}"
  [ -f "$original_dir/build.sh" ] || { echo "bench-storm.sh: no original backend at $original_dir (set KEFU_ORIGINAL_BACKEND)" >&2; exit 2; }
  [ -f "$classes/classpath.txt" ] || ORIGINAL_CLASSES_DIR="$classes" sh "$original_dir/build.sh" >/dev/null
  echo "== original backend, $clients clients (v0)"
  "${pinned[@]}" target/release/kefu-load --storm --original-classes "$classes" --clients "$clients" "${backend_cpus[@]}"
fi
