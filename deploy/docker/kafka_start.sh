#!/usr/bin/env bash
# The compose broker's entrypoint (apache/kafka image), the container's twin of deploy/local/kafka/kafka.sh:
# clients authenticate with SASL/SCRAM-SHA-512 and KRaft's StandardAuthorizer holds them to their ACLs. The
# settings are docker-compose.yml's KAFKA_SERVER_PROPERTIES; this adds the listeners' login modules with the
# services' principal (`syncline`, the only super user), whose password `first_start.py secrets` made in the state
# volume, and bootstraps that principal's SCRAM credential when the storage is first formatted. The controller
# listener takes SASL/PLAIN from that principal only. /tmp/client.properties is the healthcheck's login.
set -euo pipefail
USER_NAME=syncline
PASSWORD="$(cat "${KAFKA_PASSWORD_FILE:?}")"
CFG=/tmp/server.properties
umask 077
scram="org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$USER_NAME\" password=\"$PASSWORD\";"
plain="org.apache.kafka.common.security.plain.PlainLoginModule required username=\"$USER_NAME\" password=\"$PASSWORD\" user_$USER_NAME=\"$PASSWORD\";"
{
  printf '%s\n' "${KAFKA_SERVER_PROPERTIES:?}"
  echo "listener.name.internal.scram-sha-512.sasl.jaas.config=$scram"
  echo "listener.name.host.scram-sha-512.sasl.jaas.config=$scram"
  echo "listener.name.controller.plain.sasl.jaas.config=$plain"
} > "$CFG"
cat > /tmp/client.properties <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=$scram
PROPS
/opt/kafka/bin/kafka-storage.sh format --ignore-formatted --cluster-id "${CLUSTER_ID:?}" --config "$CFG" \
  --add-scram "SCRAM-SHA-512=[name=$USER_NAME,password=$PASSWORD]"
exec /opt/kafka/bin/kafka-server-start.sh "$CFG"
