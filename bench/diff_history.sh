#!/usr/bin/env bash
# bench/diff_history.sh — evctl diff --mode history of one long aggregate.
#
#   bash bench/diff_history.sh [EVENTS]   (from the repo root; default 100000)
#
# Environment:
#   EVCTL_BIN     use this evctl binary instead of building one
#
# a.jsonl holds one aggregate (acct-1) with EVENTS events; b.jsonl the same
# events, each with its amount one cent more (every event differs), and
# shifted.jsonl the same events with one inserted after the 100th and the
# 100th from the end dropped. It times both diffs with /usr/bin/time
# -f '%e %U %M' (wall seconds, CPU seconds, peak RSS) and checks the counts:
# EVENTS changed events; then 1 missing and 1 extra, nothing else.
#
# Exit status: 0 when both answers were right; 1 on a wrong answer.
set -euo pipefail

EVENTS=${1:-100000}

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] FAIL: %s\n' "$*" >&2; exit 1; }

[[ -f go.mod && -d cmd/evctl ]] || die "run from the repo root: bash bench/diff_history.sh [EVENTS]"
[[ $EVENTS =~ ^[0-9]+$ && $EVENTS -gt 300 ]] || die "EVENTS must be an integer above 300, got '$EVENTS'"
[[ -x /usr/bin/time ]] || die "needs /usr/bin/time (apt-get install time)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/evctl-bench-diff-history.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

if [[ -n ${EVCTL_BIN:-} ]]; then
	evctl=$EVCTL_BIN
else
	log "building evctl"
	go build -o "$tmp/evctl" ./cmd/evctl
	evctl=$tmp/evctl
fi

log "writing $EVENTS events of one aggregate, three ways"
awk -v n="$EVENTS" -v dir="$tmp" 'function ev(f, off, i, d) {
	printf "{\"topic\":\"t\",\"partition\":0,\"offset\":%d,\"timestamp\":\"2026-11-20T12:00:00.000Z\",\"key\":\"acct-1\",\"value\":{\"accountId\":\"acct-1\",\"amountCents\":%d,\"version\":%d},\"type\":\"MoneyDeposited\",\"headers\":[{\"key\":\"event-id\",\"value\":\"e-%d\"}],\"keyEncoding\":\"text\",\"valueEncoding\":\"json\"}\n", off, 1000 + i + d, i, i > f
}
BEGIN {
	off = 0
	for (i = 0; i < n; i++) {
		ev(dir "/a.jsonl", i, i, 0)
		ev(dir "/b.jsonl", i, i, 1)
		if (i == 100) ev(dir "/shifted.jsonl", off++, -1, 0)
		if (i != n - 100) ev(dir "/shifted.jsonl", off++, i, 0)
	}
}'

# run name want args...: one timed run whose summary line must end with want
run() {
	local name=$1 want=$2 rc=0
	shift 2
	/usr/bin/time -f '%e %U %M' -o "$tmp/time" "$evctl" diff --mode history "$@" >"$tmp/out" || rc=$?
	((rc == 1)) || die "$name: exit status $rc, want 1"
	tail -1 "$tmp/out" | grep -q -- "$want\$" || die "$name: $(tail -1 "$tmp/out"), want: $want"
	read -r wall cpu rss < <(tail -1 "$tmp/time") # after "Command exited with non-zero status 1"
	printf '%-10s %8s s %8s CPU-s %8d MB\n' "$name" "$wall" "$cpu" $((rss / 1024))
	echo "RESULT name=$name events=$EVENTS wall_s=$wall cpu_s=$cpu rss_mb=$((rss / 1024))" >&2
}
run changed "events: 0 missing, 0 extra, $EVENTS changed, 0 reordered" "$tmp/a.jsonl" "$tmp/b.jsonl"
run shifted "events: 1 missing, 1 extra, 0 changed, 0 reordered" "$tmp/a.jsonl" "$tmp/shifted.jsonl"
