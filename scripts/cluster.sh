#!/usr/bin/env bash
# A local cluster to look at (not for production; see docs/deployment.md): PostgreSQL, Redis,
# three kefu-server instances and HAProxy in front of them (deploy/haproxy-cluster.cfg), all on
# this machine, all throwaway. Prints the URL; Ctrl-C stops everything it started, by PID, and
# removes its folder. Sets up (idempotently) and builds first, like scripts/run.sh.
# Usage: scripts/cluster.sh [PORT]   (the balancer's port, default 8080; the instances and the
# databases take free ports). Every server option can be given as its KEFU_ environment
# variable. With KEFU_CLUSTER_INFO=FILE, the ports and PIDs are written to FILE once all is up
# (scripts/bench-cluster.sh reads it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --postgres --redis --balancer
scripts/build.sh
server=$PWD/target/release/kefu-server
port=${1:-8080}
dir=$(mktemp -d /tmp/kefu-cluster.XXXXXX)
pids=()
postgres_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
as_postgres() { if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

stop() {
  trap - INT TERM EXIT
  echo
  echo "stopping: instances and haproxy (${pids[*]}), redis, postgres"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [[ -f $dir/redis.pid ]] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  [[ -d $dir/pg ]] && as_postgres "$postgres_bin/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop INT TERM EXIT

echo "== PostgreSQL (folder $dir)"
[[ $EUID -eq 0 ]] && chown postgres "$dir"
pg_port=$(free_port)
as_postgres "$postgres_bin/initdb" -D "$dir/pg" -A trust -U kefu -E UTF8 >/dev/null
as_postgres "$postgres_bin/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w \
  -o "-p $pg_port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
database="postgres://kefu@127.0.0.1:$pg_port/postgres"

echo "== Redis"
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
redis="redis://127.0.0.1:$redis_port"

demo_password="${KEFU_DEMO_PASSWORD:-kefu-demo-password}"
"$server" --database "$database" agent add demo --password "$demo_password" >/dev/null

echo "== three instances"
instance_ports=()
for n in 1 2 3; do
  instance_port=$(free_port)
  instance_ports+=("$instance_port")
  "$server" --bind 127.0.0.1 --port "$instance_port" --static-dir dist --database "$database" \
    --redis "$redis" --trusted-proxy 127.0.0.1 \
    > "$dir/instance-$n.log" 2>&1 &
  pids+=($!)
done
for instance_port in "${instance_ports[@]}"; do
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$instance_port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
done

echo "== HAProxy"
KEFU_LB_BIND="0.0.0.0:$port" KEFU_SERVER_1="127.0.0.1:${instance_ports[0]}" \
  KEFU_SERVER_2="127.0.0.1:${instance_ports[1]}" KEFU_SERVER_3="127.0.0.1:${instance_ports[2]}" \
  haproxy -db -f deploy/haproxy-cluster.cfg > "$dir/haproxy.log" 2>&1 &
pids+=($!)

cat <<EOF

Kefu on three instances: http://localhost:$port/ (user page), http://localhost:$port/agent (console)
  demo agent: name 'demo', password '$demo_password'
  instances:  ${instance_ports[*]} (logs in $dir/instance-N.log); try killing one: kill -9 ${pids[0]}
  PostgreSQL: $database    Redis: $redis
Ctrl-C stops everything.
EOF
if [[ -n ${KEFU_CLUSTER_INFO:-} ]]; then
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  {
    echo "balancer_port=$port"
    echo "instance_ports=(${instance_ports[*]})"
    echo "instance_pids=(${pids[0]} ${pids[1]} ${pids[2]})"
    echo "haproxy_pid=${pids[3]}"
    echo "redis_pid=$(cat "$dir/redis.pid")"
  } > "$KEFU_CLUSTER_INFO.tmp"
  mv "$KEFU_CLUSTER_INFO.tmp" "$KEFU_CLUSTER_INFO"
fi
wait "${pids[-1]}"
