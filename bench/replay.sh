#!/usr/bin/env bash
# bench/replay.sh — evctl replay vs a kcat pipeline, and projection rebuilds,
# side by side over the same Avro topic.
#
#   bash bench/replay.sh [EVENTS]        (from the repo root; default 1000000)
#
# Environment:
#   RUNS=3            timed runs per command (the median is reported)
#   ACCOUNTS=10000    accounts seeded by `evctl dev` (= aggregates)
#   TOPIC=bank.account-events
#   PROJECTION=testdata/projections/account-balance.yaml
#   DEV_DEADLINE=300  seconds to wait for `evctl dev` to finish seeding
#   FIDELITY=1        compare source and copies field by field once, untimed
#                     (0 skips it: it reads three topics in full and sorts them)
#   KAFKA=host:port,...
#                     seed this real cluster (scripts/kafka.sh start; the bank
#                     topics must not exist there yet) with `evctl dev --kafka`
#                     instead of starting the embedded kfake broker
#   BROKER            the broker's name in the report (default kfake, Apache
#                     Kafka with KAFKA, EVCTL_BROKERS when reusing one)
#   EVCTL_BROKERS, EVCTL_REGISTRY
#                     if EVCTL_BROKERS is already set, reuse that sandbox
#                     instead of starting one (TOPIC must hold EVENTS records;
#                     the count checks below fail otherwise)
#   EVCTL_BIN         use this evctl binary instead of building one
#   REPLAY_FLAGS      extra flags for every `evctl replay` (e.g. "-X linger.ms=20")
#   COPY_FLAGS        extra flags for the topic-to-topic copies only (e.g.
#                     "--checkpoint-every 50000")
#   TOOLS             which commands to run, of: evctl (the copy with its
#                     default --parallel, one copier per CPU), evctl_p1 (the
#                     copy with --parallel 1), kcat, proj_file, proj_topic;
#                     default all five
#
# Every run writes into a fresh destination topic (bench.<tag>.<tool>.<round>),
# so the sandbox's memory grows by one copy of TOPIC per replay run.
#
# Exit status: 0 when every run copied/folded every record (targets missed
# are reported, not failed on); 1 on a broken run, a wrong count, an unfaithful
# evctl copy, or a setup failure.
set -euo pipefail

EVENTS=${1:-1000000}
RUNS=${RUNS:-3}
ACCOUNTS=${ACCOUNTS:-10000}
TOPIC=${TOPIC:-bank.account-events}
PROJECTION=${PROJECTION:-testdata/projections/account-balance.yaml}
DEV_DEADLINE=${DEV_DEADLINE:-300}
FIDELITY=${FIDELITY:-1}
REPLAY_FLAGS=${REPLAY_FLAGS:-}
COPY_FLAGS=${COPY_FLAGS:-}
TOOLS=${TOOLS:-evctl evctl_p1 kcat proj_file proj_topic}

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
[[ -f $PROJECTION ]] || die "no projection spec at $PROJECTION"
PROJECTION=$(cd "$(dirname "$PROJECTION")" && pwd)/$(basename "$PROJECTION")

# ---- helpers ---------------------------------------------------------------
# Records in a topic, as a read_committed reader sees them: one line per
# record (never the values: Avro bytes contain newlines). Transaction markers
# take offsets, so high-minus-low watermarks would overcount evctl's copies.
count_records() { # topic
	bash -c "set -o pipefail; \"$evctl\" tail \"\$1\" --from start --to end --template '{{.offset}}' | wc -l" _ "$1"
}
# Distinct keys in a topic: a rebuild into a topic writes the states
# changed since the last checkpoint at every checkpoint (every 30 s), so a
# slow run leaves more records than aggregates until compaction.
count_keys() { # topic
	bash -c "set -o pipefail; \"$evctl\" tail \"\$1\" --from start --to end --template '{{.key}}' | LC_ALL=C sort -u | wc -l" _ "$1"
}
# An empty topic with TOPIC's partition count and configs: evctl replay
# --create with an empty selection (--to start). evctl has no `topics create`.
create_topic() { # topic
	"$evctl" replay "$TOPIC" --to-topic "$1" --create --to start --no-progress >/dev/null 2>"$tmp/create.err" ||
		{ cat "$tmp/create.err" >&2; die "could not create topic $1"; }
}

tag=$(date +%s)
dst() { echo "bench.$tag.$1.$2"; } # tool round

