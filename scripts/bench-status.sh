#!/usr/bin/env bash
# Status-indicator latency benchmark: runs the end-to-end status scenario ROUNDS times
# (default 5) against the real server and headless Chromium, and prints each figure's
# min / median / max in milliseconds. Needs scripts/build.sh and Chromium (setup.sh --browser).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
rounds=${1:-5}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for round in $(seq "$rounds"); do
  KEFU_SERVER_BIN="$PWD/target/release/kefu-server" KEFU_DIST="$PWD/dist" \
    cargo test -q -p kefu --test e2e status_follows_the_server -- --nocapture 2>/dev/null |
    grep '^STATUS LATENCY' >>"$out"
  echo "round $round done" >&2
done
echo "status latency over $rounds rounds (ms): min / median / max"
rows=$(sed -E 's/^STATUS LATENCY (.*): ([0-9]+) ms$/\1\t\2/' "$out")
cut -f1 <<<"$rows" | awk '!seen[$0]++' | while IFS= read -r key; do
  values=$(awk -F'\t' -v k="$key" '$1 == k { print $2 }' <<<"$rows" | sort -n)
  count=$(wc -l <<<"$values")
  printf '  %-40s %6d / %6d / %6d\n' "$key" "$(head -n1 <<<"$values")" \
    "$(sed -n "$(((count + 1) / 2))p" <<<"$values")" "$(tail -n1 <<<"$values")"
done
