"""Field obfuscation (Polytomic's `obfuscate`): obfuscated fields reach the destination as the lower-case hex SHA-256
of the value's text, NULL stays NULL, the destination column is text, and the other fields are untouched. Covered:
PostgreSQL snapshots and samples, change capture into PostgreSQL and into Kafka, a folder source (rows and
samples) into JSON lines, and PostgreSQL into JSON lines."""

import hashlib
import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from tests.integration.test_connector_files import db, read
from tests.integration.test_connector_kafka import PREFIX, create_topic, delete_topics, records
from tests.integration.test_connector_postgres import pair, run, spec_for, sql, state
from tests.support.infra import kafka_destination, unique

from syncline_connectors import planning
from syncline_connectors.files import FilesConfig, FilesSource
from syncline_connectors.postgres import PostgresConfig, PostgresSource
from syncline_connectors.spec import Endpoint, FileFormat, KafkaPolicy, Mode, ObjectSpec, SyncSpec
from syncline_executor.pipeline import release_stream
from syncline_platform.errors import InvalidError

pytestmark = pytest.mark.integration
__all__ = ["db", "delete_topics", "pair", "state"]  # fixtures shared with the connector tests

ALICE = "2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90"
"""sha256("alice"): a known value, so the tests do not only compare one implementation with itself."""
THIRTY = "624b60c58c9d8bfb6ff1886c2fd605d2adeb6ea4da576068201b6c6958ce93f4"
"""sha256("30")."""
HIDDEN = ("name", "age", "balance", "score", "joined", "big")

CUSTOMERS = """
CREATE TABLE customers (id int PRIMARY KEY, name text, age int, balance numeric(10, 2), score double precision,
                        joined timestamptz, big text, note text);
INSERT INTO customers VALUES
 (1, 'alice', 30, 12.50, 1.5, '2024-01-01 10:00:00+00', NULL, 'keep me'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, 'all null'),
 (3, 'Zoë 🙂', -7, 0.00, 100000000000000000000, '1999-12-31 23:59:59.5+00', NULL, NULL);
UPDATE customers SET big = (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i) WHERE id = 1;
"""
"""`big` holds 12 kB of incompressible text (stored out of line: an update leaving it alone does not log it)."""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def hidden_spec(source: str, target: str, **extra: Any) -> SyncSpec:
    objects = (ObjectSpec(name="customers", schema_name="public", obfuscated=HIDDEN),)
    return spec_for(source, target, objects=objects, **extra)


async def hashed_by_postgres(dsn: str) -> list[tuple[Any, ...]]:
    """The source rows as obfuscation must deliver them, hashed by PostgreSQL itself."""
    hashed = ", ".join(f"encode(sha256(convert_to({c}::text, 'UTF8')), 'hex')" for c in HIDDEN)
    return await sql(dsn, f"SELECT id, {hashed}, note FROM customers ORDER BY id")


async def delivered(dsn: str) -> list[tuple[Any, ...]]:
    return await sql(dsn, f"SELECT id, {', '.join(HIDDEN)}, note FROM customers ORDER BY id")


async def test_a_snapshot_delivers_hashes_in_text_columns(state: asyncpg.Pool, pair: tuple[str, str]) -> None:
    source, target = pair
    await sql(source, CUSTOMERS)
    await run(state, hidden_spec(source, target))
    rows = await delivered(target)
    assert rows == await hashed_by_postgres(source)
    first, nulls, third = rows
    assert first[1:6] == (ALICE, THIRTY, sha("12.50"), sha("1.5"), sha("2024-01-01 10:00:00+00"))
    assert first[7] == "keep me"
    assert nulls == (2, None, None, None, None, None, None, "all null")
    assert third[1:5] == (sha("Zoë 🙂"), sha("-7"), sha("0.00"), sha("1e+20"))
    types = await sql(
        target, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'customers'"
    )
    assert {c: t for c, t in types if c in HIDDEN} == dict.fromkeys(HIDDEN, "text")
    assert {c: t for c, t in types if c not in HIDDEN} == {"id": "integer", "note": "text"}


