#!/usr/bin/env bash
# bench/browse.sh — evctl browse on a 1M-event topic, in a real terminal.
#
#   bash bench/browse.sh [EVENTS]        (from the repo root; default 1000000)
#
# Environment:
#   RUNS=5        sessions (the median of each step is reported)
#   ACCOUNTS=2000 accounts the events are spread over (1M/2000: aggregates
#                 of 500 events)
#
# Runs BenchmarkBrowse (cmd/evctl/browse_bench_test.go): it seeds an
# in-process sandbox with EVENTS events over ACCOUNTS accounts, then per
# session starts `evctl browse` in a pseudo-terminal (120x40) drawn by a
# terminal emulator and times, from the user's side:
#   list-ms      process start until the topic list shows the topic
#   open-ms      enter on it until the screen shows its latest records
#   first-ms     g until it shows the first records
#   last-ms      G until it shows the last records again
#   timeline-ms  a until the last record's aggregate timeline shows
#   scan-ms      a filter matching nothing, until it has read the topic
#   peak-MB      the process's peak RSS before that scan
#   scan-peak-MB the process's peak RSS after it
# Targets (DESIGN.md): each step but the scan under 1 s on 1M records; a
# peak RSS that does not grow with the topic (compare EVENTS=100000).
set -euo pipefail
EVENTS=${1:-1000000}
RUNS=${RUNS:-5}
ACCOUNTS=${ACCOUNTS:-2000}
[[ -f go.mod && -d cmd/evctl ]] || { echo "run from the repo root: bash $0 [EVENTS]" >&2; exit 1; }
[[ $EVENTS =~ ^[0-9]+$ && $RUNS =~ ^[0-9]+$ && $ACCOUNTS =~ ^[0-9]+$ ]] || { echo "EVENTS, RUNS and ACCOUNTS must be positive integers" >&2; exit 1; }
BROWSE_EVENTS=$EVENTS BROWSE_ACCOUNTS=$ACCOUNTS go test ./cmd/evctl -run '^$' -bench '^BenchmarkBrowse$' -benchtime "${RUNS}x" -count 1
