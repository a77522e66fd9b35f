#!/usr/bin/env bash
# bench/tail.sh — evctl tail vs kcat over the same Avro topic, side by side.
#
#   bash bench/tail.sh [EVENTS]          (from the repo root; default 1000000)
#
# Environment:
#   RUNS=5            timed runs per command (the median is reported)
#   ACCOUNTS=10000    accounts seeded by `evctl dev`
#   TOPIC=bank.account-events
#   DEV_DEADLINE=300  seconds to wait for `evctl dev` to finish seeding
#   KAFKA=host:port,...
#                     seed this real cluster (scripts/kafka.sh start; the bank
#                     topics must not exist there yet) with `evctl dev --kafka`
#                     instead of starting the embedded kfake broker
#   BROKER            the broker's name in the report (default kfake, Apache
#                     Kafka with KAFKA, EVCTL_BROKERS when reusing one)
#   EVCTL_BROKERS, EVCTL_REGISTRY
#                     if EVCTL_BROKERS is already set, reuse that sandbox
#                     instead of starting one (it must hold EVENTS records in
#                     TOPIC; the count check below fails otherwise)
#   EVCTL_BIN         use this evctl binary instead of building one
#   TAIL_FLAGS        extra flags for `evctl tail` (e.g. "-X fetch.wait.max.ms=10")
#
# Exit status: 0 when every run produced EVENTS records (targets missed are
# reported, not failed on); 1 on a broken run or setup failure.
set -euo pipefail

EVENTS=${1:-1000000}
RUNS=${RUNS:-5}
ACCOUNTS=${ACCOUNTS:-10000}
TOPIC=${TOPIC:-bank.account-events}
DEV_DEADLINE=${DEV_DEADLINE:-300}
TAIL_FLAGS=${TAIL_FLAGS:-}


# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

# ---- commands --------------------------------------------------------------
# Each is a string run by bash -c; stdout goes to /dev/null in timed runs.
# shellcheck disable=SC2206
tail_flags=($TAIL_FLAGS)
cmd_evctl="\"$evctl\" tail $TOPIC --from start --to end -o json ${tail_flags[*]:-}"
cmd_kcat_json="kcat -C -b \"$EVCTL_BROKERS\" -t $TOPIC -e -J -o beginning -q"
cmd_kcat_raw="kcat -C -b \"$EVCTL_BROKERS\" -t $TOPIC -e -o beginning -q"
# Raw Avro values contain newline bytes, so raw output can't be counted by
# lines: the check for raw runs the same consumer with one line per record.
cmd_kcat_raw_count="kcat -C -b \"$EVCTL_BROKERS\" -t $TOPIC -e -o beginning -q -f '%o\\n'"

tools=(evctl kcat_json kcat_raw)
declare -A cmd=([evctl]=$cmd_evctl [kcat_json]=$cmd_kcat_json [kcat_raw]=$cmd_kcat_raw)
declare -A count_cmd=([evctl]=$cmd_evctl [kcat_json]=$cmd_kcat_json [kcat_raw]=$cmd_kcat_raw_count)
declare -A label=([evctl]="evctl tail -o json" [kcat_json]="kcat -C -e -J" [kcat_raw]="kcat -C -e (raw)")

# ---- record counts (one untimed run each; also warms the page cache) --------
for t in "${tools[@]}"; do
	n=$(bash -c "set -o pipefail; ${count_cmd[$t]} | wc -l" 2>"$tmp/$t.count.err") ||
		{ cat "$tmp/$t.count.err" >&2; die "$t: count run failed"; }
	[[ $n -eq $EVENTS ]] || { cat "$tmp/$t.count.err" >&2; die "$t: printed $n records, want $EVENTS"; }
	log "$t: $n records ✓"
done

