"""A deleted sync's replication slot is given back by the executor's release loop, again until done: while the
sync's last run still moves (until the sweep ends it), and while the source cannot be reached, the pending
release stays visible with its attempts and last error; then the slot is dropped on the source."""

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import asyncpg
import pytest
from pydantic import SecretStr
from tests.support.infra import create_database, drop_database, unique
from tests.support.proxy import TcpProxy

from syncline_connectors.spec import Endpoint
from syncline_executor import repository
from syncline_executor.pipeline import STREAM
from syncline_executor.releases import StreamReleases
from syncline_platform.db import create_pool
from syncline_platform.migrations import apply_migrations
from syncline_platform.secrets import Sealer, generate_key

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ORG = "org-releases"


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    name = unique("releases")
    dsn = await create_database(name)
    for schema in ("scheduler", "executor"):
        migrations = ROOT / f"services/{schema}/src/syncline_{schema}/migrations"
        await apply_migrations(dsn=SecretStr(dsn), schema=schema, directory=migrations)
    made = await create_pool(dsn=SecretStr(dsn), schema="executor", application="test")
    try:
        yield made
    finally:
        await made.close()
        await drop_database(name)


async def slots(source: str) -> set[str]:
    conn = await asyncpg.connect(source)
    try:
        return {r["slot_name"] for r in await conn.fetch("SELECT slot_name FROM pg_replication_slots")}
    finally:
        await conn.close()


async def pending(pool: asyncpg.Pool, sync_id: str) -> dict[str, object] | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM executor_read.stream_releases WHERE sync_id = $1", sync_id)
        await conn.execute("UPDATE executor.stream_releases SET next_attempt_at = now()")  # no backoff wait here
    return dict(row) if row else None


async def test_a_slot_is_released_after_its_run_ends_and_its_source_comes_back(
    pool: asyncpg.Pool, source_database: str
) -> None:
    sync_id, slot = unique("sync"), unique("slot")
    conn = await asyncpg.connect(source_database)
    try:
        await conn.fetchval("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", slot)
    finally:
        await conn.close()
    server = urlsplit(source_database)
    proxy = TcpProxy(host=server.hostname or "127.0.0.1", port=server.port or 5432)
    port = await proxy.start()
    sealer = Sealer(SecretStr(generate_key()))
    source = Endpoint(
        type="postgresql",
        config={"host": "127.0.0.1", "port": port, "username": server.username, "database": server.path[1:]},
        sealed_secrets={"password": sealer.seal(server.password)} if server.password else {},
    )
    releases = StreamReleases(app=SimpleNamespace(pool=pool), sealer=sealer)  # type: ignore[arg-type]
    try:
        async with pool.acquire() as c:
            state = {"slot": slot, "lsn": "0/0", "objects": [], "source": source.model_dump(mode="json")}
            await repository.set_sync_state(c, sync_id=sync_id, object_key=STREAM, state=state)
            await c.execute(
                "INSERT INTO scheduler.runs (id, org_id, sync_id, job_type, trigger_method, connector, status)"
                " VALUES ($1, $2, $3, 'full', 'on_demand', '{}', 'in_progress')",
                f"{sync_id}-run",
                ORG,
                sync_id,
            )
            await repository.request_release(c, org_id=ORG, sync_id=sync_id, run_sync_id=sync_id)

        # its last run still moves (its executor died, say): the release waits, visibly
        assert await releases.release_due() == 1
        waiting = await pending(pool, sync_id)
        assert waiting is not None
        assert (waiting["attempts"], waiting["last_error"]) == (1, "the sync's last run is still stopping")
        assert slot in await slots(source_database)

        # the sweep ends the run; the source is unreachable at that moment: tried again, not given up
        async with pool.acquire() as c:
            await c.execute("UPDATE scheduler.runs SET status = 'error' WHERE sync_id = $1", sync_id)
        proxy.cut()
        for attempt in (2, 3):
            assert await releases.release_due() == 1
            failing = await pending(pool, sync_id)
            assert failing is not None
            assert failing["attempts"] == attempt
            assert "still stopping" not in str(failing["last_error"])
        assert slot in await slots(source_database)

        proxy.restore()
        assert await releases.release_due() == 1
        assert await pending(pool, sync_id) is None
        assert slot not in await slots(source_database)
        async with pool.acquire() as c:
            assert await repository.sync_state(c, sync_id=sync_id, object_key=STREAM) is None
    finally:
        await proxy.stop()
        if slot in await slots(source_database):
            conn = await asyncpg.connect(source_database)
            try:
                await conn.execute("SELECT pg_drop_replication_slot($1)", slot)
            finally:
                await conn.close()
