#!/usr/bin/env bash
# kafka.sh: a local Apache Kafka 4.4 cluster (KRaft) for evctl's real test tier.
#
#   scripts/kafka.sh start [--nodes N] [--dir D]   start N nodes (default 3), print export lines
#   scripts/kafka.sh stop  [--dir D]               stop exactly the processes start recorded
#   scripts/kafka.sh env   [--dir D]               print the export lines again
#   scripts/kafka.sh kill-node I [--dir D]         SIGKILL node I (a hard bounce, for fault tests)
#   scripts/kafka.sh stop-node I [--dir D]         stop node I cleanly (SIGTERM, then wait)
#   scripts/kafka.sh start-node I [--dir D]        start node I again and wait until it is back
#
#   eval "$(scripts/kafka.sh start)"; go test ./...; scripts/kafka.sh stop
#
# Every node is a combined broker and controller on loopback, with three
# client listeners: PLAINTEXT ($EVCTL_TEST_KAFKA), SASL_PLAINTEXT with
# SCRAM-SHA-512 ($EVCTL_TEST_KAFKA_SASL; user and password created at start)
# and SSL ($EVCTL_TEST_KAFKA_SSL; a CA and a server certificate generated at
# start, the CA in $EVCTL_TEST_KAFKA_CA). Internal topics, and topics created
# without a replication factor, have replication factor 3 (or N if smaller).
#
# The broker's jars come from kafka/pom.xml beside this script, fetched once
# with Maven into $EVCTL_KAFKA_CACHE (default ~/.cache/evctl/kafka-<pom hash>).
# Needs a JDK 17+ (javac compiles its helper once), Maven and openssl. Progress goes to stderr, exports to stdout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${EVCTL_TEST_KAFKA_DIR:-${TMPDIR:-/tmp}/evctl-kafka}
nodes=3
heap=${EVCTL_KAFKA_HEAP:-768m}
marker=.evctl-kafka # in a dir that start made, so start and stop never touch another

die() { echo "kafka.sh: $*" >&2; exit 2; }
say() { echo "kafka.sh: $*" >&2; }

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

cmd=${1:-}; [ -n "$cmd" ] || usage; shift
node_arg=
case $cmd in
  kill-node|stop-node|start-node) node_arg=${1:-}; [ -n "$node_arg" ] || usage; shift ;;
esac
while [ $# -gt 0 ]; do
  case $1 in
    --nodes) nodes=${2:?--nodes needs a number}; shift 2 ;;
    --dir) dir=${2:?--dir needs a directory}; shift 2 ;;
    -h|--help) usage ;;
    *) die "unknown argument $1 (see scripts/kafka.sh --help)" ;;
  esac
done
[[ $nodes =~ ^[1-9][0-9]*$ ]] || die "--nodes wants a positive number, not $nodes"
dir=$(mkdir -p "$dir" && cd "$dir" && pwd)

cache_libs() {
  local sum cache
  sum=$(sha256sum "$here/kafka/pom.xml" | cut -c1-12)
  cache=${EVCTL_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/evctl/kafka-$sum}
  if [ ! -f "$cache/complete" ]; then
    command -v mvn >/dev/null || die "Maven (mvn) is needed once to fetch the broker's jars"
    say "fetching Apache Kafka's jars into $cache"
    rm -rf "$cache/libs"; mkdir -p "$cache"
    mvn -q -B -Dstyle.color=never -f "$here/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$cache/libs" -DincludeScope=runtime >&2 ||
      die "mvn could not fetch the jars (see its output above)"
    touch "$cache/complete"
  fi
  echo "$cache/libs"
}

# node_pid I prints node I's recorded PID if that process is still the broker
# this cluster started (its command line names this cluster's directory).
node_pid() {
  local f=$dir/node-$1/pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$dir/node-$1/server.properties" || return 1
  echo "$pid"
}

node_count() { ls -d "$dir"/node-* 2>/dev/null | wc -l; }

