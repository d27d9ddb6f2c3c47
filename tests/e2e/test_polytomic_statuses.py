"""The status of many Polytomic bulk syncs (`GET /api/bulk/syncs/status`) with the official `polytomic` SDK,
through the whole system: per-schema statuses after a full and a partial execution (the schema the partial one
left out keeps the full one's), a sync never run, repeated `sync_id`, `active` and `all` (which ignore
`sync_id`), a running execution preferred over a finished one, and the 400 and 404 answers."""

import time
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from polytomic import NotFoundError, Polytomic
from polytomic.core.api_error import ApiError
from tests.e2e.polytomic_support import NO_RETRY, bulk_sync, connections, seed, wait

pytestmark = pytest.mark.e2e


def statuses(api: Polytomic, **params: Any) -> dict[str, Any]:
    """The answer, by sync id (asserting each sync appears once)."""
    data = api.bulk_sync.executions.list_status(**params).data or []
    by_id = {s.sync_id: s for s in data}
    assert len(by_id) == len(data), [s.sync_id for s in data]
    return by_id


def by_schema(entry: Any) -> dict[str, Any]:
    found = {s.schema_: s for s in entry.schemas or []}
    assert len(found) == len(entry.schemas or []), "a schema appears twice"
    return found


def eventually(probe: Callable[[], Any], check: Callable[[Any], bool], *, timeout_s: float = 20.0) -> Any:
    """Poll `probe` until `check` holds on its answer (the scheduler follows configuration asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if check(found):
            return found
        assert time.monotonic() < deadline, f"never held: {found}"
        time.sleep(0.2)


async def insert_orders(dsn: str, *, first: int, last: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO orders (id, customer_id, total)"
            " SELECT g, g % 5 + 1, g * 2 FROM generate_series($1::int, $2) g",
            first,
            last,
        )
    finally:
        await conn.close()


async def test_statuses_of_executed_partial_unrun_and_inactive_syncs(
    api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, _ = target_db
    await seed(source_dsn)  # 5 customers
    await insert_orders(source_dsn, first=1, last=7)
    source, target = connections(api, source_name, target_name)
    ran = bulk_sync(api, source, target, ["public.orders", "public.customers"])
    idle = bulk_sync(api, source, target, ["public.customers"])

    selection = [s.id for s in api.bulk_sync.schemas.list(ran).data or [] if s.enabled]
    assert sorted(selection) == ["public.customers", "public.orders"]
    before = statuses(api, sync_id=ran)[ran]
    assert before.status is None
    assert [(s.schema_, s.status, s.execution_id) for s in before.schemas or []] == [
        (key, None, None) for key in selection
    ]

    full = api.bulk_sync.start(ran).data
    assert full is not None
    assert full.id
    assert wait(api, ran, full.id).status == "completed"

    both = statuses(api, sync_id=[ran, idle, ran])
    assert list(both) == [ran, idle]  # the order asked for, each sync once
    assert both[ran].status == "completed"
    schemas = by_schema(both[ran])
    assert list(schemas) == selection  # the sync's selection order
    assert {k: (s.status, s.record_count, s.execution_id) for k, s in schemas.items()} == {
        "public.orders": ("completed", 7, full.id),
        "public.customers": ("completed", 5, full.id),
    }
    assert all(s.error_count == 0 and s.completed_at is not None for s in schemas.values())
    assert schemas["public.orders"].started_at <= schemas["public.orders"].completed_at
    assert both[idle].status is None
    assert [(s.schema_, s.status, s.record_count) for s in both[idle].schemas or []] == [
        ("public.customers", None, None)
    ]
    assert both[ran].next_execution_time is not None
    assert (both[ran].next_execution_time.hour, both[ran].next_execution_time.minute) == (3, 0)

    await insert_orders(source_dsn, first=8, last=10)
    partial = api.bulk_sync.start(ran, schemas=["public.orders"]).data
    assert partial is not None
    assert partial.id
    assert wait(api, ran, partial.id).status == "completed"
    after = statuses(api, sync_id=ran)[ran]
    assert after.status == "completed"
    assert {k: (s.status, s.record_count, s.execution_id) for k, s in by_schema(after).items()} == {
        "public.orders": ("completed", 10, partial.id),
        "public.customers": ("completed", 5, full.id),  # the partial run left it out: the full run's status
    }

    api.bulk_sync.activate(idle, active=False)
    active = statuses(api, active=True, sync_id=idle)  # `active` ignores sync_id
    assert ran in active
    assert idle not in active
    everything = eventually(
        lambda: statuses(api, all_=True, sync_id=ran),
        lambda found: idle in found and found[idle].next_execution_time is None,
    )
    assert ran in everything
    assert everything[ran].status == "completed"
    assert by_schema(everything[ran])["public.customers"].execution_id == full.id
    assert [s.schema_ for s in everything[idle].schemas or []] == ["public.customers"]

    with pytest.raises(NotFoundError) as missing:
        api.bulk_sync.executions.list_status(sync_id=[ran, "no-such-sync"])
    assert missing.value.body.status == 404
    assert "no-such-sync" in (missing.value.body.message or "")
    with pytest.raises(ApiError) as unasked:
        api.bulk_sync.executions.list_status(request_options=NO_RETRY)
    assert unasked.value.status_code == 400
    assert "sync_id" in unasked.value.body["message"]


async def test_a_running_execution_is_preferred_over_finished_ones(
    api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, _ = target_db
    conn = await asyncpg.connect(source_dsn)
    try:
        await conn.execute(
            "CREATE TABLE small (id bigint PRIMARY KEY, v text); INSERT INTO small VALUES (1, 'a'), (2, 'b');"
            "CREATE TABLE huge (id bigint PRIMARY KEY, payload text);"
            " INSERT INTO huge SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 1500000) g"
        )
    finally:
        await conn.close()
    source, target = connections(api, source_name, target_name)
    sync_id = bulk_sync(api, source, target, ["public.small", "public.huge"])
    first = api.bulk_sync.start(sync_id, schemas=["public.small"], request_options=NO_RETRY).data
    assert first is not None
    assert first.id
    assert wait(api, sync_id, first.id).status == "completed"
    finished = statuses(api, sync_id=sync_id)[sync_id]
    assert {k: (s.status, s.execution_id) for k, s in by_schema(finished).items()} == {
        "public.small": ("completed", first.id),
        "public.huge": (None, None),
    }

    running = api.bulk_sync.start(sync_id, request_options=NO_RETRY).data
    assert running is not None
    assert running.id
    now = eventually(
        lambda: statuses(api, sync_id=sync_id)[sync_id],
        lambda found: by_schema(found)["public.huge"].status == "running",
        timeout_s=30,
    )
    assert now.status == "running"
    assert {s.execution_id for s in now.schemas or []} == {running.id}  # both schemas: the running execution
    assert by_schema(now)["public.huge"].completed_at is None

    api.bulk_sync.cancel(sync_id)
    assert wait(api, sync_id, running.id).status == "canceled"
    ended = statuses(api, sync_id=sync_id)[sync_id]
    assert ended.status == "canceled"
    assert by_schema(ended)["public.huge"].status == "canceled"
    assert by_schema(ended)["public.huge"].execution_id == running.id