async def test_a_sample_reads_hashes(pair: tuple[str, str]) -> None:
    source, _ = pair
    await sql(source, CUSTOMERS)
    spec = hidden_spec(source, source)
    async with PostgresSource(PostgresConfig(dsn=source, schema="public")) as pg:
        [plan] = await planning.plan(spec, await pg.discover(), default_schema="public")
        rows = sorted(await pg.sample(plan, limit=5), key=lambda r: r["id"])
    assert (rows[0]["name"], rows[0]["age"], rows[0]["note"]) == (ALICE, THIRTY, "keep me")
    assert rows[1]["name"] is None


async def test_key_fields_cannot_be_obfuscated(pair: tuple[str, str]) -> None:
    source, _ = pair
    await sql(source, CUSTOMERS)
    spec = spec_for(source, source, objects=(ObjectSpec(name="customers", schema_name="public", obfuscated=("id",)),))
    async with PostgresSource(PostgresConfig(dsn=source, schema="public")) as pg:
        with pytest.raises(InvalidError, match=r"key fields of \[public.customers\] cannot be obfuscated: id"):
            await planning.plan(spec, await pg.discover(), default_schema="public")


async def test_replication_hashes_the_changes_it_applies(state: asyncpg.Pool, pair: tuple[str, str]) -> None:
    source, target = pair
    await sql(source, CUSTOMERS)
    spec = hidden_spec(source, target, mode=Mode.REPLICATE, sync_id=unique("obf"))
    await run(state, spec)
    await sql(
        source,
        """
        INSERT INTO customers VALUES (4, 'alice', 30, 1, 0.1, '2024-02-29 00:00:00+00', 'b', 'new');
        UPDATE customers SET note = 'note only' WHERE id = 1;
        UPDATE customers SET name = NULL, age = 31, score = 2.5e-7 WHERE id = 3;
        UPDATE customers SET name = 'bob', balance = 99999999.99 WHERE id = 2;
        DELETE FROM customers WHERE id = 4;
        INSERT INTO customers VALUES (5, 'carol', NULL, 0.10, NULL, NULL, NULL, 'later');
        """,
    )
    await run(state, spec)
    rows = await delivered(target)
    assert rows == await hashed_by_postgres(source)
    by_id = {r[0]: r for r in rows}
    assert by_id[1][6] == sha("".join(hashlib.md5(str(i).encode()).hexdigest() for i in range(1, 401)))  # noqa: S324
    assert by_id[1][7] == "note only"  # the unchanged out-of-line value kept its hash
    assert by_id[2][1:4] == (sha("bob"), None, sha("99999999.99"))
    assert by_id[3][1:3] == (None, sha("31"))
    assert by_id[5][1:4] == (sha("carol"), None, sha("0.10"))
    assert 4 not in by_id
    assert await release_stream(pool=state, sealer=None, sync_id=spec.sync_id)


async def test_changes_reach_kafka_hashed(state: asyncpg.Pool, pair: tuple[str, str]) -> None:
    source, _ = pair
    await sql(source, CUSTOMERS)
    topic = f"{PREFIX}.obfuscated"
    await create_topic(topic, 1)
    spec = SyncSpec(
        sync_id=unique("obf_kafka"),
        source=Endpoint(type="postgresql", config={"dsn": source, "database": "src", "schema": "public"}),
        destination=Endpoint(type="kafka", config=kafka_destination()),
        objects=(ObjectSpec(name="customers", schema_name="public", obfuscated=("name", "age")),),
        kafka=KafkaPolicy(topic_policy=0, topic=topic, partition_policy=1),
        mode=Mode.REPLICATE,
    )
    await run(state, spec)
    await sql(source, "UPDATE customers SET name = 'alice', age = 30, note = 'changed' WHERE id = 2")
    await run(state, spec)
    messages = [json.loads(r.value) for r in await records(topic, 4)]
    snapshot = {m["data"][0]["id"]: m["data"][0] for m in messages[:3]}
    assert (snapshot[1]["name"], snapshot[1]["age"], snapshot[1]["note"]) == (ALICE, THIRTY, "keep me")
    assert snapshot[2]["name"] is None
    change = messages[3]
    assert change["type"] == "UPDATE"
    data = change["data"][0]
    assert (data["name"], data["age"], data["note"]) == (ALICE, THIRTY, "changed")
    assert await release_stream(pool=state, sealer=None, sync_id=spec.sync_id)