# tool runs KafkaTool, compiled once into the jars' cache (a source launch
# compiled it at every call: 4 s of CPU, 10-15 s on a loaded machine, at
# each start-node of a fault test). A short-lived JVM: C1 only.
tool() {
  local classes
  classes=$(dirname "$libs")/tool-$(sha256sum "$here/kafka/KafkaTool.java" | cut -c1-12)
  if [ ! -f "$classes/KafkaTool.class" ]; then
    command -v javac >/dev/null || die "javac (a JDK 17+, not just a JRE) is needed to compile $here/kafka/KafkaTool.java"
    rm -rf "$classes.$$"
    javac -nowarn -d "$classes.$$" -cp "$libs/*" "$here/kafka/KafkaTool.java" || die "compiling KafkaTool.java failed"
    mv -T "$classes.$$" "$classes" 2>/dev/null || rm -rf "$classes.$$" # another caller compiled it first
  fi
  java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$classes:$libs/*" KafkaTool "$@"
}

launch_node() {
  local i=$1 n=$dir/node-$1
  # The server runs detached from the caller's terminal; its output goes to files.
  java -Xms256m -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:ParallelGCThreads=1 -XX:ConcGCThreads=1 -XX:CICompilerCount=2 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true -Dkafka.logs.dir="$n" -Dlog4j2.configurationFile="$dir/log4j2.xml" \
    -cp "$libs/*" kafka.Kafka "$n/server.properties" >"$n/stdout.log" 2>&1 </dev/null &
  echo $! >"$n/pid"
}

# wait_brokers N waits until N brokers are in the metadata, and gives up
# as soon as a node this script launched has exited (a broker that cannot
# bind its port, say) rather than after the whole timeout.
wait_brokers() {
  local want=$1 waiter i
  tool wait "$want" "${EVCTL_KAFKA_START_TIMEOUT:-180}" "$dir/env" &
  waiter=$!
  while kill -0 "$waiter" 2>/dev/null; do
    for i in $(seq 1 "$(node_count)"); do
      if [ -f "$dir/node-$i/pid" ] && ! node_pid "$i" >/dev/null; then
        kill "$waiter" 2>/dev/null; wait "$waiter" 2>/dev/null
        say "node $i exited while starting; its last errors, from $dir/node-$i/server.log:"
        grep -E 'ERROR|FATAL' "$dir/node-$i/server.log" | tail -n 5 >&2
        return 1
      fi
    done
    sleep 0.5
  done
  if ! wait "$waiter"; then
    for f in "$dir"/node-*/stdout.log; do say "last lines of $f:"; tail -n 5 "$f" >&2; done
    return 1
  fi
}

make_tls() {
  local t=$dir/tls pass=$1
  mkdir -p "$t"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=evctl test CA" \
    -keyout "$t/ca.key" -out "$t/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$t/server.key" -out "$t/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$t/san.ext"
  openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
    -days 30 -extfile "$t/san.ext" -out "$t/server.pem" 2>/dev/null
  openssl pkcs12 -export -in "$t/server.pem" -inkey "$t/server.key" -certfile "$t/ca.pem" \
    -name broker -passout "pass:$pass" -out "$t/server.p12"
}

