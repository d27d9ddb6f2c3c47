"""Wiring of the scheduler service: `build_app(settings)` for tests, `run()` for the console script."""

import asyncio
from pathlib import Path

from syncline_platform.logging import configure
from syncline_platform.metrics import QueryProbe
from syncline_platform.service import ServiceApp
from syncline_platform.tracing import setup_tracing
from syncline_scheduler import handlers, repository
from syncline_scheduler.service import Clock, utc_now
from syncline_scheduler.settings import SchedulerSettings
from syncline_scheduler.ticker import Ticker

RUNS = """
    SELECT r.status, coalesce(s.dialect, 'unknown') AS dialect, count(*)
    FROM runs r
    LEFT JOIN policy_read.sync_specs s ON s.org_id = r.org_id AND s.sync_id = r.sync_id
    GROUP BY 1, 2
"""
"""Runs by status and dialect, for `/metrics` (the dialect from policy's read model)."""


def build_app(settings: SchedulerSettings, *, clock: Clock = utc_now) -> ServiceApp:
    """The scheduler service, not yet started; `clock` is where it reads the time (tests control it)."""
    app = ServiceApp(name="scheduler", settings=settings, migrations=Path(__file__).parent / "migrations")
    ticker = Ticker(app=app, settings=settings, clock=clock)
    handlers.register(app, settings=settings, clock=clock, ticker=ticker)
    app.retention.add(repository.ticks_purge(settings.retention))
    app.on_started(ticker.start)
    app.on_stopping(ticker.stop)
    app.metrics.add_probe(QueryProbe(pool=lambda: app.pool, gauge=lambda m: m.runs, query=RUNS, name="runs"))
    return app


def run() -> None:
    """Console script `syncline-scheduler`."""
    settings = SchedulerSettings()
    configure(settings.log, service="scheduler")
    setup_tracing(service="scheduler")
    asyncio.run(build_app(settings).serve())
