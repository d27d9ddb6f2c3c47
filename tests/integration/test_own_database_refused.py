"""A run never opens Syncline's own databases: the executor's pipeline, given the services' DSNs as its own (as the
executor gives them from its settings), refuses a spec whose source or destination is one of them, however the
server is named, before a connection opens."""

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from pydantic import SecretStr
from tests.support.infra import create_database, drop_database, unique

from syncline_connectors.reach import OwnDatabaseError, OwnDatabases
from syncline_connectors.spec import Endpoint, ObjectSpec, SyncSpec
from syncline_executor.pipeline import Pipeline, PipelineSettings, Tally
from syncline_platform.db import create_pool
from syncline_platform.migrations import apply_migrations

pytestmark = pytest.mark.integration

EXECUTOR_MIGRATIONS = Path(__file__).resolve().parents[2] / "services/executor/src/syncline_executor/migrations"


@pytest.fixture(scope="module")
async def own() -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    """A database standing for Syncline's own (the executor's schema in it), and a pool on it."""
    name = unique("own_db")
    dsn = await create_database(name)
    await apply_migrations(dsn=SecretStr(dsn), schema="executor", directory=EXECUTOR_MIGRATIONS)
    pool = await create_pool(dsn=SecretStr(dsn), schema="executor", application="test", max_size=2)
    try:
        yield dsn, pool
    finally:
        await pool.close()
        await drop_database(name)


def as_localhost(dsn: str) -> dict[str, object]:
    """The same database, named as a tenant would write it."""
    parts = urlsplit(dsn)
    return {"host": "localhost", "port": parts.port, "username": parts.username, "database": parts.path[1:]}


@pytest.mark.parametrize("side", ["source", "destination"])
async def test_a_run_is_refused_before_it_opens_syncline_s_own_database(
    own: tuple[str, asyncpg.Pool], side: str
) -> None:
    dsn, pool = own
    parts = urlsplit(dsn)
    elsewhere = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    ends: dict[str, dict[str, object]] = {
        "source": {"dsn": elsewhere, "schema": "public"},
        "destination": {"dsn": elsewhere},
    }
    ends[side] = as_localhost(dsn)
    spec = SyncSpec(
        sync_id=unique("sync"),
        source=Endpoint(type="postgresql", config=ends["source"]),
        destination=Endpoint(type="postgresql", config=ends["destination"] | {"schema": "copy"}),
        objects=(ObjectSpec(name="pg_am", schema_name="pg_catalog"),),
    )
    settings = PipelineSettings(own=OwnDatabases.of([dsn]))
    pipeline = Pipeline(pool=pool, sealer=None, settings=settings, run_id=unique("run"), tally=Tally())
    with pytest.raises(OwnDatabaseError, match="Syncline's own database"):
        await pipeline.run(spec)