# ---- commands --------------------------------------------------------------
# Each is a string run by bash -c with the destination topic in $1; stdout
# goes to /dev/null. evctl's summary line (stderr) is checked after each run.
#
# The kcat pipeline frames each record as KEY<KD>VALUE<RD> with multi-byte
# delimiters that Avro values are vanishingly unlikely to contain (the
# fidelity check below proves they did not): the usual `-K'\t'` with newline
# records would split every value that holds a 0x0a or 0x09 byte. It still
# loses headers, timestamps, partition numbers, exactly-once and resume; see
# bench/README.md.
KD='<~evctl:key~>'
RD='<~evctl:rec~>'
# shellcheck disable=SC2206
replay_flags=($REPLAY_FLAGS)
rf=${replay_flags[*]:-}
cmd_evctl="\"$evctl\" replay $TOPIC --to-topic \"\$1\" --create --no-progress $rf $COPY_FLAGS"
cmd_evctl_p1="$cmd_evctl --parallel 1"
cmd_kcat="kcat -C -b \"$EVCTL_BROKERS\" -t $TOPIC -e -o beginning -q -f '%k$KD%s$RD' | kcat -P -b \"$EVCTL_BROKERS\" -t \"\$1\" -K '$KD' -D '$RD'"
cmd_proj_file="\"$evctl\" replay $TOPIC --projection \"$PROJECTION\" --to-file /dev/null --no-progress $rf"
cmd_proj_topic="\"$evctl\" replay $TOPIC --projection \"$PROJECTION\" --to-topic \"\$1\" --create --no-progress $rf"

# shellcheck disable=SC2206
tools=($TOOLS)
declare -A cmd=([evctl]=$cmd_evctl [evctl_p1]=$cmd_evctl_p1 [kcat]=$cmd_kcat [proj_file]=$cmd_proj_file [proj_topic]=$cmd_proj_topic)
for t in "${tools[@]}"; do [[ -n ${cmd[$t]:-} ]] || die "unknown tool '$t' in TOOLS (have: ${!cmd[*]})"; done
[[ " ${tools[*]} " == *" evctl "* && " ${tools[*]} " == *" kcat "* ]] || die "TOOLS must hold evctl and kcat: the report compares them"
has() { [[ " ${tools[*]} " == *" $1 "* ]]; }
declare -A label=(
	[evctl]="evctl replay --to-topic"
	[evctl_p1]="evctl replay --parallel 1"
	[kcat]="kcat -C -e | kcat -P"
	[proj_file]="projection --to-file"
	[proj_topic]="projection --to-topic"
)

# The embedded broker's CPU seconds so far (user+sys), when this script
# started it: it runs on the same cores as the commands. Empty on a real
# cluster, whose brokers are not ours to watch.
broker_pid=
[[ -z ${KAFKA:-} && -n ${dev_pid:-} ]] && broker_pid=$dev_pid
clk_tck=$(getconf CLK_TCK)
broker_cpu() { [[ -n $broker_pid ]] || return 0; awk -v hz="$clk_tck" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$broker_pid/stat"; }

# One run: wall seconds, peak RSS (KB), CPU seconds (user+sys, children
# included: both kcats for the pipeline) and the embedded broker's CPU
# seconds go into the tables below.
declare -A times=() cpus=() max_rss_kb=() bcpus=()
run_once() { # tool round
	local t=$1 r=$2 d rc=0 start end b0
	d=$(dst "$t" "$r")
	[[ $t == kcat ]] && create_topic "$d" # outside the timing; evctl's --create is inside
	b0=$(broker_cpu)
	start=$(date +%s%N)
	/usr/bin/time -f '%M %U %S' -o "$tmp/time.$t.$r" \
		bash -c "set -o pipefail; ${cmd[$t]}" _ "$d" >/dev/null 2>"$tmp/$t.err.$r" || rc=$?
	end=$(date +%s%N)
	((rc == 0)) || { cat "$tmp/$t.err.$r" >&2; die "$t: round $r exited $rc"; }
	# every run must have handled every record (cheap: parse evctl's summary)
	case $t in
	evctl*) grep -q "^replayed $EVENTS records into " "$tmp/$t.err.$r" ||
		{ cat "$tmp/$t.err.$r" >&2; die "$t: round $r did not replay $EVENTS records"; } ;;
	proj_*) grep -q "^folded $EVENTS events into $ACCOUNTS aggregates" "$tmp/$t.err.$r" ||
		{ cat "$tmp/$t.err.$r" >&2; die "$t: round $r did not fold $EVENTS events into $ACCOUNTS aggregates"; } ;;
	esac
	local kb u s
	read -r kb u s < <(tail -n1 "$tmp/time.$t.$r")
	((kb > ${max_rss_kb[$t]:-0})) && max_rss_kb[$t]=$kb
	times[$t]+="$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", (b - a) / 1e9}') "
	cpus[$t]+="$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.2f", u + s}') "
	[[ -z $broker_pid ]] || bcpus[$t]+="$(awk -v a="$b0" -v b="$(broker_cpu)" 'BEGIN {printf "%.2f", b - a}') "
}

