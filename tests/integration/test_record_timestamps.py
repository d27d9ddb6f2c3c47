"""Polytomic's record timestamps in the PostgreSQL destination: `_polytomic_created_at` (when a row first landed)
and `_polytomic_updated_at` (when a run last wrote it), through snapshots, merges, incremental upserts and change
streams; with the flag off, destination tables get no such columns."""

from datetime import datetime
from typing import Any

import asyncpg
import pytest
from tests.integration.test_connector_postgres import pair, run, spec_for, sql, state
from tests.support.infra import unique

from syncline_connectors.postgres import PostgresConfig
from syncline_connectors.postgres_dest import PostgresDestination
from syncline_connectors.spec import Discover, Mode, NormalizeNames, ObjectSpec, RecordTimestamps
from syncline_executor.pipeline import release_stream
from syncline_platform.errors import InvalidError

pytestmark = pytest.mark.integration
__all__ = ["pair", "state"]  # fixtures shared with the connector tests

NAMES = RecordTimestamps(created="_syncline_first_landed", updated="_syncline_last_written")
"""The columns' names are the dialect's (Polytomic's `_polytomic_created_at`…); the destination writes any."""
STAMPS = NAMES.columns

Stamps = dict[int, tuple[datetime | None, datetime | None]]


async def stamps(dsn: str, table: str) -> Stamps:
    """Each row's (created_at, updated_at) by id."""
    rows = await sql(dsn, f"SELECT id, {NAMES.created}, {NAMES.updated} FROM {table} ORDER BY id")
    return {r[0]: (r[1], r[2]) for r in rows}


async def columns(dsn: str, table: str) -> list[str]:
    rows = await sql(
        dsn,
        "SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position",
        table,
    )
    return [r[0] for r in rows]


async def clock(dsn: str) -> datetime:
    """The server's time, to tell one run's stamps from the next."""
    rows = await sql(dsn, "SELECT clock_timestamp()")
    moment: datetime = rows[0][0]
    return moment


def updated_since(row: tuple[datetime | None, datetime | None], moment: datetime) -> bool:
    return row[1] is not None and row[1] > moment


def stamped_after(row: tuple[datetime | None, datetime | None], moment: datetime) -> bool:
    created, updated = row
    return created is not None and updated is not None and created > moment and updated > moment


async def test_a_snapshot_stamps_every_row_with_its_load(state: asyncpg.Pool, pair: tuple[str, str]) -> None:
    source, target = pair
    await sql(
        source,
        "CREATE TABLE s (id int PRIMARY KEY, v text); INSERT INTO s SELECT g, 'v' FROM generate_series(1, 3) g;"
        "CREATE TABLE loose (id int, v text); INSERT INTO loose VALUES (1, 'a')",
    )
    spec = spec_for(source, target, ["s", "loose"], record_timestamps=NAMES)
    before = await clock(target)
    await run(state, spec)
    assert await columns(target, "s") == ["id", "v", *STAMPS]
    first = await stamps(target, "s")
    assert all(stamped_after(row, before) for row in first.values())
    assert all(created == updated for created, updated in first.values())  # one COPY: one moment
    assert stamped_after(next(iter((await stamps(target, "loose")).values())), before)  # no key: stamped all the same

    await sql(source, "UPDATE s SET v = 'changed' WHERE id = 2; INSERT INTO s VALUES (4, 'new')")
    between = await clock(target)
    await run(state, spec)
    second = await stamps(target, "s")
    assert all(stamped_after(row, between) for row in second.values())  # a snapshot replaces the table
    assert await columns(target, "s") == ["id", "v", *STAMPS]


async def test_a_merge_keeps_created_at_and_stamps_only_the_rows_that_changed(
    state: asyncpg.Pool, pair: tuple[str, str]
) -> None:
    source, target = pair
    await sql(
        source, "CREATE TABLE m (id int PRIMARY KEY, v text); INSERT INTO m SELECT g, 'v' FROM generate_series(1, 4) g"
    )
    spec = spec_for(source, target, ["m"], mode=Mode.FULL_WITH_DELETES, record_timestamps=NAMES)
    await run(state, spec)
    first = await stamps(target, "m")
    await sql(
        source, "UPDATE m SET v = 'changed' WHERE id = 2; DELETE FROM m WHERE id = 3; INSERT INTO m VALUES (5, 'n')"
    )
    between = await clock(target)
    await run(state, spec)
    second = await stamps(target, "m")
    assert sorted(second) == [1, 2, 4, 5]
    assert second[1] == first[1]  # untouched: both kept
    assert second[4] == first[4]
    assert second[2][0] == first[2][0]
    assert updated_since(second[2], between)
    assert stamped_after(second[5], between)


