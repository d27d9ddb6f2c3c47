"""Huawei DRS with the official SDK, PostgreSQL → Kafka (`engine_type` postgresql, the target's `db_type` kafka,
the brokers in `ip`): two topic policies and two partition policies, in JSON and Avro, the snapshot and the
changes after it consumed and checked."""

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import fastavro
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import murmur2
from tests.support.infra import kafka_options
from tests.support.system import System

from syncline_connectors.kafka import AVRO_SCHEMA

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:Method .* of DrsClient is deprecated")]

SEED = (
    "CREATE TABLE alpha (id int PRIMARY KEY, label text NOT NULL)",
    "CREATE TABLE beta (id int PRIMARY KEY, label text NOT NULL)",
    "INSERT INTO alpha SELECT g, 'a' || g FROM generate_series(1, 40) g",
    "INSERT INTO beta SELECT g, 'b' || g FROM generate_series(1, 30) g",
)
CHANGES = (
    "INSERT INTO alpha VALUES (41, 'a41')",
    "UPDATE beta SET label = 'b1 changed' WHERE id = 1",
    "DELETE FROM alpha WHERE id = 2",
)


def _tenant(system: System) -> str:
    """Where this module's DRS topics are: the tenant's own names (on a secured broker, its principal may not
    touch anything named `syncline…`, as Syncline's own topics are), unique to this system's run."""
    return f"tenant.{system.topic_prefix}"


@pytest.fixture(scope="module", autouse=True)
async def _drop_tenant_topics(system: System) -> AsyncIterator[None]:
    """The tenant topics are deleted at the end (Syncline's own go with the system's topic prefix)."""
    yield
    admin = AIOKafkaAdminClient(**kafka_options())
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(_tenant(system))]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