# ---- verification pass (round 0, untimed; also warms up the broker) ---------
src_n=$(count_records "$TOPIC")
[[ $src_n -eq $EVENTS ]] || die "$TOPIC holds $src_n records, want $EVENTS"
for t in "${tools[@]}"; do
	run_once "$t" 0
	case $t in
	evctl* | kcat) n=$(count_records "$(dst "$t" 0)") || die "$t: count failed" ;;
	proj_topic) n=$(count_keys "$(dst "$t" 0)") || die "$t: count failed" ;;
	proj_file) n=$ACCOUNTS ;; # checked from the summary line by run_once
	esac
	want=$EVENTS
	[[ $t == proj_* ]] && want=$ACCOUNTS
	[[ $n -eq $want ]] || die "$t: destination holds $n records, want $want"
	log "$t: $n records ✓"
done
# What a newline-delimited pipeline (kcat -f '%k\t%s\n' | kcat -P -K'\t')
# would have produced: one record per line, many of them cut mid-value.
naive_n=$(bash -c "set -o pipefail; kcat -C -b \"$EVCTL_BROKERS\" -t $TOPIC -e -o beginning -q -f '%k\t%s\n' | wc -l")
log "a newline-delimited kcat pipeline would produce $naive_n records from $EVENTS"

# Fidelity, field by field: sha256 of the sorted lines, per property.
declare -A fid=()
if [[ $FIDELITY == 1 ]]; then
	tpl=$'{{.partition}}\t{{.timestamp}}\t{{json .headerList}}\t{{.rawKey}}\t{{.rawValue}}'
	dump() { # topic file
		"$evctl" tail "$1" --from start --to end --raw --template "$tpl" >"$2" ||
			die "could not read $1 for the fidelity check"
	}
	digest() { # file property
		case $2 in
		kv) cut -f4,5 "$1" | LC_ALL=C sort -S 25% | sha256sum ;;
		order) LC_ALL=C sort -s -t$'\t' -k1,1n -S 25% "$1" | cut -f1,4,5 | sha256sum ;;
		keyorder) LC_ALL=C sort -s -t$'\t' -k4,4 -S 25% "$1" | cut -f4,5 | sha256sum ;;
		ts) cut -f2,4,5 "$1" | LC_ALL=C sort -S 25% | sha256sum ;;
		hdr) cut -f3,4,5 "$1" | LC_ALL=C sort -S 25% | sha256sum ;;
		esac
	}
	log "fidelity: reading $TOPIC and both copies"
	dump "$TOPIC" "$tmp/src.tsv"
	for t in evctl kcat; do
		dump "$(dst "$t" 0)" "$tmp/$t.tsv"
		for p in kv keyorder order ts hdr; do
			[[ -n ${fid[src.$p]:-} ]] || fid[src.$p]=$(digest "$tmp/src.tsv" $p)
			if [[ $(digest "$tmp/$t.tsv" $p) == "${fid[src.$p]}" ]]; then fid[$t.$p]=same; else fid[$t.$p]=DIFFERENT; fi
		done
		rm -f "$tmp/$t.tsv"
	done
	rm -f "$tmp/src.tsv"
	for p in kv keyorder order ts hdr; do
		[[ ${fid[evctl.$p]} == same ]] || die "evctl's copy is not faithful: $p differs from $TOPIC"
	done
	# a pipeline that mangles keys or values would not be a fair comparison
	[[ ${fid[kcat.kv]} == same ]] || die "the kcat pipeline changed key/value bytes (a delimiter inside a value?)"
	log "fidelity: evctl same on all; kcat key+value ${fid[kcat.kv]}, per-key order ${fid[kcat.keyorder]}, partition order ${fid[kcat.order]}, timestamps ${fid[kcat.ts]}, headers ${fid[kcat.hdr]}"
fi

