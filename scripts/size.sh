#!/usr/bin/env bash
# Measures the transfer size of the user page as the reference server sends it (gzip),
# file by file, from a fresh release build in dist/. Usage: scripts/size.sh (after build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/index.html ] || { echo "no dist/index.html: run scripts/build.sh first" >&2; exit 1; }
log=$(mktemp)
target/release/kefu-server --port 0 --static-dir dist >"$log" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.05; done
base=$(head -n1 "$log" | sed 's/.*listening on //')
total_raw=0; total_gz=0
printf '%-40s %10s %10s\n' file bytes gzip-bytes
for path in / $(grep -oE '(href|src)="/[^"]+"' dist/index.html | sed -E 's/.*="([^"]+)"/\1/' | sort -u); do
  raw=$(curl -s -o /dev/null -w '%{size_download}' "$base$path")
  gz=$(curl -s -H 'Accept-Encoding: gzip' -o /dev/null -w '%{size_download}' "$base$path")
  printf '%-40s %10s %10s\n' "$path" "$raw" "$gz"
  total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz))
done
printf '%-40s %10s %10s\n' TOTAL "$total_raw" "$total_gz"
