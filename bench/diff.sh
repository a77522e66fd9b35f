#!/usr/bin/env bash
# bench/diff.sh — evctl diff of two 1M-key states (capture files).
#
#   bash bench/diff.sh [KEYS]            (from the repo root; default 1000000)
#
# Environment:
#   RUNS=3        timed runs per command (the median is reported)
#   DIFFS=300     differences seeded into b: a third changed, a third removed,
#                 a third added
#   EVCTL_BIN     use this evctl binary instead of building one
#   DIFF_FLAGS    extra flags for `evctl diff`
#
# a.jsonl holds KEYS balances as the sandbox's read model writes them; b.jsonl
# holds the same states with every value's members in another order (as a jq
# projection writes them: sorted) and DIFFS differences. It times
# `evctl diff a.jsonl b.jsonl --stat` (the first pass only: hashes) and
# `evctl diff a.jsonl b.jsonl` (both passes: the field-level report), with
# /usr/bin/time -f '%e %M', and checks the counts.
#
# Exit status: 0 when every run found exactly the seeded differences
# (targets missed are reported, not failed on); 1 on a wrong answer.
set -euo pipefail

KEYS=${1:-1000000}
RUNS=${RUNS:-3}
DIFFS=${DIFFS:-300}
DIFF_FLAGS=${DIFF_FLAGS:-}
TARGET_S=5
TARGET_MB=300

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] FAIL: %s\n' "$*" >&2; exit 1; }

[[ -f go.mod && -d cmd/evctl ]] || die "run from the repo root: bash bench/diff.sh [KEYS]"
[[ $KEYS =~ ^[0-9]+$ && $KEYS -gt 0 ]] || die "KEYS must be a positive integer, got '$KEYS'"
[[ $RUNS =~ ^[0-9]+$ && $RUNS -gt 0 ]] || die "RUNS must be a positive integer, got '$RUNS'"
((DIFFS >= 3 && DIFFS <= KEYS)) || die "DIFFS must be between 3 and KEYS"

if [[ ! -x /usr/bin/time ]]; then
	log "installing time"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/evctl-bench-diff.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

if [[ -n ${EVCTL_BIN:-} ]]; then
	evctl=$EVCTL_BIN
else
	log "building evctl"
	go build -o "$tmp/evctl" ./cmd/evctl
	evctl=$tmp/evctl
fi

# ---- data ------------------------------------------------------------------
third=$((DIFFS / 3))
log "writing a.jsonl and b.jsonl: $KEYS keys, $((3 * third)) differences"
awk -v keys="$KEYS" -v third="$third" -v a="$tmp/a.jsonl" -v b="$tmp/b.jsonl" 'BEGIN {
	step = int(keys / (3 * third + 1)); if (step < 1) step = 1
	for (i = 1; i <= keys; i++) {
		k = sprintf("acct-%07d", i); p = i % 6; ts = sprintf("2026-11-%02dT%02d:%02d:%02d.%03dZ", 1 + i % 28, i % 24, i % 60, (i * 7) % 60, i % 1000)
		bal = (i * 7919) % 10000000; ver = 1 + i % 40
		printf "{\"topic\":\"bank.account-balances\",\"partition\":%d,\"offset\":%d,\"timestamp\":\"%s\",\"key\":\"%s\",\"value\":{\"accountId\":\"%s\",\"owner\":\"Owner %d\",\"currency\":\"EUR\",\"balanceCents\":%d,\"status\":\"open\",\"version\":%d,\"updatedAt\":\"%s\"},\"keyEncoding\":\"text\",\"valueEncoding\":\"json\"}\n", p, i, ts, k, k, i, bal, ver, ts > a
		n = (i % step == 0) ? i / step : 0
		if (n >= 1 && n <= third) bal = bal + 1                 # changed
		else if (n > third && n <= 2 * third) continue           # removed from b
		printf "{\"topic\":\"rebuilt\",\"partition\":%d,\"offset\":%d,\"timestamp\":\"%s\",\"key\":\"%s\",\"value\":{\"accountId\":\"%s\",\"balanceCents\":%d,\"currency\":\"EUR\",\"owner\":\"Owner %d\",\"status\":\"open\",\"updatedAt\":\"%s\",\"version\":%d},\"keyEncoding\":\"text\",\"valueEncoding\":\"json\"}\n", p, i, ts, k, k, bal, i, ts, ver > b
	}
	for (j = 1; j <= third; j++)                                 # added to b
		printf "{\"topic\":\"rebuilt\",\"partition\":0,\"offset\":%d,\"timestamp\":\"2026-11-30T00:00:00.000Z\",\"key\":\"new-%05d\",\"value\":{\"accountId\":\"new-%05d\",\"balanceCents\":0},\"keyEncoding\":\"text\",\"valueEncoding\":\"json\"}\n", keys + j, j, j > b
}'
log "a.jsonl $(du -h "$tmp/a.jsonl" | cut -f1), b.jsonl $(du -h "$tmp/b.jsonl" | cut -f1)"

