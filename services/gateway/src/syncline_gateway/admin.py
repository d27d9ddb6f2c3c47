"""`syncline-admin`: organisations and credentials.

syncline-admin create-org NAME [--json]            → {"id": ..., "name": ..., "project_id": ...}
syncline-admin create-key --org ORG_ID [--partner] [--json]
                                                   → {"id": ..., "secret": ..., "encoded": ..., "partner": ...}
                                                     (also the key's SCRAM credential and ACLs on a secured broker)
syncline-admin list-projects --org ORG_ID [--json] → {"org_id": ..., "projects": [{"id", "name"}, ...]}
syncline-admin create-project --org ORG_ID [--name NAME] [--json]
                                                   → {"id": ..., "org_id": ..., "name": ...}

A project id (32 hex) is what Huawei DRS calls name in their path and `X-Project-Id`; every organisation is made
with one.

The sealing key is `SYNCLINE_SECRET_KEY`; when it is not set, the key `make run` keeps is used:
`$SYNCLINE_HOME/secret.key`, else `.local/secret.key` in the working directory or in the project this
command is installed from.
"""

import argparse
import asyncio
import json
import os
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from syncline_gateway import projects, repository
from syncline_gateway.credentials import new_key_pair
from syncline_gateway.dialects.native.kafka import TenantAccess
from syncline_gateway.service import MIGRATIONS
from syncline_gateway.settings import GatewaySettings
from syncline_platform.db import connect
from syncline_platform.logging import configure
from syncline_platform.migrations import apply_migrations
from syncline_platform.secrets import Sealer
from syncline_platform.settings import project_of


async def _create_org(settings: GatewaySettings, name: str) -> dict[str, Any]:
    org_id = str(uuid.uuid4())
    conn = await connect(dsn=settings.database_url.get_secret_value(), schema="gateway")
    try:
        async with conn.transaction():
            await repository.create_org(conn, org_id=org_id, name=name)
            project = await projects.create_project(conn, org_id=org_id, name=name)
    finally:
        await conn.close()
    return {"id": org_id, "name": name, "project_id": project["id"]}


async def _projects(settings: GatewaySettings, org_id: str, *, add: str | None) -> dict[str, Any]:
    conn = await connect(dsn=settings.database_url.get_secret_value(), schema="gateway")
    try:
        if not await repository.org_exists(conn, org_id=org_id):
            raise SystemExit(f"organisation {org_id} does not exist")
        if add is not None:
            return await projects.create_project(conn, org_id=org_id, name=add)
        found = await projects.list_projects(conn, org_id=org_id)
    finally:
        await conn.close()
    return {"org_id": org_id, "projects": [{"id": p["id"], "name": p["name"]} for p in found]}


async def _create_key(settings: GatewaySettings, org_id: str, *, partner: bool) -> dict[str, Any]:
    if not settings.secret_key.get_secret_value():
        raise SystemExit(
            "no sealing key: set SYNCLINE_SECRET_KEY (the services' key), or run `make run` first, which keeps one "
            "in $SYNCLINE_HOME/secret.key (.local/secret.key by default)"
        )
    sealer = Sealer(settings.secret_key)
    pair = new_key_pair()
    conn = await connect(dsn=settings.database_url.get_secret_value(), schema="gateway")
    try:
        if not await repository.org_exists(conn, org_id=org_id):
            raise SystemExit(f"organisation {org_id} does not exist")
        async with conn.transaction():  # the key and its broker principal (a failure there rolls the key back)
            await repository.create_key(
                conn, key_id=pair.id, org_id=org_id, sealed_secret=sealer.seal(pair.secret), partner=partner
            )
            await TenantAccess(settings.kafka).grant(org_id=org_id, key_id=pair.id, secret=pair.secret)
    finally:
        await conn.close()
    return {"id": pair.id, "secret": pair.secret, "encoded": pair.encoded, "org_id": org_id, "partner": partner}


KEY_FILE = "secret.key"
PROJECT = project_of(Path(__file__))
"""The checkout this command runs from (an editable install), if it is: where `make run` keeps `.local/`."""


def secret_key_files(*, environ: Mapping[str, str], cwd: Path) -> list[Path]:
    """Where `make run` may have written the sealing key, first match wins."""
    home = environ.get("SYNCLINE_HOME")
    return [
        *([Path(home) / KEY_FILE] if home else []),
        cwd / ".local" / KEY_FILE,
        *([PROJECT / ".local" / KEY_FILE] if PROJECT else []),
    ]


def with_local_secret_key(
    settings: GatewaySettings, *, environ: Mapping[str, str] = os.environ, cwd: Path | None = None
) -> GatewaySettings:
    """`settings` with the local sealing key when `SYNCLINE_SECRET_KEY` is not set and `make run` wrote one."""
    if settings.secret_key.get_secret_value():
        return settings
    for path in secret_key_files(environ=environ, cwd=cwd or Path.cwd()):
        if path.is_file() and (key := path.read_text().strip()):
            return settings.model_copy(update={"secret_key": SecretStr(key)})
    return settings


async def run_command(settings: GatewaySettings, args: argparse.Namespace) -> dict[str, Any]:
    """Carry out one parsed command (`parse`) with `settings`; its answer."""
    await apply_migrations(dsn=settings.database_url, schema="gateway", directory=MIGRATIONS)
    if args.command == "create-org":
        return await _create_org(settings, args.name)
    if args.command == "list-projects":
        return await _projects(settings, args.org, add=None)
    if args.command == "create-project":
        return await _projects(settings, args.org, add=args.name or "project")
    return await _create_key(settings, args.org, partner=args.partner)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line's command and its arguments."""
    parser = argparse.ArgumentParser(prog="syncline-admin", description="Manage Syncline organisations and keys.")
    sub = parser.add_subparsers(dest="command", required=True)
    org = sub.add_parser("create-org", help="create an organisation")
    org.add_argument("name")
    org.add_argument("--json", action="store_true", help="print JSON")
    key = sub.add_parser("create-key", help="create a key pair for an organisation")
    key.add_argument("--org", required=True)
    key.add_argument("--partner", action="store_true", help="the key may act for any organisation")
    key.add_argument("--json", action="store_true", help="print JSON")
    listed = sub.add_parser("list-projects", help="list an organisation's project ids (Huawei DRS)")
    listed.add_argument("--org", required=True)
    listed.add_argument("--json", action="store_true", help="print JSON")
    added = sub.add_parser("create-project", help="add a project id (Huawei DRS) to an organisation")
    added.add_argument("--org", required=True)
    added.add_argument("--name", help="the project's name (default: project)")
    added.add_argument("--json", action="store_true", help="print JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    args = parse(argv)
    settings = with_local_secret_key(GatewaySettings())
    configure(settings.log, service="admin")  # logs to stderr: stdout is the answer
    result = asyncio.run(run_command(settings, args))
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        sys.stdout.write("\n".join(f"{k}: {v}" for k, v in result.items()) + "\n")
