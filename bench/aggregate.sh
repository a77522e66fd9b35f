#!/usr/bin/env bash
# bench/aggregate.sh — one aggregate with many events: check --assert and
# history --final must grow as the fold does (replay --projection), not
# with the square of the aggregate's state.
#
#   bash bench/aggregate.sh [SIZES]     (from the repo root; default "5000 10000 20000 100000")
#
# Each size N is one aggregate (key cart-1) of N plain JSON events typed by
# a field, versions from 0, whose state accumulates one item per event (the
# shape that made check --assert and history --final quadratic). Each is
# written from a generated capture with `evctl replay --from-file` into its
# own one-partition topic, then timed with:
#
#   evctl replay T --projection cart.yaml > /dev/null          (the fold alone)
#   evctl check T --projection cart.yaml --assert '.state.items | length > 0'
#   evctl history T cart-1 --projection cart.yaml --final > /dev/null
#
# Environment: RUNS=1 (timed runs per command; the median is reported),
# LIMIT=300 (seconds before a run is cut off and reported as >LIMIT),
# EVCTL_BIN, EVCTL_BROKERS/EVCTL_REGISTRY as for the other benchmarks.
#
# The fold itself copies the item list on every event (jq values are
# immutable), so all three grow faster than linearly with N; what matters is
# that check and history stay within a constant factor of replay at every N.
set -euo pipefail

SIZES=${1:-5000 10000 20000 100000}
RUNS=${RUNS:-1}
LIMIT=${LIMIT:-300}
EVENTS=40 ACCOUNTS=5 DEV_DEADLINE=${DEV_DEADLINE:-120}

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

cat >"$tmp/cart.yaml" <<'SPEC'
type: .value.kind
initial: {items: []}
handlers:
  added: '.state + {items: (.state.items + [.event.sku])}'
SPEC

# median of the arguments (seconds)
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# timed CMD...: wall seconds of one run, or ">LIMIT" when cut off
timed() {
	local start end rc=0
	start=$(date +%s.%N)
	timeout "$LIMIT" "$@" >/dev/null 2>"$tmp/err" || rc=$?
	end=$(date +%s.%N)
	if ((rc == 124)); then
		echo ">$LIMIT"
		return
	fi
	((rc == 0)) || { cat "$tmp/err" >&2; die "$* exited $rc"; }
	awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b - a}'
}

printf '%-8s %10s %10s %10s %12s %12s\n' events replay check history check/replay history/replay
for n in $SIZES; do
	topic=bench.cart.$n
	awk -v n="$n" 'BEGIN {
		for (i = 0; i < n; i++)
			printf "{\"topic\":\"bench.cart\",\"partition\":0,\"offset\":%d,\"timestamp\":\"2026-11-20T12:00:00.000Z\",\"key\":\"cart-1\",\"value\":{\"kind\":\"added\",\"seq\":%d,\"sku\":\"sku-%06d\"},\"keyEncoding\":\"text\",\"valueEncoding\":\"json\"}\n", i, i, i
	}' >"$tmp/cart.jsonl"
	"$evctl" replay --from-file "$tmp/cart.jsonl" --to-topic "$topic" --create --partitions 1 2>/dev/null
	# Untimed: every command must see all N events.
	items=$("$evctl" history "$topic" cart-1 --projection "$tmp/cart.yaml" --final 2>/dev/null | grep -o '"sku-' | wc -l)
	((items == n)) || die "history --final of $topic holds $items items, want $n"
	"$evctl" check "$topic" --projection "$tmp/cart.yaml" -o json 2>/dev/null | grep -q "\"records\": $n," ||
		die "check did not read $n records of $topic"
	r=() c=() h=()
	for _ in $(seq "$RUNS"); do
		r+=("$(timed "$evctl" replay "$topic" --projection "$tmp/cart.yaml")")
		c+=("$(timed "$evctl" check "$topic" --projection "$tmp/cart.yaml" --assert '.state.items | length > 0')")
		h+=("$(timed "$evctl" history "$topic" cart-1 --projection "$tmp/cart.yaml" --final)")
	done
	mr=$(median "${r[@]}") mc=$(median "${c[@]}") mh=$(median "${h[@]}")
	ratio() { [[ $1 == ">"* || $2 == ">"* ]] && echo - || awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
	printf '%-8s %10s %10s %10s %12s %12s\n' "$n" "$mr" "$mc" "$mh" "$(ratio "$mc" "$mr")" "$(ratio "$mh" "$mr")"
	echo "RESULT events=$n replay_s=$mr check_assert_s=$mc history_final_s=$mh" >&2
done
