"""Printed by `make run`: where the gateway is, the demo credentials, and one command that runs a real sync."""

import json
import os
import subprocess
import sys
from pathlib import Path

state = Path(os.environ.get("SYNCLINE_HOME", Path(__file__).resolve().parents[2] / ".local"))
demo = json.loads((state / "demo.json").read_text())
port = os.environ.get("SYNCLINE_PORT", "8080")
files = os.environ.get("SYNCLINE_FILES__ROOT", state / "files")
listed = subprocess.run(
    [Path(sys.executable).parent / "syncline-admin", "list-projects", "--org", demo["org_id"], "--json"],
    check=True,
    capture_output=True,
)
project = json.loads(listed.stdout)["projects"][0]["id"]
sys.stdout.write(
    f"""
Syncline is running.

  gateway      http://127.0.0.1:{port}
  organisation {demo["org_id"]}
  key id       {demo["id"]}
  key secret   {demo["secret"]}
  API key      {demo["encoded"]}      (Authorization: ApiKey … / Bearer …)
  project id   {project}      (Huawei DRS: BasicCredentials(key id, key secret, project id))
  ops          http://127.0.0.1:9180-9183/metrics, /healthz, /readyz (gateway, policy, scheduler, executor)
  logs         {state}/logs/
  files root   {files}/      (file connections' folders lie inside it)
  PostgreSQL   127.0.0.1:{os.environ.get("PG_PORT", "55432")}, passwords (scram-sha-256): superuser postgres in
               {state}/pg/superuser.password; the demo source (database demo_source, role syncline_demo)
               in {state}/pg/demo.password

Run a real sync (PostgreSQL table → index) through the Elasticsearch connector API and show its result:

  deploy/local/demo_sync.sh

Stop with `make stop` (services) or `make down` (everything).
"""
)
