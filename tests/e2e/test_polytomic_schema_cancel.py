"""Cancelling one schema of a bulk sync (`POST /api/bulk/syncs/{id}/schemas/{schema_id}/cancel`) with the official
`polytomic` SDK, through the whole system: 404 for an unknown sync or schema; "not running" when no execution
including the schema is going; while one is, the request reaches the scheduler and the schema joins the run's
`canceled_objects` (what the executor reads to stop that schema's work)."""

from typing import Any

import asyncpg
import pytest
from polytomic import NotFoundError, Polytomic
from tests.e2e.polytomic_support import (
    NO_RETRY,
    TERMINAL,
    big_table,
    bulk_sync,
    connections,
    execute,
    running,
    seed,
    start,
    wait,
    wait_for,
)
from tests.support.system import System

pytestmark = pytest.mark.e2e


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
    source, target = connections(api, source_name, target_name)
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
    await execute(source_dsn, "CREATE TABLE small (id bigint PRIMARY KEY, v text); INSERT INTO small VALUES (1, 'a')")
    await big_table(source_dsn, "big", rows=2_000_000)
    source, target = connections(api, source_name, target_name)
    sync_id = bulk_sync(api, source, target, ["public.small", "public.big"])
    run_id = start(api, sync_id, schemas=["public.big"])
    wait_for(lambda: running(api, sync_id, run_id), what="the run starting")

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