# ---- timed runs ------------------------------------------------------------
times=() cpus=() max_rss_kb=() bcpus=()
for ((r = 1; r <= RUNS; r++)); do
	# rotate the order each round so no tool always runs first (or last)
	order=()
	for ((i = 0; i < ${#tools[@]}; i++)); do
		order+=("${tools[$(((i + r - 1) % ${#tools[@]}))]}")
	done
	for t in "${order[@]}"; do run_once "$t" "$r"; done
	line=
	for t in "${tools[@]}"; do line+=" $t $(last "${times[$t]}")s"; done
	log "round $r/$RUNS:$line"
done

declare -A med=() rps=() cpu=() rss=() bcpu=()
for t in "${tools[@]}"; do
	med[$t]=$(echo "${times[$t]}" | median)
	cpu[$t]=$(echo "${cpus[$t]}" | median)
	bcpu[$t]=n/a
	[[ -z $broker_pid ]] || bcpu[$t]=$(echo "${bcpus[$t]}" | median)
	rps[$t]=$(awk -v n="$EVENTS" -v s="${med[$t]}" 'BEGIN {printf "%d", n / s}')
	rss[$t]=$(awk -v k="${max_rss_kb[$t]}" 'BEGIN {printf "%.1f", k / 1024}')
done
vs_kcat=$(ratio "${rps[evctl]}" "${rps[kcat]}")
cpu_vs_kcat=$(ratio "${cpu[kcat]}" "${cpu[evctl]}")
replay_mark=$(mark "$vs_kcat" 1)
pf_mark=n/a pt_mark=n/a
has proj_file && pf_mark=$(mark "${rps[proj_file]}" 400000)
has proj_topic && pt_mark=$(mark "${rps[proj_topic]}" 400000)

# ---- report ----------------------------------------------------------------
echo
echo "evctl replay benchmark: $EVENTS events / $ACCOUNTS aggregates of $TOPIC on $broker, $RUNS runs each (median, order rotated), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '%-26s %9s %10s %8s %8s %12s %9s  %s\n' command median_s events/s vs_kcat cpu_s broker_cpu_s rss_MB runs_s
for t in "${tools[@]}"; do
	printf '%-26s %9s %10s %8s %8s %12s %9s  %s\n' "${label[$t]}" "${med[$t]}" "${rps[$t]}" \
		"$(ratio "${rps[$t]}" "${rps[kcat]}")" "${cpu[$t]}" "${bcpu[$t]}" "${rss[$t]}" "${times[$t]% }"
done
echo "  (cpu_s: median user+sys; broker_cpu_s: the embedded broker's, n/a on a real cluster; rss_MB: peak over runs — for the pipeline, the larger kcat)"
if [[ $FIDELITY == 1 ]]; then
	echo
	echo "fidelity vs $TOPIC (sha256 of sorted records, checked once):"
	printf '  %-38s %-10s %s\n' property evctl kcat
	printf '  %-38s %-10s %s\n' "key and value bytes" "${fid[evctl.kv]}" "${fid[kcat.kv]}"
	printf '  %-38s %-10s %s\n' "order of each key's events" "${fid[evctl.keyorder]}" "${fid[kcat.keyorder]}"
	printf '  %-38s %-10s %s\n' "partition and order within it" "${fid[evctl.order]}" "${fid[kcat.order]}"
	printf '  %-38s %-10s %s\n' "timestamps" "${fid[evctl.ts]}" "${fid[kcat.ts]}"
	printf '  %-38s %-10s %s\n' "headers" "${fid[evctl.hdr]}" "${fid[kcat.hdr]}"
	printf '  %-38s %-10s %s\n' "exactly once, resumable" "yes" "no"
fi
echo "  a newline-delimited kcat pipeline would have produced $naive_n records from $EVENTS"
echo
echo "targets (shared/DESIGN.md):"
printf '  %-46s %-5s %s\n' "evctl replay rate >= the kcat pipeline's" "$replay_mark" "ratio $vs_kcat (CPU-s ratio $cpu_vs_kcat)"
has proj_file && printf '  %-46s %-5s %s\n' "projection rebuild >= 400,000 events/s (file)" "$pf_mark" "${rps[proj_file]} events/s"
has proj_topic && printf '  %-46s %-5s %s\n' "projection rebuild >= 400,000 events/s (topic)" "$pt_mark" "${rps[proj_topic]} events/s"
echo
for t in evctl_p1 proj_file proj_topic; do has $t || { cpu[$t]=; med[$t]=; rps[$t]=; rss[$t]=; }; done
echo "RESULT broker=${broker// /_} events=$EVENTS accounts=$ACCOUNTS runs=$RUNS evctl_replay_cpu_s=${cpu[evctl]} evctl_replay_p1_cpu_s=${cpu[evctl_p1]} kcat_pipe_cpu_s=${cpu[kcat]} evctl_replay_broker_cpu_s=${bcpu[evctl]} kcat_pipe_broker_cpu_s=${bcpu[kcat]} proj_file_cpu_s=${cpu[proj_file]} proj_topic_cpu_s=${cpu[proj_topic]} evctl_replay_s=${med[evctl]} evctl_replay_p1_s=${med[evctl_p1]} kcat_pipe_s=${med[kcat]} proj_file_s=${med[proj_file]} proj_topic_s=${med[proj_topic]} evctl_replay_rps=${rps[evctl]} kcat_pipe_rps=${rps[kcat]} proj_file_eps=${rps[proj_file]} proj_topic_eps=${rps[proj_topic]} vs_kcat_pipe=$vs_kcat evctl_replay_rss_mb=${rss[evctl]} proj_file_rss_mb=${rss[proj_file]} proj_topic_rss_mb=${rss[proj_topic]} replay_target=$replay_mark projection_target=$pf_mark"
