"""The outbox relay and the inbox over real PostgreSQL and Kafka."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiokafka.errors import KafkaTimeoutError
from pydantic import SecretStr
from tests.support.infra import read_topic, unique

from syncline_contracts.connectors import UpsertConnector
from syncline_contracts.envelope import Envelope
from syncline_contracts.topics import CONNECTOR_COMMANDS
from syncline_platform import inbox, outbox
from syncline_platform.db import Conn, create_pool
from syncline_platform.kafka import build_broker, ensure_topics
from syncline_platform.migrations import PLATFORM_MIGRATIONS, apply_migrations
from syncline_platform.settings import KafkaSettings

pytestmark = pytest.mark.integration


async def test_migrations_apply_once(database: str) -> None:
    schema = unique("mig")
    platform = len(list(PLATFORM_MIGRATIONS.glob("*.sql")))
    assert platform >= 3  # inbox and outbox, parked rows, retention's indexes
    assert await apply_migrations(dsn=SecretStr(database), schema=schema, directory=None) == platform
    assert await apply_migrations(dsn=SecretStr(database), schema=schema, directory=None) == 0
    conn = await asyncpg.connect(database)
    try:
        tables = {
            r["table_name"]
            for r in await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
            )
        }
    finally:
        await conn.close()
    assert {"inbox", "outbox", "outbox_parked"} <= tables


@contextlib.asynccontextmanager
async def _relay(
    database: str, kafka: KafkaSettings, label: str
) -> AsyncIterator[tuple[asyncpg.Pool, outbox.OutboxRelay]]:
    """A fresh schema's pool and its relay (not started) to the test's broker."""
    schema = unique(label)
    await apply_migrations(dsn=SecretStr(database), schema=schema, directory=None)
    await ensure_topics(kafka, [CONNECTOR_COMMANDS])
    pool = await create_pool(dsn=SecretStr(database), schema=schema, application="test")
    broker = build_broker(kafka, service="test")
    await broker.start()
    relay = outbox.OutboxRelay(pool=pool, broker=broker, schema=schema, prefix=kafka.topic_prefix)
    try:
        yield pool, relay
    finally:
        await relay.stop()
        await broker.stop()
        await pool.close()


async def test_relay_publishes_committed_events_in_order_and_skips_rolled_back_ones(
    database: str, kafka: KafkaSettings
) -> None:
    async with _relay(database, kafka, "relay") as (pool, relay):
        async with pool.acquire() as conn, conn.transaction():
            for i in range(30):
                message = UpsertConnector(connector_id=f"c{i % 2}", name=f"n{i}")
                await outbox.enqueue(
                    conn,
                    topic=CONNECTOR_COMMANDS,
                    message=message,
                    envelope=Envelope(ce_type=message.wire_type(), ce_source="/test"),
                )
        with pytest.raises(RuntimeError):
            await _enqueue_then_fail(pool)
        relay.start()
        records = await read_topic(CONNECTOR_COMMANDS.qualified(kafka.topic_prefix), until=lambda rs: len(rs) >= 30)
        assert len(records) == 30
        names = {key: [json.loads(r.value)["name"] for r in records if r.key == key] for key in ("c0", "c1")}
        assert names["c0"] == [f"n{i}" for i in range(0, 30, 2)]  # a key's events keep their order
        assert names["c1"] == [f"n{i}" for i in range(1, 30, 2)]
        assert all(r.headers["ce_type"] == "syncline.connector.upsert" for r in records)
        async with asyncio.timeout(5), pool.acquire() as conn:  # published rows are deleted right after the acks
            while await conn.fetchval("SELECT count(*) FROM outbox"):
                await asyncio.sleep(0.05)


async def test_a_row_the_broker_refuses_is_parked_and_the_others_go_out_once(
    database: str, kafka: KafkaSettings
) -> None:
    async with _relay(database, kafka, "poison") as (pool, relay):
        async with pool.acquire() as conn, conn.transaction():
            for i, name in enumerate(["before", "x" * 2_000_000, "after"]):  # over the 1 MB message limit
                message = UpsertConnector(connector_id=f"c{i}", name=name)
                envelope = Envelope(ce_type=message.wire_type(), ce_source="/test")
                await outbox.enqueue(conn, topic=CONNECTOR_COMMANDS, message=message, envelope=envelope)
        relay.start()
        async with asyncio.timeout(30), pool.acquire() as conn:
            while await conn.fetchval("SELECT count(*) FROM outbox"):
                await asyncio.sleep(0.1)
            parked = await conn.fetch("SELECT key, attempts, error FROM outbox_parked")
        records = await read_topic(CONNECTOR_COMMANDS.qualified(kafka.topic_prefix), until=lambda _: False, timeout_s=3)
    assert sorted(str(r.key) for r in records) == ["c0", "c2"]  # each once: the rows around it are not re-sent
    [row] = parked
    assert (row["key"], row["attempts"]) == ("c1", outbox.PARK_AFTER)
    assert "MessageSizeTooLarge" in row["error"]


async def test_a_producer_out_of_step_with_the_broker_parks_nothing_and_is_renewed(
    database: str, kafka: KafkaSettings
) -> None:
    """What a broker restart does to the idempotent producer: its sequence numbers no longer match the broker's,
    which answers OutOfOrderSequenceNumber for every batch. Here the producer's next sequence is pushed ahead so
    the real broker refuses; every row waits (none parked), the producer is renewed and every row goes out."""
    async with _relay(database, kafka, "outofstep") as (pool, relay):
        await relay.broker.publish(b"{}", topic=CONNECTOR_COMMANDS.qualified(kafka.topic_prefix), key=b"warm")
        producer = relay.broker.config.broker_config.producer._producer.producer  # type: ignore[attr-defined]
        txn = producer._txn_manager
        for tp in list(txn._sequence_numbers):  # every partition it wrote to: the next batch skips ahead
            txn._sequence_numbers[tp] += 7
        await relay.broker.publish(
            b"{}", topic=CONNECTOR_COMMANDS.qualified(kafka.topic_prefix), key=b"warm", no_confirm=True
        )
        async with pool.acquire() as conn, conn.transaction():
            for i in range(20):
                message = UpsertConnector(connector_id="warm", name=f"n{i}")  # the partition already written to
                envelope = Envelope(ce_type=message.wire_type(), ce_source="/test")
                await outbox.enqueue(conn, topic=CONNECTOR_COMMANDS, message=message, envelope=envelope)
        relay.start()
        async with asyncio.timeout(30), pool.acquire() as conn:
            while await conn.fetchval("SELECT count(*) FROM outbox"):
                await asyncio.sleep(0.1)
            parked = await conn.fetchval("SELECT count(*) FROM outbox_parked")
        assert relay.broker.config.broker_config.producer._producer.producer is not producer  # type: ignore[attr-defined]
        records = await read_topic(
            CONNECTOR_COMMANDS.qualified(kafka.topic_prefix), until=lambda rs: len(rs) >= 22, timeout_s=10
        )
    assert parked == 0
    names = [json.loads(r.value)["name"] for r in records if r.key == "warm" and r.value != b"{}"]
    assert names == [f"n{i}" for i in range(20)]  # each once, in order


async def test_a_row_refused_before_it_left_is_not_overtaken_by_the_rows_after_it(
    database: str, kafka: KafkaSettings
) -> None:
    """A passing refusal before the row leaves the producer (here a metadata timeout, once) makes it wait; the
    rows after it wait with it, so its key's events still arrive in order."""
    async with _relay(database, kafka, "overtake") as (pool, relay):
        publish = relay.broker.publish
        refused: list[str] = []

        async def once_refused(message: Any, **options: Any) -> Any:
            if message["name"] == "n3" and not refused:
                refused.append("n3")
                raise KafkaTimeoutError("no metadata for the topic in time")
            return await publish(message, **options)

        relay.broker.publish = once_refused  # type: ignore[method-assign, assignment]
        async with pool.acquire() as conn, conn.transaction():
            for i in range(10):
                message = UpsertConnector(connector_id="k", name=f"n{i}")
                envelope = Envelope(ce_type=message.wire_type(), ce_source="/test")
                await outbox.enqueue(conn, topic=CONNECTOR_COMMANDS, message=message, envelope=envelope)
        relay.start()
        records = await read_topic(
            CONNECTOR_COMMANDS.qualified(kafka.topic_prefix), until=lambda rs: len(rs) >= 10, timeout_s=15
        )
    assert refused == ["n3"]
    assert [json.loads(r.value)["name"] for r in records] == [f"n{i}" for i in range(10)]


