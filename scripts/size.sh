#!/usr/bin/env bash
# Measures the transfer size of each page (customer service `/`, the Friends page `/friends`
# and the agent console `/agent`)
# as the reference server sends it, file by file: plain, gzip and brotli (the files compressed
# at build time by scripts/build.sh), from the release build in dist/.
# Usage: scripts/size.sh (after build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/server-helpers.sh
[ -f dist/index.html ] && [ -f dist/friends.html ] && [ -f dist/agent.html ] || { echo "no dist/: run scripts/build.sh first" >&2; exit 1; }
work=$(mktemp -d)
target/release/kefu-server --port 0 --static-dir dist --database "$work/size.db" >"$work/log" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
base="http://127.0.0.1:$(server_port "$work/log")"
for page in /:dist/index.html /friends:dist/friends.html /agent:dist/agent.html; do
  url=${page%%:*} html=${page#*:}
  total_raw=0; total_gz=0; total_br=0
  echo "== $url"
  printf '%-44s %10s %10s %10s\n' file bytes gzip brotli
  for path in "$url" $(grep -oE '(href|src)="?/[^" >]+' "$html" | sed -E 's/^(href|src)="?//' | sort -u); do
    raw=$(curl -s -o /dev/null -w '%{size_download}' "$base$path")
    gz=$(curl -s -H 'Accept-Encoding: gzip' -o /dev/null -w '%{size_download}' "$base$path")
    br=$(curl -s -H 'Accept-Encoding: br, gzip' -o /dev/null -w '%{size_download}' "$base$path")
    printf '%-44s %10s %10s %10s\n' "$path" "$raw" "$gz" "$br"
    total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz)); total_br=$((total_br + br))
  done
  printf '%-44s %10s %10s %10s\n' TOTAL "$total_raw" "$total_gz" "$total_br"
done
