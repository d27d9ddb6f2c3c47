"""Kafka destination with DRS topic, partition and format policies, against the real broker."""

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import fastavro
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import murmur2
from pydantic import SecretStr
from tests.support.infra import (
    Record,
    create_database,
    drop_database,
    kafka_destination,
    kafka_options,
    read_topic,
    unique,
)

from syncline_connectors.kafka import AVRO_SCHEMA, topic_for
from syncline_connectors.spec import Endpoint, KafkaPolicy, Mode, ObjectSpec, SyncSpec
from syncline_executor.pipeline import Pipeline, PipelineSettings, Tally
from syncline_platform.db import create_pool
from syncline_platform.errors import InvalidError
from syncline_platform.migrations import apply_migrations

pytestmark = pytest.mark.integration

EXECUTOR_MIGRATIONS = Path(__file__).resolve().parents[2] / "services/executor/src/syncline_executor/migrations"


@pytest.fixture(scope="module")
async def state() -> AsyncIterator[asyncpg.Pool]:
    name = unique("kafka_state")
    dsn = await create_database(name)
    await apply_migrations(dsn=SecretStr(dsn), schema="executor", directory=EXECUTOR_MIGRATIONS)
    pool = await create_pool(dsn=SecretStr(dsn), schema="executor", application="test", max_size=4)
    try:
        yield pool
    finally:
        await pool.close()
        await drop_database(name)


PREFIX = unique("drs")
"""Every topic of this module starts with it; they are deleted at the end."""


@pytest.fixture(scope="module", autouse=True)
async def delete_topics() -> AsyncIterator[None]:
    yield
    admin = AIOKafkaAdminClient(**kafka_options())
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(PREFIX)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


@pytest.fixture
async def source() -> AsyncIterator[tuple[str, str]]:
    """A source database with two schemas of keyed tables: (name, DSN)."""
    name = unique("ksrc")
    dsn = await create_database(name)
    conn = await asyncpg.connect(dsn, server_settings={"synchronous_commit": "on"})
    try:
        await conn.execute(
            "CREATE SCHEMA sales;"
            "CREATE TABLE sales.orders (id int PRIMARY KEY, total numeric(8, 2));"
            "INSERT INTO sales.orders SELECT g, g * 1.5 FROM generate_series(1, 40) g;"
            "CREATE TABLE sales.lines (order_id int, line int, sku text, PRIMARY KEY (order_id, line));"
            "INSERT INTO sales.lines VALUES (1, 1, 'a'), (1, 2, 'b')"
        )
    finally:
        await conn.close()
    try:
        yield name, dsn
    finally:
        await drop_database(name)


def spec_for(
    name: str, dsn: str, policy: KafkaPolicy, tables: tuple[str, ...] = ("orders",), **extra: object
) -> SyncSpec:
    return SyncSpec(
        sync_id=unique("k"),
        source=Endpoint(type="postgresql", config={"dsn": dsn, "database": name, "schema": "sales"}),
        destination=Endpoint(type="kafka", config=kafka_destination()),
        objects=tuple(ObjectSpec(name=t, schema_name="sales") for t in tables),
        kafka=policy,
        **extra,  # type: ignore[arg-type]
    )


async def run(pool: asyncpg.Pool, spec: SyncSpec) -> Tally:
    tally = Tally()
    await Pipeline(
        pool=pool, sealer=None, settings=PipelineSettings(batch_rows=7), run_id=unique("run"), tally=tally
    ).run(spec)
    return tally


