#!/usr/bin/env bash
# Team inbox benchmark: 10 agents, 10,000 conversations, 1,000,000 messages seeded by
# `kefu-server seed --team`; an auto-assignment wave of 1,000 new visitors over 10 s (time to
# an assignee, spread), then view switching in the console in headless Chromium
# (tests/bench_team.rs).
# Usage: scripts/bench-team.sh [ROUNDS]   (KEFU_BENCH_AGENTS / _CONVERSATIONS / _MESSAGES / _WAVE to change the data)
exec "$(dirname "$0")/bench-page.sh" team "$@"
