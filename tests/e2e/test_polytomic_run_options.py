"""How a Polytomic execution runs, with the official `polytomic` SDK through the whole system: simultaneous starts
(exactly one wins, the others get 409), a test execution (reads up to five records per schema, writes nothing),
an execution completing with errors (one schema fails, the others land; `bulk_sync.completed_with_error`),
replication (upserts and deletes arrive; `resync_mode` repairs a drifted destination), snapshots to a folder in
Parquet and JSONL (`rebuild` keeps only the newest file), and source schema changes per the discovery settings."""

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from polytomic import BadRequestError, ConflictError, Polytomic, SchemaConfiguration
from tests.e2e.polytomic_support import (
    NO_RETRY,
    big_table,
    connection,
    connections,
    create_sync,
    execute,
    fetch,
    name,
    run,
    running,
    schema_statuses,
    seed,
    start,
    wait,
    wait_for,
)

pytestmark = pytest.mark.e2e


async def test_simultaneous_starts_let_exactly_one_run(
    api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    await execute(
        source_dsn,
        "CREATE TABLE wide (id bigint PRIMARY KEY, payload text);"
        " INSERT INTO wide SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 1000000) g",
    )
    sync_id = create_sync(
        api, connection(api, source_name, "source"), connection(api, target_db[0], "target"), ["public.wide"]
    )
    outcomes: list[Any] = []
    gate = threading.Barrier(4)

    def start() -> None:
        gate.wait()
        try:
            outcomes.append(api.bulk_sync.start(sync_id, request_options=NO_RETRY).data)
        except ConflictError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    started = [o for o in outcomes if not isinstance(o, ConflictError)]
    refused = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(started) == 1, outcomes
    assert len(refused) == 3
    assert all(r.body.status == 409 and "already has a running execution" in r.body.message for r in refused)
    executions = api.bulk_sync.executions.list(sync_id).data or []
    assert [e.id for e in executions] == [started[0].id]
    api.bulk_sync.cancel(sync_id)
    assert wait(api, sync_id, str(started[0].id)).status == "canceled"


async def test_a_test_execution_reads_five_records_and_writes_nothing(
    api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, target_dsn = target_db
    await seed(source_dsn)
    await execute(source_dsn, "INSERT INTO orders (id, total) SELECT g, g FROM generate_series(1, 9) g")
    source, target = connections(api, source_name, target_name)
    sync_id = create_sync(api, source, target, ["public.orders", "public.customers"])

    with pytest.raises(BadRequestError):
        api.bulk_sync.start(sync_id, test=True, resync_mode="rebuild", request_options=NO_RETRY)
    tested = run(api, sync_id, test=True)
    assert tested.status == "completed", tested.status_message
    assert tested.is_test is True
    assert {s.schema_: (s.status, s.record_count) for s in tested.schemas or []} == {
        "public.orders": ("completed", 5),
        "public.customers": ("completed", 5),
    }
    assert tested.record_count == 10
    assert await fetch(target_dsn, "SELECT 1 FROM pg_namespace WHERE nspname = 'copy'") == []

    real = run(api, sync_id)
    assert real.status == "completed"
    assert real.record_count == 14  # 9 orders + 5 customers: the test moved no position
    assert len(await fetch(target_dsn, "SELECT id FROM copy.orders")) == 9


async def test_one_failing_schema_completes_the_execution_with_errors(
    api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, target_dsn = target_db
    await seed(source_dsn)
    await execute(source_dsn, "INSERT INTO orders (id, total) SELECT g, g FROM generate_series(1, 7) g")
    # the destination already has a view where the customers table should go: that schema cannot land
    await execute(target_dsn, "CREATE SCHEMA copy; CREATE VIEW copy.customers AS SELECT 1 AS id")
    sync_id = create_sync(
        api,
        connection(api, source_name, "source"),
        connection(api, target_name, "target"),
        ["public.orders", "public.customers"],
    )

    done = run(api, sync_id)
    assert done.status == "errors", done.status_message
    assert done.error_count == 1
    assert "public.customers" in (done.status_message or "")
    by_schema = {s.schema_: s for s in done.schemas or []}
    assert by_schema["public.orders"].status == "completed"
    assert by_schema["public.orders"].record_count == 7
    assert by_schema["public.customers"].status == "failed"
    assert "not a table" in (by_schema["public.customers"].status_message or "")
    assert len(await fetch(target_dsn, "SELECT id FROM copy.orders")) == 7
    assert (
        await fetch(target_dsn, "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '%stag%'") == []
    )

    deadline = time.monotonic() + 20
    while True:
        events = api.events.list(type="bulk_sync.completed_with_error").data or []
        mine = [e for e in events if getattr(e.event, "execution_id", None) == done.id]
        if mine:
            break
        assert time.monotonic() < deadline, "no bulk_sync.completed_with_error event"
        time.sleep(0.2)
    assert getattr(mine[0].event, "sync_id", None) == sync_id
    statuses = api.bulk_sync.get_status(sync_id).data
    assert statuses is not None
    assert statuses.last_execution is not None
    assert statuses.last_execution.status == "errors"


async def test_replicate_applies_changes_and_resync_repairs_drift(
    api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, target_dsn = target_db
    await seed(source_dsn)
    source, target = connections(api, source_name, target_name)
    sync_id = create_sync(api, source, target, ["public.customers"], mode="replicate")

    assert run(api, sync_id).status == "completed"
    assert [r["id"] for r in await fetch(target_dsn, "SELECT id FROM copy.customers ORDER BY id")] == [1, 2, 3, 4, 5]
    await execute(
        source_dsn,
        "UPDATE customers SET name = 'renamed' WHERE id = 1; DELETE FROM customers WHERE id = 2;"
        " INSERT INTO customers (id, name) VALUES (6, 'new')",
    )
    changed = run(api, sync_id)
    assert changed.status == "completed", changed.status_message
    rows = {r["id"]: r["name"] for r in await fetch(target_dsn, "SELECT id, name FROM copy.customers")}
    assert rows == {1: "renamed", 3: "customer 3", 4: "customer 4", 5: "customer 5", 6: "new"}

    await execute(target_dsn, "DELETE FROM copy.customers WHERE id = 3")  # drift the source does not know of
    assert run(api, sync_id).status == "completed"
    assert 3 not in {r["id"] for r in await fetch(target_dsn, "SELECT id FROM copy.customers")}
    resynced = run(api, sync_id, resync_mode="resync")
    assert resynced.status == "completed", resynced.status_message
    assert resynced.is_resync is True
    assert sorted(r["id"] for r in await fetch(target_dsn, "SELECT id FROM copy.customers")) == [1, 3, 4, 5, 6]
    await execute(source_dsn, "DELETE FROM customers WHERE id = 4")
    assert run(api, sync_id).status == "completed"  # the stream goes on after the resync
    assert sorted(r["id"] for r in await fetch(target_dsn, "SELECT id FROM copy.customers")) == [1, 3, 5, 6]


async def test_snapshots_to_a_folder_in_parquet_and_jsonl(
    api: Polytomic, source_db: tuple[str, str], org_dir: Path
) -> None:
    source_name, source_dsn = source_db
    await seed(source_dsn)
    source = connection(api, source_name, "source")
    folder = api.connections.create(
        name=name("folder"), type="file", configuration={"path": str(org_dir)}, validate=True
    ).data
    assert folder is not None
    assert folder.id

    parquet_sync = create_sync(
        api, source, str(folder.id), ["public.customers"], destination_configuration={"format": "parquet", "path": "pq"}
    )
    assert run(api, parquet_sync).status == "completed"
    [parquet_file] = (org_dir / "pq" / "customers").glob("*.parquet")
    table = pq.read_table(parquet_file)
    assert sorted(table.column("id").to_pylist()) == [1, 2, 3, 4, 5]
    assert "customer 3" in table.column("name").to_pylist()

    jsonl_sync = create_sync(
        api, source, str(folder.id), ["public.customers"], destination_configuration={"format": "jsonl", "path": "js"}
    )
    assert run(api, jsonl_sync).status == "completed"
    await execute(source_dsn, "INSERT INTO customers (id, name) VALUES (6, 'sixth')")
    assert run(api, jsonl_sync).status == "completed"
    files = sorted((org_dir / "js" / "customers").glob("*.jsonl"))
    assert len(files) == 2  # one file per execution
    rebuilt = run(api, jsonl_sync, resync_mode="rebuild")
    assert rebuilt.status == "completed"
    [kept] = (org_dir / "js" / "customers").glob("*.jsonl")
    assert kept.name == f"{rebuilt.id}.jsonl"
    lines = [json.loads(line) for line in kept.read_text().splitlines()]
    assert sorted(r["id"] for r in lines) == [1, 2, 3, 4, 5, 6]


async def test_source_schema_changes_follow_the_discovery_settings(
    api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, target_dsn = target_db
    await seed(source_dsn)
    source, target = connections(api, source_name, target_name)
    follows = create_sync(
        api,
        source,
        target,
        ["public.customers"],
        destination_configuration={"schema": "follows"},
        automatically_add_new_objects="all",
        automatically_add_new_fields="all",
    )
    keeps = create_sync(
        api,
        source,
        target,
        ["public.customers"],
        destination_configuration={"schema": "keeps"},
        automatically_add_new_objects="none",
        automatically_add_new_fields="none",
    )
    for sync_id in (follows, keeps):
        assert run(api, sync_id).status == "completed"
    await execute(
        source_dsn,
        "ALTER TABLE customers ADD COLUMN note text; UPDATE customers SET note = 'n' || id;"
        " CREATE TABLE regions (id integer PRIMARY KEY, label text); INSERT INTO regions VALUES (1, 'north')",
    )
    for sync_id in (follows, keeps):
        assert run(api, sync_id).status == "completed"

    async def columns(schema: str) -> set[str]:
        rows = await fetch(
            target_dsn,
            f"SELECT column_name FROM information_schema.columns WHERE table_schema = '{schema}'"
            " AND table_name = 'customers'",
        )
        return {r["column_name"] for r in rows}

    async def tables(schema: str) -> set[str]:
        rows = await fetch(
            target_dsn,
            f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}'",
        )
        return {r["table_name"] for r in rows}

    assert "note" in await columns("follows")
    assert "note" not in await columns("keeps")
    assert await tables("follows") == {"customers", "orders", "regions"}
    assert await tables("keeps") == {"customers"}
    assert await fetch(target_dsn, "SELECT label FROM follows.regions") == [{"label": "north"}]


async def test_cancelling_one_schema_lets_the_others_finish(
    api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, target_dsn = target_db
    await big_table(source_dsn, "huge", rows=1_500_000)
    await execute(
        source_dsn, "CREATE TABLE small (id int PRIMARY KEY, v text); INSERT INTO small VALUES (1, 'a'), (2, 'b')"
    )
    source, target = connections(api, source_name, target_name)
    sync_id = create_sync(api, source, target, ["public.huge", "public.small"])
    run_id = start(api, sync_id)
    wait_for(
        lambda: schema_statuses(api, sync_id, run_id).get("public.huge") == "running",  # its first batch is durable
        what="the huge table moving",
    )

    answer = api.bulk_sync.schemas.cancel(sync_id, "public.huge").data
    assert answer is not None
    done = wait(api, sync_id, run_id)
    assert done.status == "completed", done.status_message
    by_schema = {s.schema_: s for s in done.schemas or []}
    assert by_schema["public.huge"].status == "canceled"
    assert by_schema["public.small"].status == "completed"
    assert by_schema["public.small"].record_count == 2
    assert await fetch(target_dsn, "SELECT id FROM copy.small ORDER BY id") == [{"id": 1}, {"id": 2}]
    assert await fetch(target_dsn, "SELECT to_regclass('copy.huge') IS NULL AS gone") == [{"gone": True}]


async def test_data_cutoff_excludes_older_records(
    api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, target_dsn = target_db
    await execute(
        source_dsn,
        "CREATE TABLE events (id int PRIMARY KEY, at timestamptz NOT NULL);"
        " INSERT INTO events SELECT g, timestamptz '2025-01-01' + g * interval '1 day' FROM generate_series(1, 10) g",
    )
    source, target = connections(api, source_name, target_name)
    sync_id = create_sync(
        api,
        source,
        target,
        [SchemaConfiguration(id="public.events", tracking_field="at")],
        data_cutoff_timestamp=datetime(2025, 1, 8, tzinfo=UTC),
    )
    done = run(api, sync_id)
    assert done.status == "completed", done.status_message
    assert [r["id"] for r in await fetch(target_dsn, "SELECT id FROM copy.events ORDER BY id")] == [7, 8, 9, 10]


async def test_concurrency_limit_moves_schemas_side_by_side(
    api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, target_dsn = target_db
    await big_table(source_dsn, "huge", rows=1_500_000)
    await execute(source_dsn, "CREATE TABLE small (id int PRIMARY KEY, v text); INSERT INTO small VALUES (1, 'a')")
    source, target = connections(api, source_name, target_name)
    sync_id = create_sync(api, source, target, ["public.huge", "public.small"], concurrency_limit=2)
    run_id = start(api, sync_id)
    # the small table lands while the huge one, listed first, is still moving (the execution has not ended)
    wait_for(lambda: schema_statuses(api, sync_id, run_id).get("public.small") == "completed", what="small landing")
    assert schema_statuses(api, sync_id, run_id)["public.huge"] in {"scheduled", "running"}
    assert await fetch(target_dsn, "SELECT v FROM copy.small") == [{"v": "a"}]
    api.bulk_sync.cancel(sync_id)
    assert wait(api, sync_id, run_id).status == "canceled"


async def test_deactivating_stops_the_running_execution_and_deleting_drops_the_named_slot(
    api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, _ = target_db
    await big_table(source_dsn, "huge", rows=1_500_000)
    source, target = connections(api, source_name, target_name)
    slot = f"named_{int(time.time() * 1000)}"
    sync_id = create_sync(
        api, source, target, ["public.huge"], mode="replicate", source_configuration={"replication_slot": slot}
    )
    run_id = start(api, sync_id)
    wait_for(lambda: running(api, sync_id, run_id), what="the run starting")
    deadline = time.monotonic() + 30
    named = f"SELECT plugin FROM pg_replication_slots WHERE slot_name = '{slot}'"
    while not await fetch(source_dsn, named):  # the stream opens right after the claim
        assert time.monotonic() < deadline, "the named slot was never created"
        time.sleep(0.05)
    assert await fetch(source_dsn, named) == [{"plugin": "pgoutput"}]
    publication = f"SELECT pubname FROM pg_publication WHERE pubname = '{slot}'"
    assert await fetch(source_dsn, publication) == [{"pubname": slot}]  # Syncline's own, named like the slot
    deactivated = api.bulk_sync.activate(sync_id, active=False).data
    assert deactivated is not None
    assert deactivated.active is False
    assert wait(api, sync_id, run_id).status == "canceled"
    api.bulk_sync.delete(sync_id)
    while await fetch(source_dsn, named):  # a deleted sync gives its replication slot back
        assert time.monotonic() < deadline + 30, "the deleted sync's slot was never dropped"
        time.sleep(0.1)
    while await fetch(source_dsn, publication):  # and its publication with it (dropped right after the slot)
        assert time.monotonic() < deadline + 40, "the deleted sync's publication was never dropped"
        time.sleep(0.1)
