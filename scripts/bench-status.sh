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
sed -E 's/^STATUS LATENCY (.*): ([0-9]+) ms$/\2\t\1/' "$out" |
  awk -F'\t' '{ v[$2] = v[$2] " " $1; if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } }
    END { for (i = 1; i <= n; i++) { k = order[i]; m = split(v[k], a, " "); asort(a);
          printf "  %-40s %6d / %6d / %6d\n", k, a[1], a[int((m + 1) / 2)], a[m] } }'