# ---- runs ------------------------------------------------------------------
want="$third added, $third removed, $third changed"
# shellcheck disable=SC2086
check() { # check name args...: one untimed run, the counts must be right
	local name=$1; shift
	set +e
	"$evctl" diff "$tmp/a.jsonl" "$tmp/b.jsonl" "$@" $DIFF_FLAGS >"$tmp/$name.out" 2>"$tmp/$name.err"
	local rc=$?
	set -e
	[[ $rc -eq 1 ]] || die "$name: exit $rc, want 1: $(cat "$tmp/$name.err")"
	grep -q "$want" "$tmp/$name.out" || die "$name: want '$want' in: $(tail -1 "$tmp/$name.out")"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A secs mb
for name in stat full; do
	args=(--stat)
	[[ $name == full ]] && args=()
	check "$name" "${args[@]}"
	: >"$tmp/$name.times"
	for ((r = 1; r <= RUNS; r++)); do
		# shellcheck disable=SC2086
		/usr/bin/time -f '%e %M' -o "$tmp/time" "$evctl" diff "$tmp/a.jsonl" "$tmp/b.jsonl" "${args[@]}" $DIFF_FLAGS >/dev/null 2>&1 || true
		tail -1 "$tmp/time" >>"$tmp/$name.times" # after "Command exited with non-zero status 1"
		log "$name run $r: $(tail -1 "$tmp/time") (s, KB)"
	done
	secs[$name]=$(cut -d' ' -f1 "$tmp/$name.times" | median)
	mb[$name]=$(cut -d' ' -f2 "$tmp/$name.times" | median | awk '{ printf "%.0f", $1 / 1024 }')
done

printf '\nevctl diff, two states of %d keys, %d differences, %d runs (median), %s cores\n\n' "$KEYS" "$((3 * third))" "$RUNS" "$(nproc)"
printf '| command | s | peak RSS MB | target | |\n|---|---:|---:|---|---|\n'
for name in stat full; do
	verdict=PASS
	awk -v s="${secs[$name]}" -v m="${mb[$name]}" -v ts=$TARGET_S -v tm=$TARGET_MB 'BEGIN { exit !(s < ts && m < tm) }' || verdict=MISS
	label="evctl diff a.jsonl b.jsonl"
	[[ $name == stat ]] && label="$label --stat"
	printf '| `%s` | %s | %s | < %d s, < %d MB | %s |\n' "$label" "${secs[$name]}" "${mb[$name]}" $TARGET_S $TARGET_MB "$verdict"
done
printf '\nRESULT keys=%d diffs=%d stat_s=%s stat_mb=%s full_s=%s full_mb=%s\n' "$KEYS" "$((3 * third))" "${secs[stat]}" "${mb[stat]}" "${secs[full]}" "${mb[full]}"
