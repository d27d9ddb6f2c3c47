"""Secondary indexes copied to a PostgreSQL destination (`SyncSpec.copy_indexes`, DRS's `index_trans`), through the
executor's pipeline against the real server: a snapshot builds them before its swap and keeps them across runs, an
incremental sync adds the missing ones to its table, an index on a column not copied or one the destination cannot
build is skipped, and nothing but the primary key is built when the spec does not ask for it."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr
from tests.support.infra import create_database, drop_database, unique

from syncline_connectors.postgres_dest import index_name
from syncline_connectors.spec import Endpoint, Mode, ObjectSpec, SyncSpec
from syncline_executor.pipeline import Pipeline, PipelineSettings, Tally
from syncline_platform.db import create_pool
from syncline_platform.migrations import apply_migrations

pytestmark = pytest.mark.integration

EXECUTOR_MIGRATIONS = Path(__file__).resolve().parents[2] / "services/executor/src/syncline_executor/migrations"
SOURCE = """
CREATE TABLE items (id bigint PRIMARY KEY, name text, email text, doc jsonb, secret text, n int,
                    CONSTRAINT items_email_key UNIQUE (email));
CREATE INDEX items_lower_name ON items (lower(name)) INCLUDE (n) WHERE n > 3;
CREATE INDEX items_doc ON items USING gin (doc jsonb_path_ops);
CREATE INDEX items_n_desc ON items (n DESC NULLS LAST, id);
CREATE INDEX items_secret ON items (secret);
CREATE FUNCTION shout(text) RETURNS text IMMUTABLE LANGUAGE sql AS 'SELECT upper($1)';
CREATE INDEX items_shout ON items (shout(name));
INSERT INTO items SELECT g, 'name ' || g, 'e' || g || '@example.com', jsonb_build_object('g', g), 's' || g, g % 10
FROM generate_series(1, 500) g;
"""
COPIED = ("items_doc", "items_email_key", "items_lower_name", "items_n_desc")
"""Every source index the spec below copies: `items_secret` reads a field it leaves out, `items_shout` a function
the destination lacks."""


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
    """A seeded source and an empty destination database: their DSNs."""
    names = (unique("src"), unique("dst"))
    dsns = [await create_database(n) for n in names]
    conn = await asyncpg.connect(dsns[0])
    try:
        await conn.execute(SOURCE)
    finally:
        await conn.close()
    try:
        yield dsns[0], dsns[1]
    finally:
        for n in names:
            await drop_database(n)


def spec_for(source: str, target: str, **extra: Any) -> SyncSpec:
    fields = ("id", "name", "email", "doc", "n")
    return SyncSpec(
        sync_id=unique("sync"),
        source=Endpoint(type="postgresql", config={"dsn": source, "database": "src", "schema": "public"}),
        destination=Endpoint(type="postgresql", config={"dsn": target, "schema": "copy"}),
        objects=(ObjectSpec(name="items", schema_name="public", fields=fields, tracking_field="id"),),
        **extra,
    )


async def run(pool: asyncpg.Pool, spec: SyncSpec) -> None:
    settings = PipelineSettings(batch_rows=200)
    await Pipeline(pool=pool, sealer=None, settings=settings, run_id=unique("run"), tally=Tally()).run(spec)


async def indexes(dsn: str) -> dict[str, str]:
    """The destination table's indexes: name → definition."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'copy'")
    finally:
        await conn.close()
    return {r["indexname"]: r["indexdef"] for r in rows}


def expected(*names: str) -> set[str]:
    return {"items_pkey", *(index_name("items", n) for n in names)}


async def test_a_snapshot_copies_the_indexes_and_keeps_them_across_runs(
    state: asyncpg.Pool, pair: tuple[str, str]
) -> None:
    source, target = pair
    spec = spec_for(source, target, copy_indexes=True)
    await run(state, spec)
    first = await indexes(target)
    assert set(first) == expected(*COPIED)
    name = index_name("items", "items_lower_name")
    assert first[name] == (f"CREATE INDEX {name} ON copy.items USING btree (lower(name)) INCLUDE (n) WHERE (n > 3)")
    assert "USING gin (doc jsonb_path_ops)" in first[index_name("items", "items_doc")]
    assert "(n DESC NULLS LAST, id)" in first[index_name("items", "items_n_desc")]
    # never unique at the destination: the source keeps the values unique, a batch of changes may swap them
    assert [n for n, d in first.items() if d.startswith("CREATE UNIQUE")] == ["items_pkey"]
    await run(state, spec)  # the second swap renames the new table's indexes into the same names
    assert await indexes(target) == first


async def test_an_incremental_sync_adds_the_missing_indexes_to_its_table(
    state: asyncpg.Pool, pair: tuple[str, str]
) -> None:
    source, target = pair
    await run(state, spec_for(source, target, mode=Mode.INCREMENTAL))
    assert set(await indexes(target)) == {"items_pkey"}
    await run(state, spec_for(source, target, mode=Mode.INCREMENTAL, copy_indexes=True))
    assert set(await indexes(target)) == expected(*COPIED)


async def test_without_copy_indexes_only_the_primary_key_is_built(state: asyncpg.Pool, pair: tuple[str, str]) -> None:
    source, target = pair
    await run(state, spec_for(source, target))
    assert set(await indexes(target)) == {"items_pkey"}


def test_index_names_are_unique_per_table_and_fit_postgresql() -> None:
    assert index_name("a_b", "c") != index_name("a", "b_c")
    long = index_name("t" * 60, "ü" * 40)
    assert len(long.encode()) <= 63
    assert long == index_name("t" * 60, "ü" * 40)
