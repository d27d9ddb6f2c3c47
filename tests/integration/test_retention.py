"""Retention: each service's purge removes its aged rows (inbox, parked outbox rows, decided ticks, checkpoints of
runs no longer moving) in batches, and keeps the rows still needed."""

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr
from tests.support.infra import create_database, drop_database, unique

from syncline_executor.repository import checkpoints_purge
from syncline_gateway.idempotency import keys_purge
from syncline_platform.db import create_pool
from syncline_platform.migrations import apply_migrations
from syncline_platform.retention import Retention, RetentionSettings
from syncline_scheduler.repository import ticks_purge

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = RetentionSettings(inbox_days=7, ticks_days=30, checkpoints_days=7, batch_rows=3)


@pytest.fixture
async def dsn() -> AsyncIterator[str]:
    name = unique("retention")
    dsn = await create_database(name)
    for schema in ("scheduler", "executor"):
        migrations = ROOT / f"services/{schema}/src/syncline_{schema}/migrations"
        await apply_migrations(dsn=SecretStr(dsn), schema=schema, directory=migrations)
    try:
        yield dsn
    finally:
        await drop_database(name)


async def _seed(conn: asyncpg.Connection) -> None:
    await conn.execute(
        """
        INSERT INTO scheduler.inbox (consumer, message_id, handled_at)
            SELECT 'c', 'old-' || g, now() - interval '8 days' FROM generate_series(1, 10) g;
        INSERT INTO scheduler.inbox (consumer, message_id) VALUES ('c', 'fresh');
        INSERT INTO scheduler.ticks (org_id, sync_id, schedule_id, due_at, decided_at, decided_by, outcome)
            SELECT 'o', 's', 'k', now() - g * interval '1 day', now() - g * interval '1 day' + interval '1 hour',
                   'r', 'fired'
            FROM generate_series(1, 40) g;
        INSERT INTO scheduler.runs (id, org_id, sync_id, job_type, trigger_method, connector, status)
            VALUES ('ended', 'o', 'done-sync', 'full', 'on_demand', '{}', 'completed'),
                   ('failed', 'o', 'retried-sync', 'full', 'on_demand', '{}', 'error'),
                   ('retry', 'o', 'retried-sync', 'full', 'on_demand', '{}', 'pending');
        INSERT INTO executor.checkpoints (run_id, object, updated_at) VALUES
            ('ended', 'a', now() - interval '8 days'), ('ended', 'b', now() - interval '8 days'),
            ('ended', 'c', now()), ('failed', 'a', now() - interval '8 days'), ('gone', 'a', now() - interval '9 days');
        """
    )


async def test_aged_rows_go_in_batches_and_rows_still_needed_stay(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await _seed(conn)
        scheduler = await create_pool(dsn=SecretStr(dsn), schema="scheduler", application="test")
        executor = await create_pool(dsn=SecretStr(dsn), schema="executor", application="test")
        try:
            retention = Retention(SETTINGS)
            retention.add(ticks_purge(SETTINGS))
            purged = await retention.step(scheduler)
            assert (purged["inbox"], purged["ticks"]) == (10, 10)  # more than one batch of 3 each
            only = Retention(SETTINGS)
            only.purges = [checkpoints_purge(SETTINGS)]
            assert await only.step(executor) == {"checkpoints": 3}
            assert await only.step(executor) == {"checkpoints": 0}
        finally:
            await scheduler.close()
            await executor.close()
        assert await conn.fetchval("SELECT array_agg(message_id) FROM scheduler.inbox") == ["fresh"]
        assert await conn.fetchval("SELECT min(decided_at) > now() - interval '31 days' FROM scheduler.ticks")
        assert await conn.fetchval("SELECT count(*) FROM scheduler.ticks") == 30
        kept = await conn.fetch("SELECT run_id, object FROM executor.checkpoints ORDER BY 1, 2")
        # fresh, or of a sync whose retry still waits; the aged ones of ended runs and a deleted run's go
        assert [(r["run_id"], r["object"]) for r in kept] == [("ended", "c"), ("failed", "a")]
    finally:
        await conn.close()


async def test_stored_outcomes_go_after_their_replay_window_and_never_sooner(dsn: str) -> None:
    migrations = ROOT / "services/gateway/src/syncline_gateway/migrations"
    await apply_migrations(dsn=SecretStr(dsn), schema="gateway", directory=migrations)
    conn = await asyncpg.connect(dsn)
    pool = await create_pool(dsn=SecretStr(dsn), schema="gateway", application="test")
    try:
        await conn.execute(
            "INSERT INTO gateway.idempotency_keys (scope, key, fingerprint, status, created_at) VALUES"
            " ('org', 'day-old', 'f', 200, now() - interval '25 hours'),"
            " ('org', 'hour-old', 'f', 200, now() - interval '1 hour')"
        )
        settings = RetentionSettings(idempotency_hours=1)  # asked for less than the replay window: it stays 24 h
        retention = Retention(settings)
        retention.purges = [keys_purge(settings)]
        assert await retention.step(pool) == {"idempotency_keys": 1}
        assert await conn.fetchval("SELECT array_agg(key) FROM gateway.idempotency_keys") == ["hour-old"]
    finally:
        await pool.close()
        await conn.close()
