"""Wiring of the scheduler service: `build_app(settings)` for tests, `run()` for the console script."""

import asyncio
from pathlib import Path

from syncline_platform.logging import configure
from syncline_platform.service import ServiceApp
from syncline_scheduler import handlers
from syncline_scheduler.settings import SchedulerSettings


def build_app(settings: SchedulerSettings) -> ServiceApp:
    """The scheduler service, not yet started."""
    app = ServiceApp(name="scheduler", settings=settings, migrations=Path(__file__).parent / "migrations")
    handlers.register(app)
    return app


def run() -> None:
    """Console script `syncline-scheduler`."""
    settings = SchedulerSettings()
    configure(settings.log, service="scheduler")
    asyncio.run(build_app(settings).serve())
