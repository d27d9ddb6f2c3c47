"""Cancelling one schema of a bulk sync (`POST /api/bulk/syncs/{id}/schemas/{schema_id}/cancel`) with the official
`polytomic` SDK, through the whole system: 404 for an unknown sync or schema; "not running" when no execution
including the schema is going; while one is, the request reaches the scheduler and the schema joins the run's
`canceled_objects` (what the executor reads to stop that schema's work)."""

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from polytomic import NotFoundError, Polytomic
from tests.e2e.test_polytomic_connections import polytomic, seed, wait_for_policy
from tests.e2e.test_polytomic_executions import NO_RETRY, TERMINAL, bulk_sync, connection, wait
from tests.support.infra import create_database, drop_database, unique
from tests.support.system import System

pytestmark = pytest.mark.e2e


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


def cancel_message(api: Polytomic, sync_id: str, schema_id: str, **options: Any) -> str:
    answered = api.bulk_sync.schemas.cancel(sync_id, schema_id, **options).data
    assert answered is not None
    message: str = answered.message
    assert message
    return message


async def test_unknown_sync_or_schema_is_404_and_an_idle_schema_is_not_running(
    api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, _ = target_db
    await seed(source_dsn)
    source, target = connection(api, source_name, "source"), connection(api, target_name, "destination")
    sync_id = bulk_sync(api, source, target, ["public.orders", "public.customers"])

    with pytest.raises(NotFoundError) as unknown_sync:
        api.bulk_sync.schemas.cancel("no-such-sync", "public.orders")
    assert unknown_sync.value.status_code == 404
    with pytest.raises(NotFoundError) as unknown_schema:
        api.bulk_sync.schemas.cancel(sync_id, "public.no_such_table")
    assert unknown_schema.value.status_code == 404

    message = cancel_message(api, sync_id, "public.orders")
    assert "not running" in message
    assert "public.orders" in message

    done = api.bulk_sync.start(sync_id, schemas=["public.customers"], request_options=NO_RETRY).data
    assert done is not None
    assert wait(api, sync_id, str(done.id)).status == "completed"
    assert "not running" in cancel_message(api, sync_id, "public.customers")  # a finished execution is no longer going
    key = "schema-cancel-idle-1"
    first = cancel_message(api, sync_id, "public.customers", idempotency_key=key)
    assert cancel_message(api, sync_id, "public.customers", idempotency_key=key) == first


async def test_a_running_schema_is_asked_to_stop_and_others_are_not_running(
    api: Polytomic, system: System, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, _ = target_db
    conn = await asyncpg.connect(source_dsn)
    try:
        await conn.execute(
            "CREATE TABLE small (id bigint PRIMARY KEY, v text); INSERT INTO small VALUES (1, 'a');"
            "CREATE TABLE big (id bigint PRIMARY KEY, payload text);"
            " INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 2000000) g"
        )
    finally:
        await conn.close()
    source, target = connection(api, source_name, "source"), connection(api, target_name, "destination")
    sync_id = bulk_sync(api, source, target, ["public.small", "public.big"])
    started = api.bulk_sync.start(sync_id, schemas=["public.big"], request_options=NO_RETRY).data
    assert started is not None
    run_id = str(started.id)
    deadline = time.monotonic() + 30
    while api.bulk_sync.executions.get(sync_id, run_id).data.status != "running":
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.1)

    # the running execution moves only public.big: public.small is not running
    assert "not running" in cancel_message(api, sync_id, "public.small")
    message = cancel_message(api, sync_id, "public.big")
    assert message == f"cancellation of schema public.big in execution {run_id} requested"

    runs = await asyncpg.connect(system.database_url)
    try:
        stored = await runs.fetchval("SELECT canceled_objects FROM scheduler.runs WHERE id = $1", run_id)
    finally:
        await runs.close()
    assert stored == ["public.big"]

    api.bulk_sync.cancel(sync_id)  # end the run, whatever the executor made of the schema's cancel
    assert wait(api, sync_id, run_id).status in TERMINAL
