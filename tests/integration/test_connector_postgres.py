"""PostgreSQL source and destination through the executor's pipeline, against the real server."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from pydantic import SecretStr
from tests.support.infra import create_database, drop_database, unique

from syncline_connectors.postgres import slot_name
from syncline_connectors.postgres_dest import PostgresDestination
from syncline_connectors.spec import ConflictPolicy, Discover, Endpoint, Filter, Mode, ObjectSpec, SyncSpec
from syncline_executor.pipeline import Pipeline, PipelineSettings, Tally, release_stream
from syncline_platform.db import create_pool
from syncline_platform.errors import ConflictError, InvalidError
from syncline_platform.migrations import apply_migrations

pytestmark = pytest.mark.integration

EXECUTOR_MIGRATIONS = Path(__file__).resolve().parents[2] / "services/executor/src/syncline_executor/migrations"
SYNC_COMMIT = {"synchronous_commit": "on"}  # the local cluster commits asynchronously; change capture reads flushed WAL


@pytest.fixture(scope="module")
async def state() -> AsyncIterator[asyncpg.Pool]:
    """A database with the executor's schema, and a pool on it."""
    name = unique("executor_state")
    dsn = await create_database(name)
    await apply_migrations(dsn=SecretStr(dsn), schema="executor", directory=EXECUTOR_MIGRATIONS)
    pool = await create_pool(dsn=SecretStr(dsn), schema="executor", application="test", max_size=4)
    try:
        yield pool
    finally:
        await pool.close()
        await drop_database(name)


@pytest.fixture
async def pair() -> AsyncIterator[tuple[str, str]]:
    """A source and a destination database: their DSNs."""
    names = (unique("src"), unique("dst"))
    dsns = [await create_database(n) for n in names]
    try:
        yield dsns[0], dsns[1]
    finally:
        for n in names:
            await drop_database(n)


def spec_for(source: str, target: str, tables: list[str] | None = None, **extra: Any) -> SyncSpec:
    objects = extra.pop("objects", None) or tuple(ObjectSpec(name=t, schema_name="public") for t in tables or [])
    return SyncSpec(
        sync_id=extra.pop("sync_id", unique("sync")),
        source=Endpoint(type="postgresql", config={"dsn": source, "database": "src", "schema": "public"}),
        destination=Endpoint(type="postgresql", config={"dsn": target, "schema": extra.pop("schema", "public")}),
        objects=objects,
        **extra,
    )


async def run(
    pool: asyncpg.Pool,
    spec: SyncSpec,
    *,
    batch_rows: int = 1000,
    run_id: str | None = None,
    files_root: Path | None = None,
) -> Tally:
    tally = Tally()
    settings = PipelineSettings(batch_rows=batch_rows, files_root=files_root)
    await Pipeline(pool=pool, sealer=None, settings=settings, run_id=run_id or unique("run"), tally=tally).run(spec)
    return tally


