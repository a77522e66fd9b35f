#!/usr/bin/env bash
# bench/browse.sh — evctl browse on a 1M-event topic, in a real terminal.
#
#   bash bench/browse.sh [EVENTS]        (from the repo root; default 1000000)
#
# Environment:
#   RUNS=5        sessions (the median of each step is reported)
#
# Runs BenchmarkBrowse (cmd/evctl/browse_bench_test.go): it seeds an
# in-process sandbox with EVENTS events over 10,000 accounts, then per
# session starts `evctl browse bank.account-events` in a pseudo-terminal
# (120x40) drawn by a terminal emulator and times, from the user's side:
#   open-ms   process start until the screen shows the latest records
#   first-ms  g until it shows the first records
#   last-ms   G until it shows the last records again
# Target (DESIGN.md): open a 1M-record topic and jump to its end in under 1 s.
set -euo pipefail
EVENTS=${1:-1000000}
RUNS=${RUNS:-5}
[[ -f go.mod && -d cmd/evctl ]] || { echo "run from the repo root: bash $0 [EVENTS]" >&2; exit 1; }
[[ $EVENTS =~ ^[0-9]+$ && $RUNS =~ ^[0-9]+$ ]] || { echo "EVENTS and RUNS must be positive integers" >&2; exit 1; }
BROWSE_EVENTS=$EVENTS go test ./cmd/evctl -run '^$' -bench '^BenchmarkBrowse$' -benchtime "${RUNS}x" -count 1
