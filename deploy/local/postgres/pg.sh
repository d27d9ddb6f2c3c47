#!/usr/bin/env bash
# Private PostgreSQL 15 cluster for local runs and tests (Debian's server binaries, wal_level=logical;
# change capture uses the built-in pgoutput plugin, so no extension is installed).
# Usage: pg.sh install|start|stop|status|reset          env: SYNCLINE_HOME (default .local), PG_PORT (55432)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
STATE="${SYNCLINE_HOME:-$ROOT/.local}/pg"
PG_PORT="${PG_PORT:-55432}"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
DATA="$STATE/data"; LOGF="$STATE/postgres.log"; SOCK="$STATE/run"
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
  "${RUN_AS[@]}" "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
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

start() {
  install
  if running; then echo "postgres already running on 127.0.0.1:$PG_PORT"; return 0; fi
  init
  "${RUN_AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -l "$LOGF" -w -t 60 start >/dev/null
  "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qtAc \
    "SELECT 1 FROM pg_database WHERE datname='syncline'" | grep -q 1 \
    || "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres syncline
  echo "postgres started on 127.0.0.1:$PG_PORT (data $DATA)"
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
  reset) stop; rm -rf "$DATA" ;;
  *) echo "usage: $0 install|start|stop|status|reset" >&2; exit 2 ;;
esac