# ---- timed runs ------------------------------------------------------------
# One run: wall seconds, CPU seconds (user+sys) and peak RSS (KB) of each
# command, from /usr/bin/time. On a shared machine CPU seconds are the
# steadier figure: other processes stretch the wall time, not the CPU.
declare -A times=() cpus=() max_rss_kb=()
run_once() { # tool round
	local t=$1 r=$2 start end rc=0
	start=$(date +%s%N)
	/usr/bin/time -f '%M %U %S' -o "$tmp/time.$t.$r" bash -c "exec ${cmd[$t]}" >/dev/null 2>"$tmp/$t.err.$r" || rc=$?
	end=$(date +%s%N)
	if ((rc != 0)); then
		cat "$tmp/$t.err.$r" >&2
		die "$t: round $r exited $rc"
	fi
	local kb u s
	read -r kb u s < <(tail -n1 "$tmp/time.$t.$r")
	((kb > ${max_rss_kb[$t]:-0})) && max_rss_kb[$t]=$kb
	times[$t]+="$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", (b - a) / 1e9}') "
	cpus[$t]+="$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.2f", u + s}') "
}

for ((r = 1; r <= RUNS; r++)); do
	# rotate the order each round so no tool always runs first (or last)
	order=()
	for ((i = 0; i < ${#tools[@]}; i++)); do
		order+=("${tools[$(((i + r - 1) % ${#tools[@]}))]}")
	done
	for t in "${order[@]}"; do run_once "$t" "$r"; done
	log "round $r/$RUNS: evctl $(last "${times[evctl]}")s kcat_json $(last "${times[kcat_json]}")s kcat_raw $(last "${times[kcat_raw]}")s"
done

declare -A med=() rps=() cpu=()
for t in "${tools[@]}"; do
	med[$t]=$(echo "${times[$t]}" | median)
	cpu[$t]=$(echo "${cpus[$t]}" | median)
	rps[$t]=$(awk -v n="$EVENTS" -v s="${med[$t]}" 'BEGIN {printf "%d", n / s}')
done
vs_json=$(ratio "${rps[evctl]}" "${rps[kcat_json]}")
vs_raw=$(ratio "${rps[evctl]}" "${rps[kcat_raw]}")
cpu_vs_raw=$(ratio "${cpu[kcat_raw]}" "${cpu[evctl]}")
rss_mb=$(awk -v k="${max_rss_kb[evctl]}" 'BEGIN {printf "%.1f", k / 1024}')
raw_mark=$(mark "$vs_raw" 1)
json_mark=$(mark "$vs_json" 1)
rss_mark=$(awk -v v="$rss_mb" 'BEGIN {print (v < 150) ? "PASS" : "MISS"}')

# ---- report ----------------------------------------------------------------
echo
echo "evctl tail benchmark: $EVENTS records of $TOPIC on $broker, $RUNS runs each (median, order rotated), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '%-20s %10s %12s %8s %10s %10s  %s\n' tool median_s records/s cpu_s vs_raw vs_kcat_J runs_s
for t in "${tools[@]}"; do
	printf '%-20s %10s %12s %8s %10s %10s  %s\n' "${label[$t]}" "${med[$t]}" "${rps[$t]}" "${cpu[$t]}" \
		"$(ratio "${rps[$t]}" "${rps[kcat_raw]}")" "$(ratio "${rps[$t]}" "${rps[kcat_json]}")" "${times[$t]% }"
done
echo "  (cpu_s: median user+sys; vs_*: rate ratios by median wall time)"
echo
echo "evctl peak RSS (max over $RUNS runs): ${rss_mb} MB"
echo
echo "targets (shared/DESIGN.md):"
printf '  %-38s %-5s %s\n' "evctl rate >= kcat -C -e (raw) rate" "$raw_mark" "ratio $vs_raw (CPU-s ratio $cpu_vs_raw)"
printf '  %-38s %-5s %s\n' "evctl rate >= kcat -C -e -J rate" "$json_mark" "ratio $vs_json"
printf '  %-38s %-5s %s\n' "evctl peak RSS < 150 MB" "$rss_mark" "${rss_mb} MB"
echo
echo "RESULT broker=${broker// /_} events=$EVENTS runs=$RUNS evctl_s=${med[evctl]} kcat_json_s=${med[kcat_json]} kcat_raw_s=${med[kcat_raw]} evctl_cpu_s=${cpu[evctl]} kcat_json_cpu_s=${cpu[kcat_json]} kcat_raw_cpu_s=${cpu[kcat_raw]} evctl_rps=${rps[evctl]} kcat_json_rps=${rps[kcat_json]} kcat_raw_rps=${rps[kcat_raw]} vs_kcat_json=$vs_json vs_kcat_raw=$vs_raw evctl_rss_mb=$rss_mb"
