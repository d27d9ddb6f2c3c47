"""A run that fails while the executor's database is away still records its end: the mover fails on a lost
connection, and recording the end (status and terminal event, one transaction) waits for the database instead of
ending the run's task with an unretrieved exception and leaving the run to the sweep."""

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from tests.integration.test_dependency_outage import _through
from tests.integration.test_executor_dataplane import (  # the executor under test, as its own process
    ROOT,
    Plant,
    execute,
    new_run,
    plant,
    request,
    run_row,
    terminal_events,
    wait_for,
)
from tests.support.infra import read_topic
from tests.support.proxy import TcpProxy

from syncline_contracts.topics import RUN_EVENTS

pytestmark = pytest.mark.integration
__all__ = ["plant"]  # the fixture, shared with the data-plane tests

OUTAGE_S = 6.0


async def test_a_run_failing_during_a_database_outage_records_its_end_once_it_is_back(plant: Plant) -> None:
    parts = urlsplit(plant.database)
    proxy = TcpProxy(host=parts.hostname or "127.0.0.1", port=parts.port or 5432)
    port = await proxy.start()
    plant.env["SYNCLINE_DATABASE_URL"] = _through(plant.database, port)
    try:
        run_id = await new_run(plant, rows=150_000)
        plant.start("outage")
        await request(plant, run_id)

        async def some_batches_done() -> bool:
            if not await execute(plant.database, "SELECT to_regclass('executor.checkpoints') IS NOT NULL"):
                return False
            written = await execute(
                plant.database,
                "SELECT COALESCE(sum(rows_written), 0) FROM executor.checkpoints WHERE run_id = $1",
                run_id,
            )
            return bool(written >= 2_000)

        await wait_for(some_batches_done, timeout_s=60)
        proxy.cut()
        await asyncio.sleep(OUTAGE_S)
        proxy.restore()

        async def ended() -> dict[str, Any] | None:
            row = await run_row(plant, run_id)
            return row if row["status"] in ("completed", "error", "canceled") else None

        await wait_for(ended, timeout_s=90)  # no sweep here: only the executor itself can have ended it
        records = await read_topic(
            RUN_EVENTS.qualified(plant.prefix), until=lambda rs: bool(terminal_events(rs, run_id)), timeout_s=30
        )
        await asyncio.sleep(1)
        assert len(terminal_events(records, run_id)) == 1
        log = (Path(ROOT) / ".local" / "test-logs" / f"{plant.prefix}outage.log").read_text()
        assert "never retrieved" not in log
        assert '"retry.transient"' in log  # the end was recorded while the database was away, and waited for it
    finally:
        plant.stop()
        await proxy.stop()
