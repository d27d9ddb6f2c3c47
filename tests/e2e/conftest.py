"""Fixtures of the end-to-end tests: the SDK of the session's organisation, and a fresh destination database."""

from collections.abc import AsyncIterator, Iterator

import pytest
from polytomic import Polytomic
from tests.e2e.polytomic_support import polytomic, wait_for_policy
from tests.support.infra import create_database, drop_database, unique
from tests.support.system import System


@pytest.fixture
def api(system: System) -> Iterator[Polytomic]:
    with polytomic(system) as sdk:
        wait_for_policy(sdk)
        yield sdk


@pytest.fixture
async def target_db() -> AsyncIterator[tuple[str, str]]:
    """A fresh destination database: (name, DSN); dropped afterwards."""
    database = unique("target")
    dsn = await create_database(database)
    try:
        yield database, dsn
    finally:
        await drop_database(database)