async def _run(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _create_topic(name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(**kafka_options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def _consume(topic: str, *, count: int, timeout_s: float = 60.0) -> list[tuple[int, str, bytes]]:
    """(partition, key, value) of the first `count` records of every partition of `topic`."""
    consumer = AIOKafkaConsumer(**kafka_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        async with asyncio.timeout(timeout_s):
            while not (partitions := consumer.partitions_for_topic(topic)):
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.2)
            assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            await consumer.seek_to_beginning(*assigned)
            found: list[tuple[int, str, bytes]] = []
            while len(found) < count:
                for tp, records in (await consumer.getmany(timeout_ms=300)).items():
                    found += [(tp.partition, (r.key or b"").decode(), r.value or b"") for r in records]
            return found
    finally:
        await consumer.stop()


def _avro(value: bytes) -> dict[str, Any]:
    record: Any = fastavro.schemaless_reader(io.BytesIO(value), fastavro.parse_schema(AVRO_SCHEMA), None)
    return dict(record)


def _job(system: System, source_name: str, policy: dict[str, Any]) -> tuple[Any, str]:
    from tests.e2e import drs_support as d

    client = d.drs(system)
    job = d.ready(
        client,
        source_db=source_name,
        target=d.kafka(),
        tables=("alpha", "beta"),
        task_type="FULL_INCR_TRANS",
        policy=policy,
    )
    assert d.start(client, job).status == "success"
    d.wait_status(client, job, "INCRE_TRANSFER_STARTED", timeout_s=90)
    return client, job


async def test_one_topic_all_in_partition_zero_as_json(system: System, source_db: tuple[str, str]) -> None:
    from huaweicloudsdkdrs.v3.model import SyncPolicyReq  # type: ignore[import-untyped]
    from tests.e2e import drs_support as d

    source_name, source = source_db
    await _run(source, *SEED)
    topic = f"{_tenant(system)}drs-{uuid.uuid4().hex[:8]}"
    await _create_topic(topic, partitions=3)
    policy = {"topic_policy": "0", "topic": topic, "partition_policy": "1", "kafka_data_format": "json"}
    client, job = await asyncio.to_thread(_job, system, source_name, policy)
    d.wait_for(lambda: d.progress(client, job).incre_trans_delay_millis is not None, what="the stream to open")
    await _run(source, *CHANGES)

    records = await _consume(topic, count=73)
    assert {p for p, _, _ in records} == {0}  # partition_policy 1: everything in partition 0
    messages = [(key, json.loads(value)) for _, key, value in records]
    snapshot = [m for _, m in messages[:70]]
    assert sorted((m["table"], m["data"][0]["id"]) for m in snapshot) == sorted(
        [("alpha", i) for i in range(1, 41)] + [("beta", i) for i in range(1, 31)]
    )
    assert {(m["database"], m["schema"], m["type"], tuple(m["pkNames"])) for m in snapshot} == {
        (source_name, "public", "INSERT", ("id",))
    }
    changes = [(key, m["table"], m["type"], m["data"][0]) for key, m in messages[70:]]
    assert changes == [
        ("41", "alpha", "INSERT", {"id": 41, "label": "a41"}),
        ("1", "beta", "UPDATE", {"id": 1, "label": "b1 changed"}),
        ("2", "alpha", "DELETE", {"id": 2}),  # the key only: REPLICA IDENTITY DEFAULT
    ]

    # while replicating, the Kafka policy may change (the run goes on from its position under it); nothing else may
    moved = f"{topic}-moved"
    await _create_topic(moved, partitions=2)
    [refused] = d.set_policies(client, SyncPolicyReq(job_id=job, conflict_policy="ignore"))
    assert (refused.status, refused.error_code) == ("failed", "DRS.10000011")
    [changed] = d.set_policies(client, SyncPolicyReq(job_id=job, topic=moved, partition_policy="2"))
    assert changed.status == "success"
    d.wait_for(lambda: d.status(client, job) != "INCRE_TRANSFER_STARTED", what="the run to restart", every_s=0.1)
    d.wait_status(client, job, "INCRE_TRANSFER_STARTED", timeout_s=60)
    d.wait_for(lambda: d.progress(client, job).incre_trans_delay_millis is not None, what="the stream to open")
    await _run(source, "INSERT INTO beta VALUES (77, 'b77')")
    [(partition, key, value)] = await _consume(moved, count=1)
    assert (key, json.loads(value)["data"][0]) == ("77", {"id": 77, "label": "b77"})
    assert partition == (murmur2(b"77") & 0x7FFFFFFF) % 2
    assert len(await _consume(topic, count=73)) == 73  # the old topic got nothing more
    assert d.terminate(client, job).status == "success"
    d.wait_status(client, job, "RELEASE_RESOURCE_COMPLETE")


async def test_a_topic_per_table_partitioned_by_key_as_avro(system: System, source_db: tuple[str, str]) -> None:
    from tests.e2e import drs_support as d

    source_name, source = source_db
    await _run(source, *SEED)
    prefix = f"{_tenant(system)}drs{uuid.uuid4().hex[:6]}"
    policy = {
        "topic_policy": 1,  # integers where the docs say strings: accepted
        "topic_name_format": f"{prefix}-$database$-$schema$-$tablename$",
        "partition_policy": "2",
        "partitions_num": 3,
        "replication_factor": "1",
        "kafka_data_format": "avro",
    }
    client, job = await asyncio.to_thread(_job, system, source_name, policy)
    d.wait_for(lambda: d.progress(client, job).incre_trans_delay_millis is not None, what="the stream to open")
    await _run(source, *CHANGES)

    alpha = await _consume(f"{prefix}-{source_name}-public-alpha", count=42)
    beta = await _consume(f"{prefix}-{source_name}-public-beta", count=31)
    for records, table in ((alpha, "alpha"), (beta, "beta")):
        decoded = [(p, key, _avro(value)) for p, key, value in records]
        assert {r["table"] for _, _, r in decoded} == {table}
        for partition, key, record in decoded:  # partition_policy 2: the key's hash picks the partition
            assert key == record["data"][0]["id"]
            assert partition == (murmur2(key.encode()) & 0x7FFFFFFF) % 3
        assert len({p for p, _, _ in decoded}) > 1
    alpha_kinds = sorted((r["type"], r["data"][0]["id"]) for r in (_avro(value) for _, _, value in alpha))
    assert ("INSERT", "41") in alpha_kinds
    assert ("DELETE", "2") in alpha_kinds
    beta_update = [_avro(v) for _, _, v in beta if _avro(v)["type"] == "UPDATE"]
    assert [u["data"][0]["label"] for u in beta_update] == ["b1 changed"]
    assert d.terminate(client, job).status == "success"
    d.wait_status(client, job, "RELEASE_RESOURCE_COMPLETE")