async def create_topic(name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(**kafka_options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def partitions_of(topic: str) -> int:
    admin = AIOKafkaAdminClient(**kafka_options())
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return len(described[0]["partitions"])


async def records(topic: str, count: int) -> list[Record]:
    return await read_topic(topic, until=lambda rs: len(rs) >= count, timeout_s=15)


async def partitioned(topic: str, count: int) -> dict[str, int]:
    """Key → partition of the first `count` records (read per partition)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(**kafka_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(await partitions_of(topic))]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        found: dict[str, int] = {}
        while len(found) < count:
            for tp, batch in (await consumer.getmany(timeout_ms=500)).items():
                for record in batch:
                    found[record.key.decode()] = tp.partition
    finally:
        await consumer.stop()
    return found


async def test_topics_are_named_and_created_per_policy(state: asyncpg.Pool, source: tuple[str, str]) -> None:
    name, dsn = source
    prefix = f"{PREFIX}.named"
    policy = KafkaPolicy(
        topic_policy=1,
        topic_name_format=f"{prefix}.$database$.$schema$.$tablename$",
        partition_policy=1,
        partitions_num=3,
    )
    tally = await run(state, spec_for(name, dsn, policy, ("orders", "lines")))
    assert tally.counters().indexed_document_count == 42
    orders = f"{prefix}.{name}.sales.orders"
    assert topic_for(policy, database=name, schema="sales", table="orders") == orders
    assert await partitions_of(orders) == 3
    got = await records(orders, 40)
    assert len(got) == 40
    message = json.loads(next(r for r in got if r.key == "7").value)
    assert message["database"] == name
    assert (message["schema"], message["table"], message["type"], message["pkNames"]) == (
        "sales",
        "orders",
        "INSERT",
        ["id"],
    )
    assert message["data"] == [{"id": 7, "total": 10.50}]
    lines = await records(f"{prefix}.{name}.sales.lines", 2)
    assert sorted(str(r.key) for r in lines) == ["1_1", "1_2"]  # composite keys joined with _

    per_database = KafkaPolicy(topic_policy=2, topic_name_format=f"{prefix}-db-$database$", partition_policy=0)
    await run(state, spec_for(name, dsn, per_database, ("orders", "lines")))
    assert len(await records(f"{prefix}-db-{name}", 42)) == 42
    per_schema = KafkaPolicy(topic_policy=3, topic_name_format=f"{prefix}-$database$-$schema$", partition_policy=0)
    await run(state, spec_for(name, dsn, per_schema, ("lines",)))
    assert len(await records(f"{prefix}-{name}-sales", 2)) == 2


async def test_records_go_to_the_partition_their_policy_names(state: asyncpg.Pool, source: tuple[str, str]) -> None:
    name, dsn = source
    for partition_policy in (0, 1, 2, 3):
        topic = f"{PREFIX}.p{partition_policy}"
        await create_topic(topic, 4)
        policy = KafkaPolicy(topic_policy=0, topic=topic, partition_policy=partition_policy)
        await run(state, spec_for(name, dsn, policy))
        placed = await partitioned(topic, 40)
        assert len(placed) == 40
        if partition_policy == 1:
            assert set(placed.values()) == {0}
        elif partition_policy == 2:
            assert all(p == (murmur2(k.encode()) & 0x7FFFFFFF) % 4 for k, p in placed.items())
            assert len(set(placed.values())) > 1
        else:
            basis = f"{name}.sales.orders" if partition_policy == 0 else f"{name}.sales"
            assert set(placed.values()) == {(murmur2(basis.encode()) & 0x7FFFFFFF) % 4}


async def test_avro_records_and_ddl_messages(state: asyncpg.Pool, source: tuple[str, str]) -> None:
    name, dsn = source
    topic, ddl = f"{PREFIX}.avro", f"{PREFIX}.ddl"
    await create_topic(topic, 1)
    await create_topic(ddl, 1)
    policy = KafkaPolicy(topic_policy=0, topic=topic, partition_policy=1, kafka_data_format="avro", ddl_topic=ddl)
    await run(state, spec_for(name, dsn, policy))
    got = await records(topic, 40)
    decoded: list[Any] = [
        fastavro.schemaless_reader(io.BytesIO(r.value), fastavro.parse_schema(AVRO_SCHEMA)) for r in got
    ]
    first = next(d for d in decoded if d["data"][0]["id"] == "1")
    assert first["table"] == "orders"
    assert first["data"] == [{"id": "1", "total": "1.5"}]
    definitions = await records(ddl, 1)
    ddl_message: Any = fastavro.schemaless_reader(io.BytesIO(definitions[0].value), fastavro.parse_schema(AVRO_SCHEMA))
    assert ddl_message["isDdl"] is True
    assert ddl_message["type"] == "CREATE"


async def test_changes_stream_to_kafka_as_inserts_updates_and_deletes(
    state: asyncpg.Pool, source: tuple[str, str]
) -> None:
    name, dsn = source
    topic = f"{PREFIX}.cdc"
    await create_topic(topic, 1)
    spec = spec_for(name, dsn, KafkaPolicy(topic_policy=0, topic=topic, partition_policy=1), mode=Mode.REPLICATE)
    await run(state, spec)
    conn = await asyncpg.connect(dsn, server_settings={"synchronous_commit": "on"})
    try:
        await conn.execute(
            "UPDATE sales.orders SET total = 0.10 WHERE id = 1; DELETE FROM sales.orders WHERE id = 2;"
            "INSERT INTO sales.orders VALUES (99, 1)"
        )
    finally:
        await conn.close()
    tally = await run(state, spec)
    assert tally.counters().indexed_document_count == 2
    assert tally.counters().deleted_document_count == 1
    got = [json.loads(r.value) for r in await records(topic, 43)]
    changes = [(m["type"], m["data"][0]["id"]) for m in got[40:]]
    assert changes == [("UPDATE", 1), ("DELETE", 2), ("INSERT", 99)]
    assert str(got[40]["data"][0]["total"]) == "0.10"
    from syncline_executor.pipeline import release_stream

    assert await release_stream(pool=state, sealer=None, sync_id=spec.sync_id)


async def test_policy_zero_needs_an_existing_topic(state: asyncpg.Pool, source: tuple[str, str]) -> None:
    name, dsn = source
    with pytest.raises(InvalidError, match="does not exist"):
        await run(state, spec_for(name, dsn, KafkaPolicy(topic_policy=0, topic=f"{PREFIX}.missing")))


async def test_change_edge_cases_reach_kafka(state: asyncpg.Pool, source: tuple[str, str]) -> None:
    """Key changes (identity DEFAULT and FULL), TOAST values an update kept, TRUNCATE and a column added while the
    stream runs, as DRS messages."""
    name, dsn = source
    topic = f"{PREFIX}.edges"
    await create_topic(topic, 1)
    conn = await asyncpg.connect(dsn, server_settings={"synchronous_commit": "on"})
    try:
        await conn.execute(
            "CREATE TABLE sales.docs (id int PRIMARY KEY, title text, body text);"
            "ALTER TABLE sales.docs REPLICA IDENTITY FULL;"
            "INSERT INTO sales.docs VALUES (1, 'one', (SELECT string_agg(md5(i::text), '') FROM"
            " generate_series(1, 400) i)), (2, 'two', 'short')"
        )
        policy = KafkaPolicy(topic_policy=0, topic=topic, partition_policy=1)
        spec = spec_for(name, dsn, policy, tables=("orders", "docs"), mode=Mode.REPLICATE)
        await run(state, spec)
        await conn.execute(
            """
            UPDATE sales.orders SET id = 1000 WHERE id = 3;
            UPDATE sales.docs SET id = 20 WHERE id = 2;
            UPDATE sales.docs SET title = 'uno' WHERE id = 1;
            TRUNCATE sales.docs;
            ALTER TABLE sales.orders ADD COLUMN extra text;
            INSERT INTO sales.orders VALUES (77, 7.5, 'x');
            """
        )
    finally:
        await conn.close()
    tally = await run(state, spec)
    got = [json.loads(r.value) for r in await records(topic, 42 + 7)][42:]
    seen = [(m["table"], m["type"]) for m in got]
    assert seen == [
        ("orders", "UPDATE"),
        ("docs", "UPDATE"),
        ("docs", "UPDATE"),
        ("docs", "TRUNCATE"),
        ("orders", "INSERT"),
    ], seen
    orders_key, docs_key, toast, truncate, inserted = got
    assert (orders_key["data"][0]["id"], orders_key["old"][0]["id"]) == (1000, 3)
    assert (docs_key["data"][0]["id"], docs_key["old"][0]) == (20, {"id": 2, "title": "two", "body": "short"})
    assert toast["data"][0]["title"] == "uno"
    assert len(toast["data"][0]["body"]) == 12800  # unchanged TOAST value, known from the whole old row
    assert truncate["isDdl"] is True
    assert truncate["sql"] == 'TRUNCATE TABLE "sales"."docs"'
    assert inserted["data"] == [{"id": 77, "total": "7.50", "extra": "x"}]  # the run's plan takes every field
    assert tally.counters().indexed_document_count == 5
