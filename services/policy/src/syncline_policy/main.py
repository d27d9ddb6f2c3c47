"""Wiring of the policy service: `build_app(settings)` for tests, `run()` for the console script."""

import asyncio
from pathlib import Path

from syncline_platform.logging import configure
from syncline_platform.service import ServiceApp
from syncline_policy import handlers
from syncline_policy.settings import PolicySettings


def build_app(settings: PolicySettings) -> ServiceApp:
    """The policy service, not yet started."""
    app = ServiceApp(name="policy", settings=settings, migrations=Path(__file__).parent / "migrations")
    handlers.register(app, files_root=settings.files.root)
    return app


def run() -> None:
    """Console script `syncline-policy`."""
    settings = PolicySettings()
    configure(settings.log, service="policy")
    asyncio.run(build_app(settings).serve())
