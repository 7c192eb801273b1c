#!/usr/bin/env bash
# Status-indicator latency benchmark (tests/bench_status.rs): a user page in headless
# Chromium against the reference server and the original backend, each stopped, killed,
# frozen (a silent dead link) and down for 1 / 8 / 30 s, ROUNDS times each (default 3).
# Prints each figure's min / median / max in milliseconds. Needs scripts/build.sh, Chromium
# (setup.sh --browser) and Java with Tomcat 9 (setup.sh --original). Takes ~3 min per round.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
rounds=${1:-3}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
KEFU_BENCH_ROUNDS="$rounds" KEFU_SERVER_BIN="$PWD/target/release/kefu-server" KEFU_DIST="$PWD/dist" \
  cargo test -q -p kefu --test bench_status -- --ignored --nocapture --test-threads=1 2>/dev/null |
  grep '^STATUS ' >"$out"
echo "status latency over $rounds rounds (ms): min / median / max"
rows=$(sed -E 's/^STATUS (.*): ([0-9]+) ms$/\1\t\2/' "$out")
cut -f1 <<<"$rows" | awk '!seen[$0]++' | while IFS= read -r key; do
  values=$(awk -F'\t' -v k="$key" '$1 == k { print $2 }' <<<"$rows" | sort -n)
  count=$(wc -l <<<"$values")
  printf '  %-58s %6d / %6d / %6d\n' "$key" "$(head -n1 <<<"$values")" \
    "$(sed -n "$(((count + 1) / 2))p" <<<"$values")" "$(tail -n1 <<<"$values")"
done
