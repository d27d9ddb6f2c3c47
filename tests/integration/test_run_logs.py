"""A run's log is bounded: at most its limit of lines, except the line that ends the run; a line outside a run
goes nowhere; the lines of a deleted run are purged once aged, those of a run that exists stay; the gateway's
read answers the first lines, those after a cursor, or the newest, only within the run's organisation."""

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr
from tests.support.infra import create_database, drop_database, unique

from syncline_executor import runlog
from syncline_gateway import run_logs
from syncline_platform.db import create_pool
from syncline_platform.migrations import apply_migrations
from syncline_platform.retention import Retention, RetentionSettings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RUN = {"id": "run-1", "org_id": "org-a", "sync_id": "sync-1"}


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    name = unique("runlogs")
    dsn = await create_database(name)
    for schema in ("scheduler", "executor"):
        migrations = ROOT / f"services/{schema}/src/syncline_{schema}/migrations"
        await apply_migrations(dsn=SecretStr(dsn), schema=schema, directory=migrations)
    pool = await create_pool(dsn=SecretStr(dsn), schema="executor", application="test")
    try:
        yield pool
    finally:
        await pool.close()
        await drop_database(name)


async def test_a_runs_log_is_bounded_and_read_within_its_organisation(pool: asyncpg.Pool) -> None:
    journal = runlog.RunLog(pool=pool, run=RUN, limit=3)
    await runlog.note("info", "outside any run")
    with runlog.bound(journal):
        for i in range(5):
            await runlog.note("info", f"line {i}", object_key="public.t", counts={"rows_written": i})
    await runlog.ended(journal, status="completed", counts={"rows_written": 4, "rows_deleted": 0}, error=None)

    async with pool.acquire() as conn:
        found = await run_logs.lines(conn, org_id="org-a", run_id="run-1")
        assert [line["message"] for line in found] == [
            "line 0",
            "line 1",
            "line 2",
            "run completed: 4 rows written, 0 deleted",
        ]
        assert found[1]["object"] == "public.t"
        assert found[1]["counts"] == {"rows_written": 1}
        after = await run_logs.lines(conn, org_id="org-a", run_id="run-1", after=found[1]["seq"])
        assert [line["seq"] for line in after] == [found[2]["seq"], found[3]["seq"]]
        newest = await run_logs.lines(conn, org_id="org-a", run_id="run-1", limit=2, newest=True)
        assert newest == found[2:]
        assert await run_logs.lines(conn, org_id="org-b", run_id="run-1") == []
    assert "run completed: 4 rows written" in run_logs.as_text(found).splitlines()[-1]


async def test_the_lines_of_deleted_runs_are_purged_once_aged(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            """
            INSERT INTO scheduler.runs (id, org_id, sync_id, job_type, trigger_method, connector, status)
                VALUES ('kept', 'o', 's', 'full', 'on_demand', '{}', 'completed');
            INSERT INTO executor.run_logs (run_id, org_id, sync_id, level, message, at) VALUES
                ('kept', 'o', 's', 'info', 'old line of a run that exists', now() - interval '30 days'),
                ('gone', 'o', 's', 'info', 'old line of a deleted run', now() - interval '30 days'),
                ('gone', 'o', 's', 'info', 'fresh line of a deleted run', now());
            """
        )
    settings = RetentionSettings(checkpoints_days=7)
    retention = Retention(settings)
    retention.add(runlog.purge(settings))
    purged = await retention.step(pool)
    assert purged["run_logs"] == 1
    async with pool.acquire() as conn:
        left = await conn.fetch("SELECT message FROM executor.run_logs ORDER BY seq")
    assert [r["message"] for r in left] == ["old line of a run that exists", "fresh line of a deleted run"]
