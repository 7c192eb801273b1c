#!/usr/bin/env bash
# Console benchmark: seeds a fresh database with `kefu-server seed` (1,000 conversations,
# 50,000 messages by default), opens the agent console in headless Chromium and prints load,
# switch and new-message render times measured in the page (tests/bench_console.rs).
# Usage: scripts/bench-console.sh [ROUNDS]   (KEFU_BENCH_CONVERSATIONS / KEFU_BENCH_MESSAGES to change the data)
exec "$(dirname "$0")/bench-page.sh" console "$@"
