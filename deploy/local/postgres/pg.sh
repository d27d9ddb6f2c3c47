#!/usr/bin/env bash
# Private PostgreSQL 15 cluster for local runs and tests (Debian's server binaries, wal_level=logical;
# change capture uses the built-in pgoutput plugin, so no extension is installed).
# Every role logs in with a password (scram-sha-256, over TCP and the socket); the superuser's, 'postgres', is
# generated on first start into $STATE/superuser.password (0600), which the services, tests and scripts read. A
# cluster still trusting its clients (made before passwords) is converted in place on `start`, running or not.
# Usage: pg.sh install|start|stop|status|reset|password          env: SYNCLINE_HOME (default .local), PG_PORT (55432)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
STATE="${SYNCLINE_HOME:-$ROOT/.local}/pg"
PG_PORT="${PG_PORT:-55432}"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
DATA="$STATE/data"; LOGF="$STATE/postgres.log"; SOCK="$STATE/run"
PASSWORD_FILE="$STATE/superuser.password"
RUN_AS=()
# initdb refuses to run as root: the cluster belongs to the 'postgres' system user then.
[ "$(id -u)" = 0 ] && RUN_AS=(runuser -u postgres --)

install() {
  if [ -x "$PGBIN/postgres" ] && [ -x "$PGBIN/pg_recvlogical" ]; then return 0; fi
  echo "installing postgresql-15 from Debian's packages" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 postgresql-client-15 >/dev/null
}

running() { [ -f "$DATA/postmaster.pid" ] && "${RUN_AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

# The cluster runs as 'postgres' when we are root: it must be able to reach its directory.
reachable() {
  [ ${#RUN_AS[@]} -eq 0 ] && return 0
  local path="" part parts
  IFS=/ read -ra parts <<< "${STATE#/}"
  for part in "${parts[@]}"; do
    path="$path/$part"
    [ -d "$path" ] || break
    "${RUN_AS[@]}" test -x "$path" || { echo "pg.sh: letting the postgres user traverse $path" >&2; chmod o+x "$path"; }
  done
}

init() {
  [ -f "$DATA/PG_VERSION" ] && return 0
  mkdir -p "$STATE" "$SOCK"
  reachable
  [ ${#RUN_AS[@]} -gt 0 ] && chown -R postgres:postgres "$STATE"
  "${RUN_AS[@]}" "$PGBIN/initdb" -D "$DATA" -U postgres --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >> "$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$SOCK'
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
max_connections = 300
shared_buffers = 256MB
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
}

# A password file: generated once (128 random bits in hex), readable by its owner only.
generate_password() {
  [ -s "$1" ] && return 0
  mkdir -p "$(dirname "$1")"
  (umask 077; od -An -tx1 -N16 /dev/urandom | tr -d ' \n' > "$1.tmp")
  mv -f "$1.tmp" "$1"
}

trusting() { "${RUN_AS[@]}" grep -Eq '^[[:space:]]*(local|host)[^#]*[[:space:]]trust([[:space:]]|$)' "$DATA/pg_hba.conf"; }

# Set the superuser's password (through the socket, which a new cluster trusts until then: its TCP port never
# does), then require passwords from every role and reload (no restart, no data touched; sessions already open go
# on). Physical replication (a copy of every database) is the superuser's only.
secure() {
  trusting || return 0
  generate_password "$PASSWORD_FILE"
  PGPASSWORD="$(cat "$PASSWORD_FILE")"
  echo "SET password_encryption = 'scram-sha-256'; ALTER ROLE postgres PASSWORD :'password';" \
    | "$PGBIN/psql" -h "$SOCK" -p "$PG_PORT" -U postgres -d postgres -q -v ON_ERROR_STOP=1 -v password="$PGPASSWORD"
  "${RUN_AS[@]}" tee "$DATA/pg_hba.conf" >/dev/null <<HBA
# Written by deploy/local/postgres/pg.sh: every role logs in with a password.
# TYPE  DATABASE     USER      ADDRESS        METHOD
local   all          all                      scram-sha-256
host    all          all       127.0.0.1/32   scram-sha-256
host    all          all       ::1/128        scram-sha-256
local   replication  postgres                 scram-sha-256
host    replication  postgres  127.0.0.1/32   scram-sha-256
host    replication  postgres  ::1/128        scram-sha-256
HBA
  "${RUN_AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" reload >/dev/null
  echo "postgres on 127.0.0.1:$PG_PORT now requires passwords (superuser's in $PASSWORD_FILE)"
}

start() {
  install
  local state="already running"
  if ! running; then
    init
    "${RUN_AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -l "$LOGF" -w -t 60 start >/dev/null
    state="started"
  fi
  secure
  export PGPASSWORD; PGPASSWORD="$(cat "$PASSWORD_FILE")"
  "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qtAc \
    "SELECT 1 FROM pg_database WHERE datname='syncline'" | grep -q 1 \
    || "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres syncline
  echo "postgres $state on 127.0.0.1:$PG_PORT (data $DATA, superuser password in $PASSWORD_FILE)"
}

stop() {
  running || return 0
  "${RUN_AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
  echo "postgres stopped"
}

status() { if running; then echo "postgres: running on 127.0.0.1:$PG_PORT"; else echo "postgres: stopped"; fi; }

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) stop; rm -rf "$DATA" "$PASSWORD_FILE" ;;
  password) echo "$PASSWORD_FILE" ;;
  *) echo "usage: $0 install|start|stop|status|reset|password" >&2; exit 2 ;;
esac
