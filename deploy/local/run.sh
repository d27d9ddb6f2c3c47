#!/usr/bin/env bash
# Start (or stop) the four services in the background against the local infrastructure, with a demo
# organisation and a demo source database.  Usage: run.sh start|stop|status
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${SYNCLINE_HOME:-$ROOT/.local}"
RUN="$STATE/run"; LOGS="$STATE/logs"
PORT="${SYNCLINE_PORT:-8080}"
PG_PORT="${PG_PORT:-55432}"
SERVICES=(policy scheduler executor gateway)
BIN="$ROOT/.venv/bin"   # made by `make install`; no `uv` needed on the PATH
mkdir -p "$RUN" "$LOGS"

secret_key() {
  [ -s "$STATE/secret.key" ] || "$BIN/python" -c \
    "from syncline_platform.secrets import generate_key; print(generate_key())" > "$STATE/secret.key"
  export SYNCLINE_SECRET_KEY="${SYNCLINE_SECRET_KEY:-$(cat "$STATE/secret.key")}"
}

# The demo source belongs to its own role, 'syncline_demo' (no superuser; REPLICATION for change capture, which
# the cluster allows on a database the role may connect to, never physically), with its own password file.
DEMO_ROLE=syncline_demo
DEMO_PASSWORD_FILE="$STATE/pg/demo.password"
as_superuser() { PGPASSWORD="$(cat "$STATE/pg/superuser.password")" "$@" -h 127.0.0.1 -p "$PG_PORT" -U postgres; }

demo_source() {
  [ -n "${SYNCLINE_DATABASE_URL:-}" ] && return 0   # an external server: bring your own source
  [ -s "$DEMO_PASSWORD_FILE" ] || (umask 077; od -An -tx1 -N16 /dev/urandom | tr -d ' \n' > "$DEMO_PASSWORD_FILE")
  as_superuser psql -d postgres -q -v ON_ERROR_STOP=1 -v role="$DEMO_ROLE" -v password="$(cat "$DEMO_PASSWORD_FILE")" <<'SQL'
SELECT format('CREATE ROLE %I', :'role') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE REPLICATION PASSWORD :'password';
SELECT 'CREATE DATABASE demo_source' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'demo_source') \gexec
ALTER DATABASE demo_source OWNER TO :"role";
\connect demo_source
ALTER SCHEMA public OWNER TO :"role";
-- Tables made by earlier versions, as the superuser, become the demo role's.
SELECT format('ALTER TABLE public.%I OWNER TO %I', tablename, :'role') FROM pg_tables
WHERE schemaname = 'public' AND tableowner <> :'role' \gexec
SQL
  PGPASSWORD="$(cat "$DEMO_PASSWORD_FILE")" psql -h 127.0.0.1 -p "$PG_PORT" -U "$DEMO_ROLE" -d demo_source -q \
    -v ON_ERROR_STOP=1 -f "$ROOT/deploy/local/demo.sql" >/dev/null
}

# Other roles (the demo's) cannot even connect to Syncline's own databases.
own_databases_closed() {
  [ -n "${SYNCLINE_DATABASE_URL:-}" ] && return 0
  as_superuser psql -d postgres -q -v ON_ERROR_STOP=1 <<'SQL'
SELECT format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', datname) FROM pg_database
WHERE datname IN ('syncline', 'syncline_data') \gexec
SQL
}

demo_org() {
  [ -s "$STATE/demo.json" ] && return 0
  local org
  org="$("$BIN/syncline-admin" create-org demo --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
  (umask 077; "$BIN/syncline-admin" create-key --org "$org" --json > "$STATE/demo.json")
}

cli_key() {   # where `syncline` finds the gateway and the demo key with no flags; 0600, as it holds the key
  chmod 600 "$STATE/demo.json"
  (umask 077; python3 -c 'import json, sys; print(json.dumps({"url": sys.argv[2], "key": json.load(open(sys.argv[1]))["encoded"]}))' \
    "$STATE/demo.json" "http://127.0.0.1:$PORT" > "$STATE/cli.json.tmp")
  mv -f "$STATE/cli.json.tmp" "$STATE/cli.json"
}

running() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

start() {
  secret_key
  export SYNCLINE_FILES__ROOT="${SYNCLINE_FILES__ROOT:-$STATE/files}"   # every file connection's folder lies in it
  mkdir -p "$SYNCLINE_FILES__ROOT"
  demo_source
  demo_org
  cli_key
  for s in "${SERVICES[@]}"; do
    if running "$s"; then continue; fi
    nohup "$BIN/syncline-$s" >"$LOGS/$s.log" 2>&1 &
    echo $! > "$RUN/$s.pid"
  done
  for _ in $(seq 1 120); do
    curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null || { echo "gateway did not start: see $LOGS/gateway.log" >&2; exit 1; }
  own_databases_closed
}

stop() {
  for s in "${SERVICES[@]}"; do
    if running "$s"; then kill -TERM "$(cat "$RUN/$s.pid")" 2>/dev/null || true; fi
    rm -f "$RUN/$s.pid"
  done
  pkill -TERM -f "$ROOT/.venv/bin/syncline-" 2>/dev/null || true
}

status() { for s in "${SERVICES[@]}"; do if running "$s"; then echo "$s: running"; else echo "$s: stopped"; fi; done; }

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
