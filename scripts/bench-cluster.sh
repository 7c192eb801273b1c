#!/usr/bin/env bash
# Cluster benchmark (issue #10): three instances + PostgreSQL + Redis + HAProxy on this machine
# (scripts/cluster.sh), loaded by kefu-load as scripts/bench-load.sh loads one instance:
#   1. 10,000 clients heartbeating every 2 s, spread over the instances: p99 round trip, RSS;
#   2. 9,000 of them through HAProxy (see below why not 10,000);
#   3. 2,000 clients and 1,000 messages/s, the users on instances 2 and 3, the agent on
#      instance 1: every message crosses instances (through Redis); delivery p50/p99, lost.
# Run scripts/bench-load.sh for the one-instance figures beside it.
# Usage: scripts/bench-cluster.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
seconds=${1:-20}
cargo build -q --release -p kefu-server -p kefu-load
work=$(mktemp -d)
cluster_pid=
cleanup() {
  if [[ -n $cluster_pid ]]; then kill "$cluster_pid" 2>/dev/null || true; wait "$cluster_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

secret=load-benchmark-secret
# Every client connects from 127.0.0.1 here: lift the per-address bounds (the per-connection
# and per-user ones stay as they are). The instances read these from the environment.
export KEFU_APP_SECRET=$secret KEFU_MAX_CONNECTIONS_PER_ADDRESS=100000 \
  KEFU_MAX_FRAMES_PER_SECOND_PER_ADDRESS=1000000 KEFU_MAX_TEXT_KIB_PER_SECOND_PER_ADDRESS=1000000
mb() { awk -v key="$2:" '$1 == key { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }
ws() { echo "ws://127.0.0.1:$1/webSocket/"; }

start_cluster() {
  rm -f "$work/info"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  KEFU_CLUSTER_INFO="$work/info" KEFU_DEMO_PASSWORD=load-password scripts/cluster.sh "$port" >"$work/cluster.log" 2>&1 &
  cluster_pid=$!
  for _ in $(seq 900); do [[ -f $work/info ]] && break; sleep 0.2; done
  [[ -f $work/info ]] || { echo "the cluster did not start:"; tail -20 "$work/cluster.log"; exit 1; }
  source "$work/info"
  token=$(curl -sf -H 'Content-Type: application/json' -d '{"name":"demo","password":"load-password"}' \
    "http://127.0.0.1:${instance_ports[0]}/api/agent/session" | sed 's/.*"token":"\([^"]*\)".*/\1/')
}

report_and_stop() {
  local total=0 part
  for pid in "${instance_pids[@]}"; do
    part=$(mb "$pid" VmHWM)
    total=$(python3 -c "print(round($total + $part, 1))")
  done
  echo "peak RSS: instances together $total MB (each: $(for p in "${instance_pids[@]}"; do printf '%s ' "$(mb "$p" VmHWM)"; done)MB)," \
    "redis $(mb "$redis_pid" VmHWM) MB, haproxy $(mb "$haproxy_pid" VmHWM) MB"
  kill "$cluster_pid"
  wait "$cluster_pid" 2>/dev/null || true
  cluster_pid=
}

start_cluster
echo "== 10000 clients, heartbeats, spread over the three instances"
target/release/kefu-load --duration "$seconds" --app-secret "$secret" --agent-token "$token" \
  --url "$(ws "${instance_ports[0]}"),$(ws "${instance_ports[1]}"),$(ws "${instance_ports[2]}")" --clients 10000
report_and_stop

# HAProxy holds two descriptors per connection, and this machine's open-file limit is 20,000
# (not raisable here): 9,000 clients through it.
start_cluster
echo "== 9000 clients, heartbeats, all through HAProxy"
target/release/kefu-load --duration "$seconds" --app-secret "$secret" --agent-token "$token" \
  --url "$(ws "$balancer_port")" --clients 9000
report_and_stop

start_cluster
echo "== 2000 clients, 1000 messages/s, users on instances 2 and 3, the agent on instance 1"
target/release/kefu-load --duration "$seconds" --app-secret "$secret" --agent-token "$token" \
  --url "$(ws "${instance_ports[1]}"),$(ws "${instance_ports[2]}")" --agent-url "$(ws "${instance_ports[0]}")" \
  --clients 2000 --rate 1000
report_and_stop