async def sql(dsn: str, statement: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(dsn, server_settings=SYNC_COMMIT)
    try:
        if args or statement.lstrip().upper().startswith("SELECT"):
            return [tuple(r) for r in await conn.fetch(statement, *args)]
        await conn.execute(statement)
        return []
    finally:
        await conn.close()


async def rows_as_text(dsn: str, table: str, order: str = "1") -> list[str]:
    return [r[0] for r in await sql(dsn, f"SELECT t::text FROM {table} t ORDER BY {order}")]


TYPES_DDL = """
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
CREATE TABLE typed (
    id bigint PRIMARY KEY, small smallint, normal integer, exact numeric(30, 10), free numeric, single real,
    double double precision, flag boolean, label text, short varchar(5), fixed char(3), ident uuid, day date,
    clock time, naive timestamp, aware timestamptz, span interval, doc json, bin jsonb, words text[],
    numbers integer[], raw bytea, address inet, feeling mood, count positive
);
INSERT INTO typed VALUES
 (1, 1, 2, 12345678901234567890.0123456789, 3.14159265358979323846264338327950288, 1.5, 2.718281828459045,
  true, 'tab	and "quote" and \\ backslash', 'abc', 'xy', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-02-29',
  '23:59:59.999999', '2024-01-01 12:00:00.123456', '2024-01-01 12:00:00.654321+02', '1 day 02:03:04',
  '{"a": [1, 2, {"b": null}]}', '{"nested": {"x": 1.50, "y": "é"}}', ARRAY['one', 'two words', NULL],
  ARRAY[1, NULL, 3], '\\x00ff10', '192.168.0.1/24', 'happy', 7),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL),
 (3, -32768, -2147483648, -0.0000000001, 'NaN', '-Infinity', 1e-300, false, '', '', '', NULL, '0001-01-01',
  '00:00', '1970-01-01', '1970-01-01 00:00:00+00', '-1 mons', 'null', '[]', '{}', '{}', '', '::1', 'sad', 1);
"""


async def test_types_round_trip_through_a_binary_snapshot(state: asyncpg.Pool, pair: tuple[str, str]) -> None:
    source, target = pair
    await sql(source, TYPES_DDL)
    tally = await run(state, spec_for(source, target, ["typed"]))
    assert tally.counters().indexed_document_count == 3
    columns = [
        r[0]
        for r in await sql(
            source,
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'typed' ORDER BY ordinal_position",
        )
    ]
    projection = ", ".join(f"{c}::text" for c in columns)
    expected = [tuple(r) for r in await sql(source, f"SELECT {projection} FROM typed ORDER BY id")]
    assert [tuple(r) for r in await sql(target, f"SELECT {projection} FROM typed ORDER BY id")] == expected
    key = await sql(
        target,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
        " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'typed'::regclass AND i.indisprimary",
    )
    assert [r[0] for r in key] == ["id"]


async def test_a_snapshot_swaps_in_atomically(state: asyncpg.Pool, pair: tuple[str, str]) -> None:
    source, target = pair
    await sql(
        source,
        "CREATE TABLE items (id int PRIMARY KEY, v text);"
        "INSERT INTO items SELECT g, repeat('x', 50) FROM generate_series(1, 60000) g",
    )
    await sql(
        target,
        "CREATE TABLE items (id int PRIMARY KEY, v text);"
        "INSERT INTO items SELECT g, 'old' FROM generate_series(1, 1000) g",
    )
    seen: set[int] = set()
    stop = asyncio.Event()

    async def reader() -> None:
        conn = await asyncpg.connect(target)
        try:
            while not stop.is_set():
                seen.add(await conn.fetchval("SELECT count(*) FROM items"))
        finally:
            await conn.close()

    watcher = asyncio.create_task(reader())
    await asyncio.sleep(0.05)
    await run(state, spec_for(source, target, ["items"]), batch_rows=5000)
    await asyncio.sleep(0.05)
    stop.set()
    await watcher
    assert seen == {1000, 60000}
    assert await sql(target, "SELECT count(*) FROM pg_class WHERE relname LIKE '\\_syncline\\_%'") == [(0,)]


async def test_incremental_reads_cursor_ties_once(state: asyncpg.Pool, pair: tuple[str, str]) -> None:
    source, target = pair
    await sql(
        source,
        "CREATE TABLE ev (id int PRIMARY KEY, at timestamptz NOT NULL, v text);"
        "INSERT INTO ev SELECT g, '2024-01-01'::timestamptz + (g / 4) * interval '1 minute', 'v'"
        " FROM generate_series(1, 23) g",
    )  # groups of four rows share a timestamp
    objects = (ObjectSpec(name="ev", schema_name="public", tracking_field="at"),)
    spec = spec_for(source, target, objects=objects, mode=Mode.INCREMENTAL, sync_id=unique("inc"))
    first = await run(state, spec, batch_rows=3)  # batches cut through every group of ties
    assert first.counters().indexed_document_count == 23
    assert first.counters().rows_read == 23
    # rows sharing the last timestamp (with higher keys), and later ones, arrive; earlier rows are not read again
    await sql(
        source,
        "INSERT INTO ev VALUES (24, '2024-01-01 00:05:00+00', 'tie'), (25, '2024-01-02', 'later');"
        "UPDATE ev SET at = '2024-01-03', v = 'moved' WHERE id = 2",
    )
    second = await run(state, spec, batch_rows=3)
    assert second.counters().rows_read == 3
    assert await rows_as_text(target, "ev") == await rows_as_text(source, "ev")
    third = await run(state, spec, batch_rows=3)
    assert third.counters().rows_read == 0


async def test_change_capture_applies_inserts_updates_and_deletes(state: asyncpg.Pool, pair: tuple[str, str]) -> None:
    source, target = pair
    await sql(
        source,
        "CREATE TABLE acc (id int PRIMARY KEY, name text, big text, amount numeric(12, 2), tags text[]);"
        "INSERT INTO acc SELECT g, 'n' || g, NULL, g * 1.25, ARRAY['a'] FROM generate_series(1, 50) g;"
        "UPDATE acc SET big = (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i)"
        " WHERE id IN (1, 2)",
    )  # 12 kB of incompressible text: stored out of line (TOAST)
    spec = spec_for(source, target, ["acc"], mode=Mode.REPLICATE, sync_id=unique("cdc"))
    first = await run(state, spec)
    assert first.counters().indexed_document_count == 50
    slot = slot_name(spec.sync_id)
    assert await sql(source, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", slot) == [(1,)]
    await sql(
        source,
        """
        INSERT INTO acc VALUES (100, 'new', NULL, 1.00, '{x,y}');
        UPDATE acc SET name = 'renamed', amount = 99999999.99 WHERE id = 3;
        UPDATE acc SET name = 'toast kept' WHERE id = 1;
        DELETE FROM acc WHERE id IN (4, 5);
        UPDATE acc SET id = 200 WHERE id = 6;
        INSERT INTO acc VALUES (300, 'short-lived', NULL, 0, NULL);
        DELETE FROM acc WHERE id = 300;
        INSERT INTO acc VALUES (301, 'then updated', repeat('z', 3), 0, NULL);
        UPDATE acc SET amount = 5 WHERE id = 301;
    """,
    )
    second = await run(state, spec)
    assert await rows_as_text(target, "acc") == await rows_as_text(source, "acc")
    assert second.counters().deleted_document_count >= 3
    third = await run(state, spec)  # nothing new: nothing applied
    assert third.counters().indexed_document_count == 0
    assert await rows_as_text(target, "acc") == await rows_as_text(source, "acc")
    assert await release_stream(pool=state, sealer=None, sync_id=spec.sync_id)
    assert await sql(source, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", slot) == [(0,)]


async def test_change_capture_keeps_the_rows_the_filters_select(state: asyncpg.Pool, pair: tuple[str, str]) -> None:
    """A replicating object with filters: changes keep the destination equal to a filtered snapshot (a row that
    stops passing leaves it, one that starts passing arrives, one outside never lands)."""
    source, target = pair
    await sql(
        source,
        "CREATE TABLE f (id int PRIMARY KEY, amount int, active boolean);"
        "INSERT INTO f SELECT g, g * 10, g % 2 = 0 FROM generate_series(1, 10) g",
    )
    filters = (Filter(field="active", op="=", value=True), Filter(field="amount", op=">", value=25))
    objects = (ObjectSpec(name="f", schema_name="public", filters=filters),)
    spec = spec_for(source, target, mode=Mode.REPLICATE, objects=objects, sync_id=unique("cdc-filter"))
    await run(state, spec)
    selected = "SELECT t::text FROM f t WHERE active AND amount > 25 ORDER BY id"
    assert [r[0] for r in await sql(target, "SELECT t::text FROM f t ORDER BY id")] == [
        r[0] for r in await sql(source, selected)
    ]
    await sql(
        source,
        """
        INSERT INTO f VALUES (11, 500, true), (12, 500, false), (13, 5, true);
        UPDATE f SET active = false WHERE id = 4;
        UPDATE f SET active = true WHERE id = 5;
        UPDATE f SET amount = 1 WHERE id = 6;
        UPDATE f SET amount = 999 WHERE id = 8;
        DELETE FROM f WHERE id = 10;
    """,
    )
    await run(state, spec)
    assert [r[0] for r in await sql(target, "SELECT t::text FROM f t ORDER BY id")] == [
        r[0] for r in await sql(source, selected)
    ]
    assert await release_stream(pool=state, sealer=None, sync_id=spec.sync_id)


async def test_a_failed_object_of_a_stream_does_not_stop_the_others_changes(
    state: asyncpg.Pool, pair: tuple[str, str]
) -> None:
    """With failures isolated, an object whose snapshot failed stays out of the stream until it lands; the other
    objects' changes keep flowing."""
    source, target = pair
    await sql(
        source,
        "CREATE TABLE ok (id int PRIMARY KEY, v text); INSERT INTO ok VALUES (1, 'a');"
        "CREATE TABLE blocked (id int PRIMARY KEY, v text); INSERT INTO blocked VALUES (1, 'b')",
    )
    await sql(target, "CREATE VIEW blocked AS SELECT 1 AS id")  # the destination name is taken: that object fails
    spec = spec_for(
        source, target, ["ok", "blocked"], mode=Mode.REPLICATE, isolate_failures=True, sync_id=unique("cdc-iso")
    )
    first = await run(state, spec)
    assert set(first.failures) == {"public.blocked"}
    await sql(source, "INSERT INTO ok VALUES (2, 'b'); INSERT INTO blocked VALUES (2, 'c')")
    second = await run(state, spec)
    assert set(second.failures) == {"public.blocked"}
    assert await sql(target, "SELECT id, v FROM ok ORDER BY id") == [(1, "a"), (2, "b")]
    assert await release_stream(pool=state, sealer=None, sync_id=spec.sync_id)


async def test_conflict_policies_on_existing_keys(state: asyncpg.Pool, pair: tuple[str, str]) -> None:
    source, target = pair
    await sql(source, "CREATE TABLE c (id int PRIMARY KEY, v text); INSERT INTO c VALUES (1, 'source'), (2, 'new')")
    await sql(target, "CREATE TABLE c (id int PRIMARY KEY, v text); INSERT INTO c VALUES (1, 'target')")
    ignore = spec_for(source, target, ["c"], mode=Mode.INCREMENTAL, conflict_policy=ConflictPolicy.IGNORE)
    await run(state, ignore)
    assert await rows_as_text(target, "c") == ["(1,target)", "(2,new)"]
    stop = spec_for(source, target, ["c"], mode=Mode.INCREMENTAL, conflict_policy=ConflictPolicy.STOP)
    with pytest.raises(ConflictError):
        await run(state, stop)
    overwrite = spec_for(source, target, ["c"], mode=Mode.INCREMENTAL, conflict_policy=ConflictPolicy.OVERWRITE)
    await run(state, overwrite)
    assert await rows_as_text(target, "c") == ["(1,source)", "(2,new)"]


async def test_names_are_normalised_and_new_fields_follow_the_discovery_setting(
    state: asyncpg.Pool, pair: tuple[str, str]
) -> None:
    source, target = pair
    await sql(
        source,
        'CREATE TABLE "Order Items" ("Item ID" int PRIMARY KEY, "Unit-Price" numeric);'
        'INSERT INTO "Order Items" VALUES (1, 9.5)',
    )
    objects = (ObjectSpec(name="Order Items", schema_name="public"),)
    keep = spec_for(
        source,
        target,
        objects=objects,
        mode=Mode.REPLICATE,
        new_fields=Discover.NONE,
        schema="out",
        sync_id=unique("names"),
    )
    keep = keep.model_copy(update={"mode": Mode.INCREMENTAL})
    await run(state, keep)
    assert await sql(target, "SELECT item_id, unit_price FROM out.order_items") == [(1, 9.5)]
    await sql(source, 'ALTER TABLE "Order Items" ADD COLUMN "Note" text; UPDATE "Order Items" SET "Note" = \'n\'')
    await run(state, keep)
    columns = "SELECT column_name FROM information_schema.columns WHERE table_name = 'order_items' ORDER BY 1"
    assert [r[0] for r in await sql(target, columns)] == ["item_id", "unit_price"]
    take = keep.model_copy(update={"new_fields": Discover.ALL})
    await sql(source, 'UPDATE "Order Items" SET "Note" = \'n\'')  # incremental runs read rows written since
    await run(state, take)
    assert [r[0] for r in await sql(target, columns)] == ["item_id", "note", "unit_price"]
    assert await sql(target, "SELECT note FROM out.order_items") == [("n",)]


async def test_new_objects_join_only_when_the_sync_takes_them(state: asyncpg.Pool, pair: tuple[str, str]) -> None:
    source, target = pair
    await sql(
        source,
        "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY);"
        "INSERT INTO a VALUES (1); INSERT INTO b VALUES (1)",
    )
    await run(state, spec_for(source, target, ["a"]))
    tables = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
    assert [r[0] for r in await sql(target, tables)] == ["a"]
    await run(state, spec_for(source, target, ["a"], new_objects=Discover.ALL))
    assert [r[0] for r in await sql(target, tables)] == ["a", "b"]


async def test_a_resumed_snapshot_neither_duplicates_nor_loses_rows(
    state: asyncpg.Pool, pair: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = pair
    await sql(
        source,
        "CREATE TABLE r (id int PRIMARY KEY, v text);INSERT INTO r SELECT g, 'v' || g FROM generate_series(1, 5000) g",
    )
    spec = spec_for(source, target, ["r"])
    run_id = unique("crashy")

    class CrashError(Exception):
        pass

    async def kept(*_: Any, **__: Any) -> None:
        return None  # a killed process never cleans up: its staging table stays

    monkeypatch.setattr(PostgresDestination, "abort_object", kept)
    pipeline = Pipeline(
        pool=state, sealer=None, settings=PipelineSettings(batch_rows=1000), run_id=run_id, tally=Tally()
    )
    original = pipeline._checkpoint
    calls = 0

    async def dies_before_the_third(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise CrashError  # the third batch is in staging, its checkpoint is not stored
        await original(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_checkpoint", dies_before_the_third)
    with pytest.raises(CrashError):
        await pipeline.run(spec)
    staged = await sql(
        target, "SELECT relname FROM pg_class WHERE relname LIKE '\\_syncline\\_stage%' AND relkind = 'r'"
    )
    assert len(staged) == 1
    assert await sql(target, f'SELECT count(*) FROM "{staged[0][0]}"') == [(3000,)]
    monkeypatch.undo()
    tally = await run(state, spec, batch_rows=1000, run_id=run_id)
    assert await rows_as_text(target, "r") == await rows_as_text(source, "r")
    assert tally.counters().indexed_document_count == 5000
    assert tally.counters().rows_read == 5000


async def test_incremental_without_a_tracking_field_reads_what_was_written_since(
    state: asyncpg.Pool, pair: tuple[str, str]
) -> None:
    source, target = pair
    await sql(
        source, "CREATE TABLE w (id int PRIMARY KEY, v text); INSERT INTO w SELECT g, 'v' FROM generate_series(1, 30) g"
    )
    spec = spec_for(source, target, ["w"], mode=Mode.INCREMENTAL, sync_id=unique("xmin"))
    first = await run(state, spec, batch_rows=7)
    assert first.counters().indexed_document_count == 30
    await sql(source, "UPDATE w SET v = 'changed' WHERE id IN (3, 4); INSERT INTO w VALUES (31, 'new')")
    second = await run(state, spec, batch_rows=7)
    assert second.counters().indexed_document_count == 3
    assert await rows_as_text(target, "w") == await rows_as_text(source, "w")
    third = await run(state, spec, batch_rows=7)
    assert third.counters().indexed_document_count == 0


EDGE_DDL = """
CREATE TABLE keyed (id int PRIMARY KEY, name text, big text);
INSERT INTO keyed SELECT g, 'k' || g, NULL FROM generate_series(1, 20) g;
UPDATE keyed SET big = (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i) WHERE id <= 3;
CREATE TABLE whole (id int PRIMARY KEY, v text, big text);
ALTER TABLE whole REPLICA IDENTITY FULL;
INSERT INTO whole SELECT g, 'w' || g, NULL FROM generate_series(1, 20) g;
UPDATE whole SET big = (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i) WHERE id <= 3;
"""
EDGE_CHANGES = """
UPDATE keyed SET id = 100 WHERE id = 4;                -- a key change, identity DEFAULT
UPDATE whole SET id = 100 WHERE id = 4;                -- a key change, identity FULL
UPDATE keyed SET name = 'toast kept' WHERE id = 1;     -- big (TOAST) unchanged: not in the change
UPDATE whole SET v = 'toast kept' WHERE id = 1;
DELETE FROM keyed WHERE id IN (5, 6);
DELETE FROM whole WHERE id IN (5, 6);
INSERT INTO whole VALUES (50, 'before the truncate', NULL);
TRUNCATE whole;                                        -- what came before it is gone
INSERT INTO whole VALUES (1, 'after the truncate', NULL), (2, 'then updated', NULL);
UPDATE whole SET v = 'updated after the truncate' WHERE id = 2;
ALTER TABLE keyed ADD COLUMN extra int;                -- a column added while the stream runs
INSERT INTO keyed VALUES (200, 'with extra', NULL, 7);
UPDATE keyed SET name = 'renamed', extra = 8 WHERE id = 2;
"""


async def test_change_capture_handles_key_changes_identities_toast_truncate_and_new_columns(
    state: asyncpg.Pool, pair: tuple[str, str]
) -> None:
    """pgoutput's edge cases land as the source has them: the destination equals the source (in the selected
    columns) after each run; the slot is pgoutput over Syncline's own publication of exactly the sync's tables."""
    source, target = pair
    await sql(source, EDGE_DDL)
    spec = spec_for(source, target, ["keyed", "whole"], mode=Mode.REPLICATE, sync_id=unique("cdc-edge"))
    await run(state, spec, batch_rows=4)
    slot = slot_name(spec.sync_id)
    assert await sql(source, "SELECT plugin FROM pg_replication_slots WHERE slot_name = $1", slot) == [("pgoutput",)]
    published = "SELECT tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1"
    assert await sql(source, published, slot) == [("keyed",), ("whole",)]
    await sql(source, EDGE_CHANGES)
    second = await run(state, spec, batch_rows=4)  # small batches: marks fall between transactions
    columns = "id, name, md5(big)"
    assert await sql(target, f"SELECT {columns} FROM keyed ORDER BY id") == await sql(
        source, f"SELECT {columns} FROM keyed ORDER BY id"
    )
    assert await sql(target, "SELECT id, v, md5(big) FROM whole ORDER BY id") == [
        (1, "after the truncate", None),
        (2, "updated after the truncate", None),
    ]
    assert second.counters().deleted_document_count >= 20  # the truncate emptied the table
    await sql(source, "UPDATE keyed SET name = 'third' WHERE id = 3; INSERT INTO whole VALUES (3, 'x', NULL)")
    third = await run(state, spec)
    assert third.counters().indexed_document_count == 2
    assert await sql(target, "SELECT name FROM keyed WHERE id = 3") == [("third",)]
    assert await sql(target, "SELECT count(*) FROM whole") == [(3,)]
    await release_stream(pool=state, sealer=None, sync_id=spec.sync_id)
    assert await sql(source, "SELECT count(*) FROM pg_publication WHERE pubname = $1", slot) == [(0,)]


async def test_the_publication_follows_the_selection(state: asyncpg.Pool, pair: tuple[str, str]) -> None:
    source, target = pair
    await sql(
        source,
        "CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE b (id int PRIMARY KEY, v text);"
        "INSERT INTO a VALUES (1, 'a'); INSERT INTO b VALUES (1, 'b')",
    )
    sync_id = unique("cdc-pub")
    await run(state, spec_for(source, target, ["a"], mode=Mode.REPLICATE, sync_id=sync_id))
    published = "SELECT tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1"
    assert await sql(source, published, slot_name(sync_id)) == [("a",)]
    await sql(source, "INSERT INTO a VALUES (2, 'a2'); INSERT INTO b VALUES (2, 'b2')")
    await run(state, spec_for(source, target, ["a", "b"], mode=Mode.REPLICATE, sync_id=sync_id))
    assert await sql(source, published, slot_name(sync_id)) == [("a",), ("b",)]
    assert await sql(target, "SELECT id FROM a ORDER BY 1") == [(1,), (2,)]
    assert await sql(target, "SELECT id FROM b ORDER BY 1") == [(1,), (2,)]
    await sql(source, "INSERT INTO b VALUES (3, 'b3')")  # b joined: its changes flow
    await run(state, spec_for(source, target, ["a", "b"], mode=Mode.REPLICATE, sync_id=sync_id))
    assert await sql(target, "SELECT id FROM b ORDER BY 1") == [(1,), (2,), (3,)]
    await run(state, spec_for(source, target, ["b"], mode=Mode.REPLICATE, sync_id=sync_id))
    assert await sql(source, published, slot_name(sync_id)) == [("b",)]
    await release_stream(pool=state, sealer=None, sync_id=sync_id)


async def test_missing_rights_are_named_and_nothing_is_left_half_made(
    state: asyncpg.Pool, pair: tuple[str, str]
) -> None:
    """A role without REPLICATION, or that does not own the tables, gets an error naming the right; no slot and
    no publication are left. A publication the connection names needs no ownership."""
    source, target = pair
    plain, replicator = unique("plain"), unique("replicator")
    await sql(
        source,
        f'CREATE ROLE "{plain}" LOGIN PASSWORD \'{plain}\'; CREATE ROLE "{replicator}" LOGIN REPLICATION PASSWORD'
        f" '{replicator}';"
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a');"
        f'GRANT SELECT ON t TO "{plain}", "{replicator}";'
        f'GRANT CREATE ON DATABASE "{source.rsplit("/", 1)[-1]}" TO "{plain}", "{replicator}"',
    )
    try:

        def as_role(role: str, **config: Any) -> SyncSpec:
            spec = spec_for(source, target, ["t"], mode=Mode.REPLICATE, sync_id=unique("cdc-rights"))
            server = urlsplit(source)  # the role's password is its name
            dsn = urlunsplit(server._replace(netloc=f"{role}:{role}@{server.hostname}:{server.port}"))
            return spec.model_copy(
                update={"source": Endpoint(type="postgresql", config={"dsn": dsn, "schema": "public"} | config)}
            )

        leftovers = "SELECT (SELECT count(*) FROM pg_replication_slots) + (SELECT count(*) FROM pg_publication)"
        before = await sql(source, leftovers)
        with pytest.raises(InvalidError, match="REPLICATION"):
            await run(state, as_role(plain))
        with pytest.raises(InvalidError, match=r"ownership of public\.t"):
            await run(state, as_role(replicator))
        assert await sql(source, leftovers) == before
        await sql(source, "CREATE PUBLICATION theirs FOR TABLE t")
        named = as_role(replicator, publication="theirs")
        await run(state, named)
        await sql(source, "INSERT INTO t VALUES (2, 'b')")
        await run(state, named)
        assert await sql(target, "SELECT id, v FROM t ORDER BY id") == [(1, "a"), (2, "b")]
        await sql(source, "CREATE TABLE u (id int PRIMARY KEY)")
        with pytest.raises(InvalidError, match=r"publication \[theirs\] does not publish public.u"):
            await run(state, named.model_copy(update={"objects": (*named.objects, ObjectSpec(name="u"))}))
        await release_stream(pool=state, sealer=None, sync_id=named.sync_id)
        assert await sql(source, "SELECT pubname FROM pg_publication") == [("theirs",)]  # theirs is kept
    finally:
        await sql(source, "DROP TABLE IF EXISTS t, u; DROP PUBLICATION IF EXISTS theirs")
        await sql(source, f'DROP OWNED BY "{plain}", "{replicator}"; DROP ROLE "{plain}", "{replicator}"')


async def test_a_changes_only_stream_starts_from_now_and_reports_its_lag(
    state: asyncpg.Pool, pair: tuple[str, str]
) -> None:
    """Without an initial load the first run only opens the stream (no row is copied); the next run applies what
    was committed since, and reports how far behind the source it is."""
    source, target = pair
    await sql(
        source,
        "CREATE TABLE n (id int PRIMARY KEY, v text); INSERT INTO n SELECT g, 'old' FROM generate_series(1, 5) g",
    )
    spec = spec_for(source, target, ["n"], mode=Mode.REPLICATE, initial_load=False, sync_id=unique("cdc-now"))
    first = await run(state, spec)
    assert first.counters().rows_read == 0
    assert await sql(target, "SELECT count(*) FROM n") == [(0,)]
    await sql(source, "INSERT INTO n VALUES (6, 'new'); UPDATE n SET v = 'changed' WHERE id = 1")
    before = await sql(source, "SELECT now()")
    second = await run(state, spec)
    assert await sql(target, "SELECT id, v FROM n ORDER BY id") == [(1, "changed"), (6, "new")]
    lag = second.counters().replication_lag
    assert lag is not None
    assert lag.bytes == 0  # everything up to the source's end of the log when the run read it
    assert lag.applied_lsn == lag.source_lsn
    assert lag.last_commit_at is not None
    assert lag.last_commit_at <= before[0][0]
    assert 0 <= lag.seconds < 30
    await release_stream(pool=state, sealer=None, sync_id=spec.sync_id)


CHILD = """
import asyncio, sys
from pydantic import SecretStr
from syncline_connectors.spec import SyncSpec
from syncline_executor.pipeline import Pipeline, PipelineSettings, Tally
from syncline_platform.db import create_pool

async def main() -> None:
    pool = await create_pool(dsn=SecretStr(sys.argv[1]), schema="executor", application="child", max_size=4)
    spec = SyncSpec.model_validate_json(sys.argv[2])
    settings = PipelineSettings(batch_rows=int(sys.argv[4]))
    await Pipeline(pool=pool, sealer=None, settings=settings, run_id=sys.argv[3], tally=Tally()).run(spec)

asyncio.run(main())
"""


async def test_a_stream_killed_mid_way_resumes_without_losing_or_repeating_a_change(pair: tuple[str, str]) -> None:
    """kill -9 while a run applies 50,000 changes in batches: the next run starts after the last durable batch
    (the slot position is stored with the data), and the destination ends equal to the source."""
    source, target = pair
    name = unique("executor_kill")
    state_dsn = await create_database(name)
    await apply_migrations(dsn=SecretStr(state_dsn), schema="executor", directory=EXECUTOR_MIGRATIONS)
    pool = await create_pool(dsn=SecretStr(state_dsn), schema="executor", application="test", max_size=4)
    try:
        await sql(
            source,
            "CREATE TABLE k (id int PRIMARY KEY, v text); INSERT INTO k SELECT g, 's' FROM generate_series(1, 5000) g",
        )
        spec = spec_for(source, target, ["k"], mode=Mode.REPLICATE, sync_id=unique("cdc-kill"))
        await run(pool, spec)
        changes = "; ".join(  # 500 transactions of 100 changes: 60 inserts, 30 updates, 10 deletes
            f"BEGIN; INSERT INTO k SELECT g, 'i' FROM generate_series({10_000 + t * 60}, {10_000 + t * 60 + 59}) g;"
            f"UPDATE k SET v = 'u{t}' WHERE id BETWEEN {t * 10 + 1} AND {t * 10 + 30};"
            f"DELETE FROM k WHERE id BETWEEN {t * 10 + 1} AND {t * 10 + 10}; COMMIT"
            for t in range(500)
        )
        await sql(source, changes)
        run_id = unique("run")
        child = subprocess.Popen([sys.executable, "-c", CHILD, state_dsn, spec.model_dump_json(), run_id, "1000"])
        written = (
            "SELECT rows_read, rows_written, done FROM executor.checkpoints WHERE run_id = $1 AND object = '__stream__'"
        )
        deadline = time.monotonic() + 60
        while True:
            row = await pool.fetchrow(written, run_id)
            if row is not None and row["rows_written"] >= 5_000:
                break
            assert time.monotonic() < deadline, "the stream never got going"
            await asyncio.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        killed = await pool.fetchrow(written, run_id)
        assert killed is not None
        assert not killed["done"], "the run finished before it could be killed"
        resumed = await run(pool, spec, batch_rows=1000)
        # it went on after the last durable batch: not one change of the killed run's batches was read again
        assert resumed.counters().rows_read <= 500 * 100 - killed["rows_read"]
        assert await rows_as_text(target, "k") == await rows_as_text(source, "k")
        await release_stream(pool=pool, sealer=None, sync_id=spec.sync_id)
    finally:
        await pool.close()
        await drop_database(name)


async def test_a_destination_lost_mid_copy_fails_the_run_instead_of_hanging(
    state: asyncpg.Pool, pair: tuple[str, str]
) -> None:
    """A destination server that stops reading a COPY (here: its table locked), then drops the connection (a
    restart, a shutdown): asyncpg's COPY waits for the socket to drain, which a lost connection never does. The run
    must end with a connection error (its retry policy then applies), not wait for ever."""
    source, target = pair
    await sql(
        source,
        "CREATE TABLE wide (id int PRIMARY KEY, v text);"
        "INSERT INTO wide SELECT g, repeat(md5(g::text), 32) FROM generate_series(1, 60000) g",
    )  # about 1 kB a row: a batch is far more than the sockets buffer
    locker = await asyncpg.connect(target)
    moving = asyncio.create_task(run(state, spec_for(source, target, ["wide"]), batch_rows=20000))
    try:
        staging = await until(
            lambda: sql(target, "SELECT relname FROM pg_class WHERE relname LIKE '\\_syncline\\_stage%'"), moving
        )
        lock = locker.transaction()
        await lock.start()
        await locker.execute(f'LOCK TABLE "{staging[0][0]}" IN ACCESS EXCLUSIVE MODE')  # between two batches
        waiting = await until(
            lambda: sql(
                target,
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'COPY%'",
            ),
            moving,
        )
        await asyncio.sleep(1)  # the client fills the sockets and its writes pause
        await sql(target, f"SELECT pg_terminate_backend({waiting[0][0]})")
        done, _ = await asyncio.wait({moving}, timeout=60)  # a safety net only: it ends within a second or so
        assert moving in done, "the run still waits on a COPY whose connection is gone"
        with pytest.raises(asyncpg.ConnectionDoesNotExistError):
            moving.result()
    finally:
        moving.cancel()
        await locker.close()


async def until(probe: Callable[[], Awaitable[list[Any]]], run: "asyncio.Task[Any]") -> list[Any]:
    """What `probe` finds once it finds something (while `run` goes on)."""
    for _ in range(1000):
        found = await probe()
        if found:
            return found
        assert not run.done(), f"the run ended first: {run.exception() if not run.cancelled() else 'cancelled'}"
        await asyncio.sleep(0.01)
    raise AssertionError("never found")
