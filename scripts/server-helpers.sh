# Sourced by the benchmark scripts that start a reference server of their own.

# Waits (up to 5 s) for a server started with `--port 0` and its stdout in LOG to print its
# listening line, and prints the port it took; fails, saying so, if it never does.
server_port() {
  local log=$1
  for _ in $(seq 100); do
    if grep -qs listening "$log"; then
      head -n1 "$log" | sed 's/.*://'
      return
    fi
    sleep 0.05
  done
  echo "the server did not start (its output: $log)" >&2
  return 1
}

# Signs agent NAME in with PASSWORD on the server at PORT and prints the session token.
agent_token() {
  local port=$1 name=$2 password=$3
  curl -sf -H 'Content-Type: application/json' -d "{\"name\":\"$name\",\"password\":\"$password\"}" \
    "http://127.0.0.1:$port/api/agent/session" | sed 's/.*"token":"\([^"]*\)".*/\1/'
}
