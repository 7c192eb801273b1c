#!/usr/bin/env bash
# An agent console's first load against a big database: the agent resumes with no positions,
# the server pages every conversation, then says ready (kefu-load --agent-resume,
# load/src/agent_resume.rs). Seeds a fresh SQLite file (`kefu-server seed`), starts the
# release server (or the binary given), and prints resume -> ready and the server's CPU time
# per resume (from /proc, the sign-in's password hash left out).
# Usage: scripts/bench-agent-resume.sh [CONVERSATIONS] [MESSAGES] [ROUNDS] [SERVER_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/server-helpers.sh
conversations=${1:-5000} messages=${2:-100000} rounds=${3:-5}
server=${4:-target/release/kefu-server}
cargo build -q --release -p kefu-load
[ "$server" = target/release/kefu-server ] && cargo build -q --release -p kefu-server
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
"$server" --database "$work/bench.db" seed --conversations "$conversations" --messages "$messages"
"$server" --database "$work/bench.db" agent add bench --password bench-password >/dev/null
"$server" --port 0 --database "$work/bench.db" --static-dir dist >"$work/server.log" 2>/dev/null &
pid=$!
port=$(server_port "$work/server.log")
token=$(agent_token "$port" bench bench-password)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
before=$(cpu)
target/release/kefu-load --url "ws://127.0.0.1:$port/webSocket/" --agent-token "$token" --agent-resume "$rounds"
after=$(cpu)
ticks=$(getconf CLK_TCK)
echo "server CPU per resume: $(( (after - before) * 1000 / ticks / rounds )) ms"
