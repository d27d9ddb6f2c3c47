"""Fixtures of the end-to-end tests: the Polytomic SDK of the session's organisation, a fresh destination
database, a fresh folder in the organisation's own folder of the files root, and a cross-tenant module's matrix.
The SDK is imported where it is used: the Elasticsearch tests also run in an environment without it."""

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.support.infra import create_database, drop_database, unique
from tests.support.system import System
from tests.support.tenants import Matrix

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


@pytest.fixture
def org_dir(system: System) -> Iterator[Path]:
    """A fresh folder inside the session organisation's own folder of the files root; removed afterwards."""
    path = system.org_root() / unique("folder")
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def matrix() -> Iterator[Matrix]:
    """The cross-tenant probes a module ran, written to `.local/cross-tenant.json` once they all did."""
    probes = Matrix()
    yield probes
    probes.write()