async def test_a_table_lands_in_json_lines_hashed(state: asyncpg.Pool, pair: tuple[str, str], tmp_path: Path) -> None:
    source, _ = pair
    await sql(source, CUSTOMERS)
    run_id = unique("run")
    spec = SyncSpec(
        sync_id=unique("obf_files"),
        source=Endpoint(type="postgresql", config={"dsn": source, "database": "src", "schema": "public"}),
        destination=Endpoint(type="files", config={"path": str(tmp_path)}),
        objects=(ObjectSpec(name="customers", schema_name="public", obfuscated=("name", "age", "balance")),),
        file_format=FileFormat.JSONL,
    )
    await run(state, spec, run_id=run_id, files_root=tmp_path)
    rows = {r["id"]: r for r in read(tmp_path / "customers" / f"{run_id}.jsonl", FileFormat.JSONL)}
    assert (rows[1]["name"], rows[1]["age"], rows[1]["balance"], rows[1]["score"]) == (ALICE, THIRTY, sha("12.50"), 1.5)
    assert (rows[2]["name"], rows[2]["age"], rows[2]["note"]) == (None, None, "all null")


FILE_ROWS: list[dict[str, Any]] = [
    {"id": 1, "email": "alice", "n": 30, "amount": 1.5, "big": 1e20, "flag": True, "doc": {"b": [1.5, "é"], "a": None}},
    {"id": 2, "email": None, "n": None, "amount": None, "big": None, "flag": None, "doc": None},
]


async def test_a_folder_lands_in_json_lines_hashed_as_postgresql_hashes(
    state: asyncpg.Pool, db: str, tmp_path: Path
) -> None:
    folder = tmp_path / "in" / "people"
    folder.mkdir(parents=True)
    (folder / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in FILE_ROWS))
    (tmp_path / "in" / "codes").mkdir()
    (tmp_path / "in" / "codes" / "c.csv").write_text("code,label\n0042,forty-two\n,empty\n")
    hidden = ("email", "n", "amount", "big", "flag", "doc")
    run_id = unique("run")
    spec = SyncSpec(
        sync_id=unique("obf_folder"),
        source=Endpoint(type="files", config={"path": str(tmp_path / "in")}),
        destination=Endpoint(type="files", config={"path": str(tmp_path / "out")}),
        objects=(ObjectSpec(name="people", obfuscated=hidden), ObjectSpec(name="codes", obfuscated=("code",))),
        file_format=FileFormat.JSONL,
    )
    await run(state, spec, run_id=run_id, files_root=tmp_path)
    people = read(tmp_path / "out" / "people" / f"{run_id}.jsonl", FileFormat.JSONL)
    # PostgreSQL hashes the same values (typed as discovery types them) the same way
    by_postgres = [r[0] for r in await sql(db, _HASHES, json.dumps(FILE_ROWS[0]["doc"]))]
    assert [people[0][f] for f in hidden] == by_postgres
    assert (people[0]["email"], people[0]["n"], people[0]["amount"]) == (ALICE, THIRTY, sha("1.5"))
    assert people[0]["id"] == 1
    assert people[1] == {"id": 2} | dict.fromkeys(hidden)
    codes = read(tmp_path / "out" / "codes" / f"{run_id}.jsonl", FileFormat.JSONL)
    assert [(c["code"], c["label"]) for c in codes] == [(sha("0042"), "forty-two"), (sha(""), "empty")]
    async with FilesSource(FilesConfig(path=str(tmp_path / "in"))) as files:
        plans = await planning.plan(spec, await files.discover(), default_schema=None)
        sampled = await files.sample(next(p for p in plans if p.name == "people"), limit=1)
    assert sampled == [people[0]]


_HASHES = """
SELECT encode(sha256(convert_to(x, 'UTF8')), 'hex') FROM unnest(ARRAY[
    'alice'::text, 30::bigint::text, 1.5::double precision::text, 1e20::double precision::text, true::text,
    $1::jsonb::text]) WITH ORDINALITY u(x, i) ORDER BY i
"""