async def test_inbox_recognises_a_redelivered_message(database: str) -> None:
    schema = unique("inbox")
    await apply_migrations(dsn=SecretStr(database), schema=schema, directory=None)
    pool = await create_pool(dsn=SecretStr(database), schema=schema, application="test")
    try:
        async with pool.acquire() as conn:
            assert await inbox.claim(conn, consumer="policy", message_id="m1") is True
            assert await inbox.claim(conn, consumer="policy", message_id="m1") is False
            assert await inbox.claim(conn, consumer="scheduler", message_id="m1") is True
            with pytest.raises(RuntimeError):
                await _claim_then_fail(conn)
            assert await inbox.claim(conn, consumer="policy", message_id="m2") is True  # the failed try left no trace
    finally:
        await pool.close()


async def _enqueue_then_fail(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        message = UpsertConnector(connector_id="c0", name="rolled back")
        envelope = Envelope(ce_type=message.wire_type(), ce_source="/test")
        await outbox.enqueue(conn, topic=CONNECTOR_COMMANDS, message=message, envelope=envelope)
        raise RuntimeError("abort")


async def _claim_then_fail(conn: Conn) -> None:
    async with conn.transaction():
        assert await inbox.claim(conn, consumer="policy", message_id="m2") is True
        raise RuntimeError("handler failed")