start() {
  command -v java >/dev/null || die "Java 17 or newer is needed to run Apache Kafka"
  command -v openssl >/dev/null || die "openssl is needed to make the TLS listener's certificates"
  if [ -f "$dir/$marker" ]; then
    for i in $(seq 1 "$(node_count)"); do
      node_pid "$i" >/dev/null && die "a cluster is already running in $dir (scripts/kafka.sh stop --dir $dir)"
    done
    rm -rf "$dir"/node-* "$dir/tls" "$dir/env"
  elif [ -n "$(ls -A "$dir")" ]; then
    die "$dir is not empty and not a kafka.sh cluster; name another with --dir"
  fi
  touch "$dir/$marker"
  libs=$(cache_libs)

  local rf=$(( nodes < 3 ? nodes : 3 )) isr=$(( nodes < 2 ? 1 : 2 ))
  local ports i voters="" plain="" sasl="" ssl=""
  mapfile -t ports < <(tool ports $(( nodes * 4 )))
  for i in $(seq 1 "$nodes"); do
    local b=$(( (i - 1) * 4 ))
    voters+="${voters:+,}$i@127.0.0.1:${ports[b+3]}"
    plain+="${plain:+,}127.0.0.1:${ports[b]}"
    sasl+="${sasl:+,}127.0.0.1:${ports[b+1]}"
    ssl+="${ssl:+,}127.0.0.1:${ports[b+2]}"
  done
  local user=evctl password storepass cluster_id
  password=$(openssl rand -hex 12)
  storepass=$(openssl rand -hex 12)
  cluster_id=evctlTest$(openssl rand -hex 6)A # testkafka.ClusterIDPrefix: the real tier cleans only such clusters
  make_tls "$storepass"

  cat >"$dir/log4j2.xml" <<'EOF'
<Configuration status="warn">
  <Appenders>
    <File name="file" fileName="${sys:kafka.logs.dir}/server.log">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Root level="info"><AppenderRef ref="file"/></Root>
    <Logger name="kafka.request.logger" level="warn"/>
    <Logger name="state.change.logger" level="warn"/>
  </Loggers>
</Configuration>
EOF

  for i in $(seq 1 "$nodes"); do
    local b=$(( (i - 1) * 4 )) n=$dir/node-$i
    mkdir -p "$n/data"
    cat >"$n/server.properties" <<EOF
node.id=$i
process.roles=broker,controller
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:${ports[b]},SASL_PLAINTEXT://127.0.0.1:${ports[b+1]},SSL://127.0.0.1:${ports[b+2]},CONTROLLER://127.0.0.1:${ports[b+3]}
advertised.listeners=PLAINTEXT://127.0.0.1:${ports[b]},SASL_PLAINTEXT://127.0.0.1:${ports[b+1]},SSL://127.0.0.1:${ports[b+2]}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$n/data

sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$dir/tls/server.p12
ssl.keystore.password=$storepass
ssl.client.auth=none

offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
default.replication.factor=$rf
num.partitions=1
# Test data carries historical timestamps (the sandbox's bank spreads over
# the week before a fixed date): time-based retention would delete it
# within minutes, segment by segment.
log.retention.ms=-1
group.initial.rebalance.delay.ms=0

num.network.threads=2
num.io.threads=2
background.threads=2
num.replica.fetchers=1
log.cleaner.threads=1
EOF
  done

  { printf "export EVCTL_TEST_KAFKA='%s'\n" "$plain"
    printf "export EVCTL_TEST_KAFKA_SASL='%s'\n" "$sasl"
    printf "export EVCTL_TEST_KAFKA_USER='%s'\n" "$user"
    printf "export EVCTL_TEST_KAFKA_PASSWORD='%s'\n" "$password"
    printf "export EVCTL_TEST_KAFKA_SSL='%s'\n" "$ssl"
    printf "export EVCTL_TEST_KAFKA_CA='%s'\n" "$dir/tls/ca.pem"
    printf "export EVCTL_TEST_KAFKA_DIR='%s'\n" "$dir"
  } >"$dir/env"

  say "formatting $nodes KRaft nodes in $dir"
  local pids=()
  for i in $(seq 1 "$nodes"); do
    java -cp "$libs/*" -Dlog4j2.configurationFile="$dir/log4j2.xml" -Dkafka.logs.dir="$dir/node-$i" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/node-$i/server.properties" \
      --add-scram "SCRAM-SHA-512=[name=$user,password=$password]" >"$dir/node-$i/format.log" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[i]}" || { cat "$dir/node-$((i + 1))/format.log" >&2; die "formatting node $((i + 1)) failed"; }
  done

  for i in $(seq 1 "$nodes"); do launch_node "$i"; done
  say "waiting for $nodes brokers on every listener"
  if ! wait_brokers "$nodes"; then
    stop >/dev/null
    die "the cluster did not come up; logs are in $dir/node-*/server.log"
  fi
  say "$nodes nodes up (logs in $dir/node-*/server.log)"
  cat "$dir/env"
}

# stop_node I SIGNAL ends node I's recorded process and waits for it to exit.
stop_node() {
  local i=$1 sig=$2 pid t
  pid=$(node_pid "$i") || return 0
  kill "-$sig" "$pid" 2>/dev/null || return 0
  for t in $(seq 1 300); do
    [ -d "/proc/$pid" ] || break
    # Tolerate a zombie: the process has exited when its state is Z.
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
    [ "$t" = 200 ] && kill -KILL "$pid" 2>/dev/null # 20 s after SIGTERM
    sleep 0.1
  done
  rm -f "$dir/node-$i/pid"
}

stop() {
  [ -f "$dir/$marker" ] || die "no kafka.sh cluster in $dir"
  local i
  # Brokers first, in parallel: a clean shutdown needs the controller quorum.
  for i in $(seq 1 "$(node_count)"); do stop_node "$i" TERM & done
  wait
  say "stopped the cluster in $dir"
}

need_node() {
  [ -f "$dir/$marker" ] && [ -f "$dir/env" ] || die "no kafka.sh cluster in $dir"
  [ -f "$dir/node-$node_arg/server.properties" ] || die "no node $node_arg in $dir"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  env) [ -f "$dir/env" ] || die "no kafka.sh cluster in $dir (scripts/kafka.sh start --dir $dir)"; cat "$dir/env" ;;
  kill-node) need_node; stop_node "$node_arg" KILL; say "node $node_arg killed" ;;
  stop-node) need_node; stop_node "$node_arg" TERM; say "node $node_arg stopped" ;;
  start-node)
    need_node
    node_pid "$node_arg" >/dev/null && die "node $node_arg is running"
    libs=$(cache_libs)
    launch_node "$node_arg"
    wait_brokers "$(node_count)" || die "node $node_arg did not come back; see $dir/node-$node_arg/server.log"
    say "node $node_arg is back" ;;
  *) usage ;;
esac
