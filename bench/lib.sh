# bench/lib.sh — what the benchmarks share, sourced by tail.sh and replay.sh
# after they set EVENTS, RUNS, ACCOUNTS and DEV_DEADLINE: log/die, the tools
# (kcat, /usr/bin/time, installed when missing), a temp dir cleaned up on
# exit, an evctl binary ($evctl) and a seeded cluster (EVCTL_BROKERS and
# EVCTL_REGISTRY exported; reused when EVCTL_BROKERS is already set): the
# embedded kfake broker of `evctl dev`, or with KAFKA=host:port,... a real
# cluster (scripts/kafka.sh start) that `evctl dev --kafka` seeds.
# $broker names which, for the reports (BROKER=... overrides it).

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] FAIL: %s\n' "$*" >&2; exit 1; }

[[ -f go.mod && -d cmd/evctl ]] || die "run from the repo root: bash $0 [EVENTS]"
[[ $EVENTS =~ ^[0-9]+$ && $EVENTS -gt 0 ]] || die "EVENTS must be a positive integer, got '$EVENTS'"
[[ $RUNS =~ ^[0-9]+$ && $RUNS -gt 0 ]] || die "RUNS must be a positive integer, got '$RUNS'"

# ---- tools -----------------------------------------------------------------
need_apt=()
command -v kcat >/dev/null || need_apt+=(kcat)
[[ -x /usr/bin/time ]] || need_apt+=(time)
if ((${#need_apt[@]})); then
	log "installing ${need_apt[*]}"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/evctl-bench.XXXXXX")
dev_pid=
cleanup() {
	if [[ -n $dev_pid ]] && kill -0 "$dev_pid" 2>/dev/null; then
		kill "$dev_pid" 2>/dev/null || true
		wait "$dev_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -n ${EVCTL_BIN:-} ]]; then
	evctl=$EVCTL_BIN
else
	log "building evctl"
	go build -o "$tmp/evctl" ./cmd/evctl
	evctl=$tmp/evctl
fi

# ---- sandbox ---------------------------------------------------------------
if [[ -n ${EVCTL_BROKERS:-} ]]; then
	log "reusing the running sandbox at EVCTL_BROKERS=$EVCTL_BROKERS"
	broker=${BROKER:-EVCTL_BROKERS}
else
	where=(--broker-port 0)
	broker=${BROKER:-kfake}
	if [[ -n ${KAFKA:-} ]]; then
		where=(--kafka "$KAFKA") # the bank topics must not exist there yet
		broker=${BROKER:-Apache Kafka}
	fi
	log "starting evctl dev ($broker): $ACCOUNTS accounts, $EVENTS events"
	seed_start=$(date +%s.%N)
	"$evctl" dev "${where[@]}" --registry-port 0 --accounts "$ACCOUNTS" \
		--events "$EVENTS" --env-file "$tmp/dev.env" >"$tmp/dev.out" 2>"$tmp/dev.err" &
	dev_pid=$!
	deadline=$((SECONDS + DEV_DEADLINE))
	until [[ -s $tmp/dev.env ]]; do
		if ! kill -0 "$dev_pid" 2>/dev/null; then
			cat "$tmp/dev.err" >&2 || true
			die "evctl dev exited before writing $tmp/dev.env"
		fi
		((SECONDS < deadline)) || { cat "$tmp/dev.err" >&2 || true; die "evctl dev not ready after ${DEV_DEADLINE}s"; }
		sleep 0.2
	done
	sleep 0.2 # the file is written in one go, but be safe against a partial read
	# shellcheck disable=SC1091
	. "$tmp/dev.env"
	seed_s=$(awk -v a="$seed_start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
	log "sandbox ready in ${seed_s}s: EVCTL_BROKERS=$EVCTL_BROKERS EVCTL_REGISTRY=${EVCTL_REGISTRY:-}"
fi
export EVCTL_BROKERS EVCTL_REGISTRY

# ---- statistics ------------------------------------------------------------
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
mark() { awk -v v="$1" -v t="$2" 'BEGIN {print (v >= t) ? "PASS" : "MISS"}'; }
last() { awk '{print $NF}' <<<"$1"; }
