#!/usr/bin/env bash
# Creates a connector on the demo source database, runs a full sync job, waits for it, and shows the result.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${SYNCLINE_HOME:-$ROOT/.local}"
URL="${SYNCLINE_URL:-http://127.0.0.1:${SYNCLINE_PORT:-8080}}"
KEY="${SYNCLINE_KEY:-$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["encoded"])' "$STATE/demo.json")}"
DEMO_PASSWORD="$(cat "$STATE/pg/demo.password")"   # the demo source's own role (`make run` made both)
H=(-sS -H "Authorization: ApiKey $KEY" -H "Content-Type: application/json")
show() { echo "+ $*" >&2; "$@"; echo; }

show curl "${H[@]}" -X PUT "$URL/_connector/demo-shop" \
  -d '{"name": "Demo shop", "index_name": "demo-shop", "service_type": "postgresql"}'
show curl "${H[@]}" -X PUT "$URL/_connector/demo-shop/_configuration" \
  -d '{"values": {"host": "127.0.0.1", "port": '"${PG_PORT:-55432}"', "username": "syncline_demo", "password": "'"$DEMO_PASSWORD"'",
       "database": "demo_source", "schema": "public", "tables": ["customers", "orders"]}}'
job=$(curl "${H[@]}" -X POST "$URL/_connector/_sync_job" -d '{"id": "demo-shop", "job_type": "full"}')
echo "+ POST /_connector/_sync_job → $job" >&2
id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$job")
for _ in $(seq 1 100); do
  doc=$(curl "${H[@]}" "$URL/_connector/_sync_job/$id")
  status=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["status"])' "$doc")
  case "$status" in completed|error|canceled) break ;; esac
  sleep 0.2
done
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(json.dumps({k: d[k] for k in ("id","status","job_type","indexed_document_count","deleted_document_count","total_document_count","started_at","completed_at","worker_hostname","error")}, indent=2))' "$doc"
