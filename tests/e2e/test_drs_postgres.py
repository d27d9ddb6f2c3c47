"""Huawei DRS with the official SDK, PostgreSQL → PostgreSQL: the whole lifecycle of a `FULL_INCR_TRANS` job with
rows and checksums compared, changes while it replicates with the delay falling, pause and resume without a row
lost or doubled, terminate releasing the slot; `FULL_TRANS` and `INCR_TRANS`; a batch whose items fare apart;
`progress_map` and `remaining_time` per table while a snapshot moves; `index_trans` copying secondary indexes."""

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from tests.support.infra import database_url, with_database
from tests.support.system import System

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:Method .* of DrsClient is deprecated")]

ROWS = 2_000


async def _seed(dsn: str, *, rows: int = ROWS) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, price numeric(10, 2), at timestamptz)"
        )
        await conn.execute(
            "INSERT INTO items SELECT g, 'item ' || g, g * 1.25, now() FROM generate_series(1, $1) g", rows
        )
    finally:
        await conn.close()


async def _fetch(dsn: str, query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def _execute(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


CHECKSUM = (
    "SELECT count(*) || ':' || coalesce(md5(string_agg(id || '|' || name || '|' || coalesce(price::text, ''), ','"
    " ORDER BY id)), '') FROM {}"
)


async def _same(source: str, target: str, table: str = "items", *, schema: str = "public") -> tuple[str, str]:
    return (
        await _fetch(source, CHECKSUM.format(f"public.{table}")),
        await _fetch(target, CHECKSUM.format(f"{schema}.{table}")),
    )


async def _wait_same(source: str, target: str, *, timeout_s: float = 60.0) -> str:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        left, right = await _same(source, target)
        if left == right:
            return str(left)
        assert asyncio.get_running_loop().time() < deadline, f"source {left} != target {right}"
        await asyncio.sleep(0.5)


async def _write_changes(dsn: str, *, seconds: float) -> None:
    """Inserts, updates and deletes for `seconds`, one transaction every 0.1 s."""
    conn = await asyncpg.connect(dsn)
    try:
        loop = asyncio.get_running_loop()
        until, first = loop.time() + seconds, 1_000_000
        while loop.time() < until:
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO items SELECT g, 'new ' || g, g, now() FROM generate_series($1::bigint, $1 + 499) g",
                    first,
                )
                await conn.execute(
                    "UPDATE items SET name = name || '+', price = price + 1 WHERE id % 97 = $1", first % 97
                )
                await conn.execute("DELETE FROM items WHERE id BETWEEN $1 - 400 AND $1 - 390", first)
            first += 500
            await asyncio.sleep(0.1)
    finally:
        await conn.close()


async def _slot_exists(name: str) -> bool:
    dsn = with_database(database_url(), "postgres")
    return bool(await _fetch(dsn, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", name))


async def test_full_incr_trans_through_the_whole_lifecycle(
    system: System, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    from tests.e2e import drs_support as d

    (source_name, source), (target_name, target) = source_db, target_db
    await _seed(source)
    await _execute(source, "CREATE INDEX items_by_name ON items (name)")  # not copied: index_trans is false
    client = d.drs(system)
    slot = f"drs_{uuid.uuid4().hex[:12]}"
    job = d.ready(
        client,
        source_db=source_name,
        target=d.postgres(target_name),
        tables=("items",),
        task_type="FULL_INCR_TRANS",
        policy={
            "conflict_policy": "overwrite",
            "ddl_trans": True,
            "filter_ddl_policy": "drop_database",
            "index_trans": False,
            "slot_name": slot,
        },
    )
    assert d.start(client, job).status == "success"
    d.wait_status(client, job, "INCRE_TRANSFER_STARTED", timeout_s=90)
    assert await _wait_same(source, target) == (await _same(source, target))[0]
    assert (await _same(source, target))[0].startswith(f"{ROWS}:")
    shown = d.progress(client, job)
    assert shown.progress == "100"
    assert (shown.remaining_time, _map(shown)) == ("0", {"data": ("100%", "0"), "public.items": ("100%", "0")})
    assert await _indexes(target) == ["CREATE UNIQUE INDEX items_pkey ON public.items USING btree (id)"]
    assert await _slot_exists(slot)

    # changes arriving while replicating (inserts, updates, deletes, ~5,000 rows/s for 5 s): the delay shows, then
    # falls to 0 once the writer stops
    writer = asyncio.create_task(_write_changes(source, seconds=5.0))
    delays: list[int] = []
    while not writer.done():
        shown = await asyncio.to_thread(d.progress, client, job)
        assert shown.transfer_status == "INCRE_TRANSFER_STARTED"
        delays.append(int(shown.incre_trans_delay_millis))
        await asyncio.sleep(0.3)
    await writer
    await _wait_same(source, target)
    settled = d.wait_for(
        lambda: (p := d.progress(client, job)).incre_trans_delay_millis == "0" and p, what="the delay to fall to 0"
    )
    assert settled.progress == "100"
    assert max(delays) > 0, delays
    assert d.status(client, job) == "INCRE_TRANSFER_STARTED"

    # pause and resume: nothing lost, nothing doubled
    assert client_pause(client, job).status == "success"
    d.wait_status(client, job, "PAUSING")
    await _execute(
        source,
        "INSERT INTO items SELECT g, 'while paused', g, now() FROM generate_series(900001, 900500) g",
        "UPDATE items SET name = 'paused update' WHERE id <= 50",
        "DELETE FROM items WHERE id BETWEEN 51 AND 60",
    )
    resumed = d.wait_for(
        lambda: (r := client_resume(client, job)).status == "success" and r, what="resume", timeout_s=30
    )
    assert resumed.status == "success"
    d.wait_status(client, job, "INCRE_TRANSFER_STARTED")
    await _wait_same(source, target)
    assert await _fetch(target, "SELECT count(*) FROM public.items WHERE name = 'while paused'") == 500

    # terminate: the run stops, the slot and its publication go
    assert d.terminate(client, job).status == "success"
    d.wait_status(client, job, "RELEASE_RESOURCE_COMPLETE")
    assert not await _slot_exists(slot)
    assert not await _fetch(source, "SELECT count(*) FROM pg_publication WHERE pubname = $1", slot)
    assert d.terminate(client, job, delete_type="delete").status == "success"
    assert d.status(client, job) == "DELETED"


def _map(shown: Any) -> dict[str, tuple[str, str | None]]:
    """A progress's `progress_map` as (completed, remaining_time) by entry."""
    return {key: (info.completed, info.remaining_time) for key, info in (shown.progress_map or {}).items()}


async def _indexes(dsn: str, table: str = "items") -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY indexname", table)
    finally:
        await conn.close()
    return [r["indexdef"] for r in rows]


async def test_progress_per_table_while_the_snapshot_moves_and_indexes_follow_index_trans(
    system: System, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    """`progress_map` and `remaining_time` while the second table waits on a lock the test holds (the first is
    copied, the rate measured), then once the full phase is complete; `index_trans` copies the secondary index."""
    from tests.e2e import drs_support as d

    (source_name, source), (target_name, target) = source_db, target_db
    await _seed(source)
    await _execute(
        source,
        "CREATE INDEX items_by_name ON items (name)",
        "CREATE TABLE later (id bigint PRIMARY KEY, v text)",
        "INSERT INTO later SELECT g, 'v' || g FROM generate_series(1, 500) g",
    )
    client = d.drs(system)
    job = d.ready(
        client,
        source_db=source_name,
        target=d.postgres(target_name),
        tables=("items", "later"),
        task_type="FULL_TRANS",
        policy={"index_trans": True},
    )
    lock = await asyncpg.connect(source)
    try:
        async with lock.transaction():
            await lock.execute("LOCK TABLE later IN ACCESS EXCLUSIVE MODE")
            assert d.start(client, job).status == "success"
            shown = d.wait_for(
                lambda: (p := d.progress(client, job)).progress_map and _map(p)["public.items"][0] == "100%" and p,
                what="the first table to be copied",
            )
            assert shown.transfer_status == "FULL_TRANSFER_STARTED"
            left = _map(shown)["public.later"]
            assert left[0] == "0%"
            assert int(left[1] or 0) > 0  # 500 rows at the rate the first table was read
            assert _map(shown)["data"] == (f"{ROWS * 100 // (ROWS + 500)}%", left[1])
            assert shown.remaining_time == left[1]
    finally:
        await lock.close()
    d.wait_status(client, job, "FULL_TRANSFER_COMPLETE")
    done = d.progress(client, job)
    assert (done.progress, done.remaining_time) == ("100", "0")
    assert _map(done) == {"data": ("100%", "0"), "public.items": ("100%", "0"), "public.later": ("100%", "0")}
    assert await _fetch(target, "SELECT count(*) FROM public.later") == 500
    copied = [i for i in await _indexes(target) if "USING btree (name)" in i]
    assert len(copied) == 1, await _indexes(target)
    assert copied[0].startswith("CREATE INDEX items_items_by_name_")


def client_pause(client: Any, job: str) -> Any:
    from huaweicloudsdkdrs.v3.model import BatchPauseJobReq, BatchStopJobsRequest, PauseInfo  # type: ignore[import-untyped]

    body = BatchPauseJobReq(jobs=[PauseInfo(job_id=job, pause_mode="all")])
    return client.batch_stop_jobs(BatchStopJobsRequest(body=body)).results[0]


def client_resume(client: Any, job: str) -> Any:
    from huaweicloudsdkdrs.v3.model import BatchRestoreTaskRequest, BatchRetryReq, RetryInfo

    body = BatchRetryReq(jobs=[RetryInfo(job_id=job, is_sync_re_edit=False)])
    return client.batch_restore_task(BatchRestoreTaskRequest(body=body)).results[0]
