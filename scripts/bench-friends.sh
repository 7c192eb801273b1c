#!/usr/bin/env bash
# Friends benchmark: seeds a fresh database with `kefu-server seed-friends` (user 1 with 500
# friends and 20,000 peer messages by default), opens the user page in headless Chromium and
# prints list, open and new-message render times measured in the page (tests/bench_friends.rs).
# Usage: scripts/bench-friends.sh [ROUNDS]   (KEFU_BENCH_FRIENDS / KEFU_BENCH_MESSAGES to change the data)
exec "$(dirname "$0")/bench-page.sh" friends "$@"
