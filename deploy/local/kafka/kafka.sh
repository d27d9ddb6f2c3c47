#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, combined broker+controller) run with plain java from Maven Central jars.
# Usage: kafka.sh fetch|start|stop|status|reset        env: SYNCLINE_HOME (default .local), KAFKA_PORT, KAFKA_CTRL_PORT
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
STATE="${SYNCLINE_HOME:-$ROOT/.local}/kafka"
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CTRL_PORT="${KAFKA_CTRL_PORT:-19093}"
LIBS="$STATE/libs"; DATA="$STATE/data"; CFG="$STATE/server.properties"
PIDF="$STATE/kafka.pid"; LOGF="$STATE/kafka.log"
JVM_OPTS="${KAFKA_JVM_OPTS:--Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}"
LOG4J="-Dlog4j2.configurationFile=file:$HERE/log4j2.properties"

need_java() {
  command -v java >/dev/null && command -v mvn >/dev/null && return 0
  echo "installing java and maven from Debian's packages" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless maven >/dev/null
}

fetch() {
  [ -f "$LIBS/.complete" ] && return 0
  need_java
  mkdir -p "$LIBS"
  mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS"
  touch "$LIBS/.complete"
}

write_config() {
  mkdir -p "$DATA"
  cat > "$CFG" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CTRL_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CTRL_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CTRL_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
auto.create.topics.enable=true
log.retention.hours=48
file.delete.delay.ms=1000
PROPS
}

running() { [ -f "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null; }

format() {
  local cid
  cid="$(java $LOG4J -cp "$LIBS/*" kafka.tools.StorageTool random-uuid)"
  java $LOG4J -cp "$LIBS/*" kafka.tools.StorageTool format --standalone --ignore-formatted \
    --cluster-id "$cid" --config "$CFG" >/dev/null
}

start() {
  if running; then echo "kafka already running (pid $(cat "$PIDF")) on 127.0.0.1:$KAFKA_PORT"; return 0; fi
  fetch
  write_config
  [ -f "$DATA/meta.properties" ] || format
  # every partition holds several open files: lift the descriptor limit as far as we may
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  nohup java $JVM_OPTS $LOG4J -cp "$LIBS/*" kafka.Kafka "$CFG" >"$LOGF" 2>&1 &
  echo $! > "$PIDF"
  echo "kafka started (pid $(cat "$PIDF")) on 127.0.0.1:$KAFKA_PORT, log $LOGF"
}

stop() {
  running || { rm -f "$PIDF"; return 0; }
  local pid; pid="$(cat "$PIDF")"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  rm -f "$PIDF"
  echo "kafka stopped"
}

status() {
  if running; then
    echo "kafka: running (pid $(cat "$PIDF"), rss $(($(awk '/VmRSS/{print $2}' /proc/"$(cat "$PIDF")"/status) / 1024)) MB) on 127.0.0.1:$KAFKA_PORT"
  else
    echo "kafka: stopped"
  fi
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) stop; rm -rf "$DATA" ;;
  *) echo "usage: $0 fetch|start|stop|status|reset" >&2; exit 2 ;;
esac
