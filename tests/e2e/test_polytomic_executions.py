"""Polytomic bulk-sync executions with the official `polytomic` SDK, through the whole system: start a sync of two
tables (a field disabled, a filter), poll the execution until it completes and read the destination database;
409 on a second start while one runs, cancel, list executions (pagination, only terminal, ascending) and the
sync's status."""

import time

import asyncpg
import pytest
from polytomic import (
    BulkFilter,
    ConflictError,
    FieldConfiguration,
    NotFoundError,
    Polytomic,
    SchemaConfiguration,
)
from tests.e2e.polytomic_support import (
    NO_RETRY,
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


async def test_start_runs_the_sync_into_the_destination(
    api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, target_dsn = target_db
    await seed(source_dsn)
    conn = await asyncpg.connect(source_dsn)
    try:
        await conn.execute(
            "INSERT INTO orders (id, customer_id, total) SELECT g, g % 5 + 1, g * 2 FROM generate_series(1, 7) g"
        )
    finally:
        await conn.close()
    source, target = connections(api, source_name, target_name)
    sync_id = bulk_sync(
        api,
        source,
        target,
        [
            "public.orders",
            SchemaConfiguration(
                id="public.customers",
                fields=[FieldConfiguration(id="balance", enabled=False)],
                filters=[BulkFilter(field_id="id", function="GreaterThan", value=2)],
            ),
        ],
    )

    started = api.bulk_sync.start(sync_id, fetch_mode="none").data
    assert started is not None
    assert started.id
    assert started.status in {"created", "scheduled", "running", "completed"}
    done = wait(api, sync_id, started.id)
    assert done.status == "completed", done.status_message
    assert done.record_count == 10  # 7 orders + customers 3..5
    assert done.completed_at is not None
    assert done.is_test is False
    by_schema = {s.schema_: s for s in done.schemas or []}
    assert set(by_schema) == {"public.orders", "public.customers"}
    assert by_schema["public.customers"].status == "completed"
    assert by_schema["public.customers"].record_count == 3
    assert by_schema["public.orders"].record_count == 7
    assert by_schema["public.orders"].output_name == "orders"

    out = await asyncpg.connect(target_dsn)
    try:
        customers = await out.fetch("SELECT * FROM copy.customers ORDER BY id")
        assert [r["id"] for r in customers] == [3, 4, 5]
        assert "balance" not in customers[0]
        assert await out.fetchval("SELECT count(*) FROM copy.orders") == 7
    finally:
        await out.close()

    subset = api.bulk_sync.start(sync_id, schemas=["public.orders"]).data
    assert subset is not None
    assert subset.id
    partial = wait(api, sync_id, subset.id)
    assert partial.status == "completed"
    assert partial.is_partial is True
    assert [s.schema_ for s in partial.schemas or []] == ["public.orders"]

    listed = api.bulk_sync.executions.list(sync_id).data or []
    assert [e.id for e in listed] == [subset.id, started.id]
    oldest = api.bulk_sync.executions.list(sync_id, ascending=True, only_terminal=True, limit=1)
    assert [e.id for e in oldest.data or []] == [started.id]
    assert oldest.pagination is not None
    assert oldest.pagination.next_page_token
    following = api.bulk_sync.executions.list(
        sync_id, ascending=True, limit=1, page_token=oldest.pagination.next_page_token
    )
    assert [e.id for e in following.data or []] == [subset.id]

    status = api.bulk_sync.get_status(sync_id).data
    assert status is not None
    assert status.current_execution is None
    assert status.last_execution is not None
    assert status.last_execution.id == subset.id
    assert status.next_execution_time is not None
    assert (status.next_execution_time.hour, status.next_execution_time.minute) == (3, 0)

    with pytest.raises(NotFoundError):
        api.bulk_sync.executions.get(sync_id, "no-such-execution")


async def test_second_start_conflicts_and_cancel_stops_the_run(
    api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, _ = target_db
    await big_table(source_dsn, "big", rows=2_000_000)
    source, target = connections(api, source_name, target_name)
    sync_id = bulk_sync(api, source, target, ["public.big"])

    started = api.bulk_sync.start(sync_id, request_options=NO_RETRY).data
    assert started is not None
    assert started.id
    with pytest.raises(ConflictError) as conflict:
        api.bulk_sync.start(sync_id, request_options=NO_RETRY)
    assert conflict.value.body.status == 409

    deadline = time.monotonic() + 30
    while True:
        current = api.bulk_sync.get_status(sync_id).data
        assert current is not None
        if current.current_execution is not None and current.current_execution.status == "running":
            break
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.1)
    canceled = api.bulk_sync.cancel(sync_id).data
    assert canceled is not None
    assert started.id in (canceled.message or "")
    ended = wait(api, sync_id, started.id)
    assert ended.status == "canceled"
    assert ended.completed_at is not None

    again = api.bulk_sync.executions.cancel(sync_id, started.id).data
    assert again is not None
    assert "not running" in (again.message or "")
    status = api.bulk_sync.get_status(sync_id).data
    assert status is not None
    assert status.current_execution is None
    assert status.last_execution is not None
    assert status.last_execution.status == "canceled"


async def test_deleting_a_sync_stops_its_run_and_deletes_its_history(
    api: Polytomic, system: System, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, _ = target_db
    await execute(source_dsn, "CREATE TABLE small (id bigint PRIMARY KEY, v text); INSERT INTO small VALUES (1, 'a')")
    await big_table(source_dsn, "huge", rows=1_500_000)
    source, target = connections(api, source_name, target_name)
    sync_id = bulk_sync(api, source, target, ["public.small", "public.huge"])
    first_id = start(api, sync_id, schemas=["public.small"])
    assert wait(api, sync_id, first_id).status == "completed"
    going = start(api, sync_id)
    wait_for(lambda: running(api, sync_id, going), what="the run starting")

    api.bulk_sync.delete(sync_id)

    runs = await asyncpg.connect(system.database_url)
    try:
        deadline = time.monotonic() + 20
        while True:
            rows = {
                r["id"]: r["status"]
                for r in await runs.fetch("SELECT id, status FROM scheduler.runs WHERE sync_id = $1", sync_id)
            }
            # the running execution is canceled first, then deleted with the rest of the history once it has
            # ended (its one terminal event is checked in test_cancel_before_delete)
            if not rows:
                break
            assert rows.get(going) in ("in_progress", "canceling", "canceled"), rows
            assert time.monotonic() < deadline, f"the running execution did not stop: {rows}"
            time.sleep(0.2)
    finally:
        await runs.close()
    assert first_id not in rows  # the finished history is gone