async def test_incremental_upserts_keep_created_at_and_move_updated_at(
    state: asyncpg.Pool, pair: tuple[str, str]
) -> None:
    source, target = pair
    await sql(
        source, "CREATE TABLE w (id int PRIMARY KEY, v text); INSERT INTO w SELECT g, 'v' FROM generate_series(1, 3) g"
    )
    spec = spec_for(source, target, ["w"], mode=Mode.INCREMENTAL, sync_id=unique("stamps"), record_timestamps=NAMES)
    before = await clock(target)
    await run(state, spec)
    first = await stamps(target, "w")
    assert all(stamped_after(row, before) for row in first.values())
    await sql(source, "UPDATE w SET v = 'changed' WHERE id = 2; INSERT INTO w VALUES (4, 'new')")
    between = await clock(target)
    await run(state, spec)
    second = await stamps(target, "w")
    assert second[1] == first[1]
    assert second[3] == first[3]
    assert second[2][0] == first[2][0]
    assert updated_since(second[2], between)
    assert stamped_after(second[4], between)


async def test_change_streams_keep_created_at_and_move_updated_at(state: asyncpg.Pool, pair: tuple[str, str]) -> None:
    source, target = pair
    await sql(
        source,
        "CREATE TABLE acc (id int PRIMARY KEY, name text, big text);"
        "INSERT INTO acc SELECT g, 'n' || g, NULL FROM generate_series(1, 5) g;"
        "UPDATE acc SET big = (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i) WHERE id = 1",
    )  # row 1 holds a TOAST value: an update of its name leaves it out of the change
    spec = spec_for(source, target, ["acc"], mode=Mode.REPLICATE, sync_id=unique("stamps"), record_timestamps=NAMES)
    await run(state, spec)
    first = await stamps(target, "acc")
    await sql(
        source,
        "UPDATE acc SET name = 'toast kept' WHERE id = 1; UPDATE acc SET name = 'renamed' WHERE id = 2;"
        "DELETE FROM acc WHERE id = 3; INSERT INTO acc VALUES (6, 'new', NULL)",
    )
    between = await clock(target)
    try:
        await run(state, spec)
        second = await stamps(target, "acc")
        assert sorted(second) == [1, 2, 4, 5, 6]
        for key in (1, 2):  # a partial update (unchanged TOAST) and a complete one
            assert second[key][0] == first[key][0]
            assert updated_since(second[key], between)
        assert second[4] == first[4]
        assert second[5] == first[5]
        assert stamped_after(second[6], between)
        assert await sql(target, "SELECT name, length(big) FROM acc WHERE id = 1") == [("toast kept", 12800)]
    finally:
        assert await release_stream(pool=state, sealer=None, sync_id=spec.sync_id)


async def test_a_table_made_before_the_timestamps_gets_them_and_its_rows_stay_unknown(
    state: asyncpg.Pool, pair: tuple[str, str]
) -> None:
    source, target = pair
    await sql(source, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'source'), (2, 'new')")
    await sql(target, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'target'), (9, 'kept')")
    spec = spec_for(source, target, ["t"], mode=Mode.INCREMENTAL, new_fields=Discover.NONE, record_timestamps=NAMES)
    between = await clock(target)
    await run(state, spec)
    assert await columns(target, "t") == ["id", "v", *STAMPS]
    rows = await stamps(target, "t")
    assert rows[9] == (None, None)  # never written since: when it landed is unknown
    assert rows[1][0] is None
    assert updated_since(rows[1], between)
    assert stamped_after(rows[2], between)
    async with PostgresDestination(PostgresConfig.from_values({"dsn": target}), record_timestamps=NAMES) as dest:
        assert await dest.existing_columns("t") == ["id", "v"]  # the timestamps are no source fields
    async with PostgresDestination(PostgresConfig.from_values({"dsn": target})) as dest:
        assert await dest.existing_columns("t") == ["id", "v", *STAMPS]


async def test_a_source_field_named_like_a_timestamp_is_refused(state: asyncpg.Pool, pair: tuple[str, str]) -> None:
    source, target = pair
    await sql(
        source,
        f"CREATE TABLE c (id int PRIMARY KEY, {NAMES.created} timestamptz); INSERT INTO c VALUES (1, now())",
    )
    as_is = NormalizeNames.DISABLED  # normalised, the name loses its leading underscore and collides with nothing
    with pytest.raises(InvalidError, match=NAMES.created):
        await run(state, spec_for(source, target, ["c"], normalize_names=as_is, record_timestamps=NAMES))
    await run(state, spec_for(source, target, ["c"], normalize_names=as_is))  # off, it is a field like any other
    assert await columns(target, "c") == ["id", NAMES.created]


@pytest.mark.parametrize("mode", [Mode.SNAPSHOT, Mode.INCREMENTAL, Mode.FULL_WITH_DELETES])
async def test_without_the_flag_tables_get_no_timestamps(
    state: asyncpg.Pool, pair: tuple[str, str], mode: Mode
) -> None:
    source, target = pair
    await sql(source, "CREATE TABLE o (id int PRIMARY KEY, v text); INSERT INTO o VALUES (1, 'a')")
    await sql(target, "CREATE TABLE kept (id int PRIMARY KEY, v text)")
    objects: tuple[Any, ...] = (
        ObjectSpec(name="o", schema_name="public"),
        ObjectSpec(name="o", schema_name="public", output_name="kept"),
    )
    for spec in (
        spec_for(source, target, objects=objects[:1], mode=mode),
        spec_for(source, target, objects=objects[1:], mode=mode),
    ):
        await run(state, spec)
        await run(state, spec)
    assert await columns(target, "o") == ["id", "v"]
    assert await columns(target, "kept") == ["id", "v"]
