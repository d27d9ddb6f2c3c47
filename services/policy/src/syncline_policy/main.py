"""Wiring of the policy service: `build_app(settings)` for tests, `run()` for the console script."""

import asyncio
from pathlib import Path

import structlog

from syncline_platform.logging import configure
from syncline_platform.service import ServiceApp
from syncline_platform.tracing import setup_tracing
from syncline_policy import handlers
from syncline_policy.compilers import elastic
from syncline_policy.settings import PolicySettings

log = structlog.get_logger(__name__)


def build_app(settings: PolicySettings) -> ServiceApp:
    """The policy service, not yet started."""
    app = ServiceApp(name="policy", settings=settings, migrations=Path(__file__).parent / "migrations")
    handlers.register(app, files_root=settings.files.root)

    async def compile_connectors(started: ServiceApp) -> None:
        # connectors stored before policy compiled them get their specs before any command is taken
        async with started.pool.acquire() as conn, conn.transaction():
            compiled = await elastic.compile_missing(conn)
        if compiled:
            log.info("connectors.compiled", count=compiled)

    app.on_starting(compile_connectors)
    return app


def run() -> None:
    """Console script `syncline-policy`."""
    settings = PolicySettings()
    configure(settings.log, service="policy")
    setup_tracing(service="policy")
    asyncio.run(build_app(settings).serve())
