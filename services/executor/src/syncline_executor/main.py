"""Wiring of the executor service: `build_app(settings)` for tests, `run()` for the console script."""

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

from syncline_connectors.docstore import ensure_database
from syncline_executor import handlers, repository, runlog
from syncline_executor.releases import PENDING, StreamReleases
from syncline_executor.service import RunExecutor
from syncline_executor.settings import ExecutorSettings
from syncline_platform.logging import configure
from syncline_platform.metrics import QueryProbe
from syncline_platform.service import ServiceApp
from syncline_platform.tracing import setup_tracing


def build_app(settings: ExecutorSettings) -> ServiceApp:
    """The executor service, not yet started."""
    app = ServiceApp(name="executor", settings=settings, migrations=Path(__file__).parent / "migrations")
    runs = RunExecutor(app=app, settings=settings)
    releases = StreamReleases(app=app, sealer=runs.sealer)
    handlers.register(app, runs=runs, releases=releases)
    app.on_started(releases.start)
    app.on_stopping(releases.stop)
    app.metrics.add_probe(
        QueryProbe(pool=lambda: app.pool, gauge=lambda m: m.stream_releases, query=PENDING, name="stream_releases")
    )
    app.retention.add(repository.checkpoints_purge(settings.retention))
    app.retention.add(runlog.purge(settings.retention))

    async def prepare_docstore(_: ServiceApp) -> None:
        database = urlsplit(settings.docstore_dsn()).path.lstrip("/")
        await ensure_database(admin_dsn=settings.admin_dsn(), database=database)

    async def stop_runs(_: ServiceApp) -> None:
        await runs.drain()

    app.on_starting(prepare_docstore)
    app.on_stopping(stop_runs)
    return app


def run() -> None:
    """Console script `syncline-executor`."""
    settings = ExecutorSettings()
    configure(settings.log, service="executor")
    setup_tracing(service="executor")
    asyncio.run(build_app(settings).serve())
