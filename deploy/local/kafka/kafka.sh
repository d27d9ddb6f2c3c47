#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, combined broker+controller) run with plain java from Maven Central jars.
# Usage: kafka.sh fetch|start|stop|status|reset        env: SYNCLINE_HOME (default .local), KAFKA_PORT, KAFKA_CTRL_PORT,
#                                                             KAFKA_SECURITY (sasl, the default, or plaintext),
#                                                             KAFKA_LIBS (jars fetched elsewhere, e.g. .local/kafka/libs)
# Secured (the default): clients authenticate with SASL/SCRAM-SHA-512 and KRaft's StandardAuthorizer holds them to
# their ACLs. The services' own principal (`syncline`, the only super user) is bootstrapped when the storage is
# formatted; its credentials are written to $STATE/credentials.json (mode 0600), where Syncline's services and tests
# find them (`syncline_platform.kafka.client_options`). The controller listener takes SASL/PLAIN from that principal
# only. A data folder formatted the other way is formatted again (local data only), saying so.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
STATE="${SYNCLINE_HOME:-$ROOT/.local}/kafka"
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CTRL_PORT="${KAFKA_CTRL_PORT:-19093}"
LIBS="${KAFKA_LIBS:-$STATE/libs}"; DATA="$STATE/data"; CFG="$STATE/server.properties"
PIDF="$STATE/kafka.pid"; LOGF="$STATE/kafka.log"
SECURITY="${KAFKA_SECURITY:-sasl}"
CREDS="$STATE/credentials.json"; PASSF="$STATE/syncline.password"; MODEF="$DATA/.security"
SERVICE_USER="syncline"
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

password() {
  if [ ! -s "$PASSF" ]; then
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$PASSF")
  fi
  cat "$PASSF"
}

listeners_plaintext() {
  cat <<PROPS
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CTRL_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CTRL_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
PROPS
}

listeners_sasl() {
  local pw; pw="$(password)"
  cat <<PROPS
listeners=SASL_PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CTRL_PORT
advertised.listeners=SASL_PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CTRL_PORT
inter.broker.listener.name=SASL_PLAINTEXT
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
sasl.mechanism.controller.protocol=PLAIN
listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$SERVICE_USER" password="$pw";
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$SERVICE_USER" password="$pw" user_$SERVICE_USER="$pw";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:$SERVICE_USER
allow.everyone.if.no.acl.found=false
PROPS
}

write_credentials() {
  rm -f "$CREDS"
  [ "$SECURITY" = sasl ] || return 0
  (umask 077; cat > "$CREDS" <<JSON
{"bootstrap_servers": "127.0.0.1:$KAFKA_PORT", "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512", "username": "$SERVICE_USER", "password": "$(password)"}
JSON
  )
}

write_config() {
  mkdir -p "$DATA"
  (umask 077; {
    cat <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CTRL_PORT
controller.listener.names=CONTROLLER
PROPS
    if [ "$SECURITY" = sasl ]; then listeners_sasl; else listeners_plaintext; fi
    cat <<PROPS
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
  } > "$CFG")
  chmod 600 "$CFG"
}

running() { [ -f "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null; }

format() {
  local cid
  cid="$(java $LOG4J -cp "$LIBS/*" kafka.tools.StorageTool random-uuid)"
  local scram=()
  [ "$SECURITY" = sasl ] && scram=(--add-scram "SCRAM-SHA-512=[name=$SERVICE_USER,password=$(password)]")
  java $LOG4J -cp "$LIBS/*" kafka.tools.StorageTool format --standalone --ignore-formatted \
    --cluster-id "$cid" --config "$CFG" "${scram[@]}" >/dev/null
  echo "$SECURITY" > "$MODEF"
}

formatted_as() {  # a data folder from before this script secured brokers has no mark: it is plaintext
  [ -f "$DATA/meta.properties" ] || { echo none; return; }
  if [ -f "$MODEF" ]; then cat "$MODEF"; else echo plaintext; fi
}

start() {
  case "$SECURITY" in sasl|plaintext) ;; *) echo "KAFKA_SECURITY must be sasl or plaintext" >&2; exit 2 ;; esac
  if running; then
    echo "kafka already running (pid $(cat "$PIDF")) on 127.0.0.1:$KAFKA_PORT ($(formatted_as))"
    [ "$(formatted_as)" = "$SECURITY" ] || echo "kafka: it runs $(formatted_as), not $SECURITY: restart it (kafka.sh stop; kafka.sh start) to switch" >&2
    return 0
  fi
  fetch
  local was; was="$(formatted_as)"
  if [ "$was" != none ] && [ "$was" != "$SECURITY" ]; then
    echo "kafka: the data folder $DATA was formatted $was; formatting it again $SECURITY (its local topics are dropped)" >&2
    rm -rf "$DATA"
  fi
  write_config
  [ -f "$DATA/meta.properties" ] || format
  write_credentials
  # every partition holds several open files: lift the descriptor limit as far as we may
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  nohup java $JVM_OPTS $LOG4J -cp "$LIBS/*" kafka.Kafka "$CFG" >"$LOGF" 2>&1 &
  echo $! > "$PIDF"
  echo "kafka started (pid $(cat "$PIDF")) on 127.0.0.1:$KAFKA_PORT ($SECURITY), log $LOGF"
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
  reset) stop; rm -rf "$DATA" "$CREDS" ;;
  *) echo "usage: $0 fetch|start|stop|status|reset" >&2; exit 2 ;;
esac
