"""Policy compiles connectors stored before it compiled them (an upgrade) when it starts: their runs carry a spec
like any other."""

import json
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr
from tests.support.infra import create_database, drop_database, unique

import syncline_policy
from syncline_connectors.spec import Mode, SyncSpec
from syncline_platform.migrations import apply_migrations
from syncline_platform.settings import KafkaSettings
from syncline_policy.main import build_app
from syncline_policy.settings import PolicySettings

pytestmark = pytest.mark.integration

MIGRATIONS = Path(syncline_policy.__file__).parent / "migrations"


async def test_connectors_stored_before_policy_compiled_them_are_compiled_at_start(
    kafka: KafkaSettings, secret_key: str
) -> None:
    name = unique("compile_at_start")
    dsn = await create_database(name)
    try:
        await apply_migrations(dsn=SecretStr(dsn), schema="policy", directory=MIGRATIONS)
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(
                "INSERT INTO policy.connectors (org_id, id, index_name, service_type, status, configuration)"
                " VALUES ('org-old', 'old', 'old-idx', 'postgresql', 'connected', $1::jsonb),"
                " ('org-old', 'worker', 'w-idx', 'mysql', 'connected', '{}')",
                json.dumps({"host": "db", "database": "shop", "tables": ["t"]}),
            )
        finally:
            await conn.close()
        app = build_app(PolicySettings(database_url=SecretStr(dsn), kafka=kafka, secret_key=SecretStr(secret_key)))
        await app.start()
        await app.stop()
        conn = await asyncpg.connect(dsn)
        try:
            rows = {
                r["sync_id"]: r
                for r in await conn.fetch("SELECT * FROM policy.sync_specs WHERE org_id = 'org-old' ORDER BY sync_id")
            }
        finally:
            await conn.close()
    finally:
        await drop_database(name)

    assert set(rows) == {"old", "worker"}
    specs = {k: SyncSpec.model_validate(v) for k, v in json.loads(rows["old"]["specs"]).items()}
    assert (specs["full"].mode, specs["incremental"].mode) == (Mode.FULL_WITH_DELETES, Mode.INCREMENTAL)
    assert specs["full"].destination.config["index"] == "old-idx"
    assert json.loads(rows["worker"]["specs"]) == {}  # an external worker runs it: no spec, no error
    assert rows["worker"]["error"] is None
