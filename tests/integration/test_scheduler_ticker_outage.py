"""The scheduler's ticker outlives a PostgreSQL outage: while its database is away (a proxy cut: connections
reset, new ones refused) every pass fails, including the look-up of the next due time that used to run outside
any guard and end the task; once the database is back the same ticker fires, retries and sweeps again."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr
from tests.integration.test_dependency_outage import _through
from tests.integration.test_scheduler_harness import prepare_database
from tests.support.infra import create_database, drop_database, unique
from tests.support.proxy import TcpProxy

import syncline_scheduler
from syncline_platform.db import create_pool
from syncline_platform.migrations import apply_migrations
from syncline_platform.service import ServiceApp
from syncline_scheduler.settings import SchedulerSettings
from syncline_scheduler.ticker import Ticker

pytestmark = pytest.mark.integration

MIGRATIONS = Path(syncline_scheduler.__file__).parent / "migrations"
OUTAGE_S = 4.0
"""Several failed passes and failed look-ups of the next due time (the loop backs off from 0.2 s)."""


class CountingTicker(Ticker):
    """A ticker that counts its passes that reached the database."""

    passes = 0

    async def step(self) -> bool:
        busy = await super().step()
        self.passes += 1
        return busy


async def test_the_ticker_survives_a_database_outage() -> None:
    name = unique("syncline_ticker")
    dsn = await create_database(name)
    parts = urlsplit(dsn)
    proxy = TcpProxy(host=parts.hostname or "127.0.0.1", port=parts.port or 5432)
    port = await proxy.start()
    pool = None
    try:
        await prepare_database(dsn)
        await apply_migrations(dsn=SecretStr(dsn), schema="scheduler", directory=MIGRATIONS)
        pool = await create_pool(dsn=SecretStr(_through(dsn, port)), schema="scheduler", application="test")
        settings = SchedulerSettings(poll_interval_s=0.1, reaper_interval_s=0.1)
        app = cast(ServiceApp, SimpleNamespace(pool=pool))
        ticker = CountingTicker(app=app, settings=settings, clock=lambda: datetime.now(UTC))
        await ticker.start(app)
        await _passes_grow(ticker)

        proxy.cut()
        await asyncio.sleep(OUTAGE_S)
        task: Any = ticker._task
        assert task is not None
        assert not task.done()  # it waits the outage out instead of ending
        proxy.restore()

        await _passes_grow(ticker)  # firing and sweeping again
        task.cancel()
        await asyncio.wait({task}, timeout=5)
        assert task.cancelled()  # it ends only when stopped
    finally:
        if pool is not None:
            pool.terminate()
        await proxy.stop()
        await drop_database(name)


async def _passes_grow(ticker: CountingTicker) -> None:
    start = ticker.passes
    async with asyncio.timeout(15):
        while ticker.passes < start + 3:
            await asyncio.sleep(0.05)
