"""Fixtures of the end-to-end tests: the Polytomic SDK of the session's organisation, and a fresh destination
database. The SDK is imported where it is used: the Elasticsearch tests also run in an environment without it."""

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest
from tests.support.infra import create_database, drop_database, unique
from tests.support.system import System

if TYPE_CHECKING:
    from polytomic import Polytomic


@pytest.fixture
def api(system: System) -> Iterator["Polytomic"]:
    from tests.e2e.polytomic_support import polytomic, wait_for_policy  # imported here: see the module docstring

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
