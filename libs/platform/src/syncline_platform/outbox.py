"""The outbox: events are written in the transaction that produced them and published by a relay.

One relay per schema publishes at a time (a session advisory lock), in `seq` order, so a key's events keep
their order; a crash between publish and delete re-sends, and consumers dedupe on `ce_id`. Each row's delivery is
settled on its own: the acknowledged rows are deleted; a row the broker refuses for what it is (too large, say)
is tried `PARK_AFTER` times and then moved to `outbox_parked` with the reason, so it neither stalls the rows
after it nor makes the ones before it go out again. Only a fault of the row itself (`row_fault`: too large, an
invalid record, a value that does not serialize) parks it; any other failure (the broker away, restarting, or
its idempotent producer out of step after a restart) leaves the row waiting, and a producer whose state went
wrong (`PRODUCER_STATE`) is renewed before the next try.

With tracing on, a row keeps the `traceparent` of the span that wrote it (in its headers), and is published in
that trace, so a trace goes on through the outbox.
"""

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import aiokafka
import asyncpg
import structlog
from aiokafka import errors as kafka
from faststream.kafka import KafkaBroker
from faststream.kafka.publisher.state import RealProducer

from syncline_contracts.base import Message
from syncline_contracts.envelope import Envelope
from syncline_contracts.topics import Topic
from syncline_platform import loops, tracing
from syncline_platform.db import Conn
from syncline_platform.errors import is_transient

log = structlog.get_logger(__name__)

BATCH = 500
PARK_AFTER = 3
"""Refusals of one row before it is parked."""

ROW_FAULTS: tuple[type[BaseException], ...] = (
    kafka.MessageSizeTooLargeError,
    kafka.RecordTooLargeError,
    kafka.RecordListTooLargeError,
    kafka.CorruptRecordException,
    kafka.InvalidMessageError,
    kafka.InvalidTimestampError,
    kafka.InvalidTopicError,
    kafka.UnsupportedForMessageFormatError,
    TypeError,  # a payload or header that does not serialize
    ValueError,
    UnicodeError,
)
"""Refusals of the row for what it is: sending it again fails the same way, so it is parked."""

PRODUCER_STATE: tuple[type[BaseException], ...] = (
    kafka.OutOfOrderSequenceNumber,
    kafka.UnknownProducerId,
    kafka.InvalidProducerEpoch,
    kafka.ProducerFenced,
    kafka.ProducerClosed,
)
"""Failures after which the idempotent producer cannot go on (its sequence numbers no longer match the broker's):
a new producer (a new producer id) is started before the rows are sent again."""


def row_fault(error: BaseException) -> bool:
    """Whether `error` is about the row itself (it may be parked), not about the broker or the producer."""
    return isinstance(error, ROW_FAULTS) and not is_transient(error)


async def renew_producer(broker: KafkaBroker) -> None:
    """Replace the broker's producer by a fresh one (started first, so publishing never finds none), then stop
    the old one. FastStream offers no public way to do it; this follows how its broker config connects one."""
    fast: Any = broker.config.broker_config.producer
    old = getattr(fast, "_producer", None)
    kwargs: dict[str, Any] = getattr(broker, "_connection_kwargs", {})
    if old is None or not kwargs or not isinstance(old, RealProducer):
        return  # not connected: `start` will build one
    fresh = aiokafka.AIOKafkaProducer(**kwargs)
    await fresh.start()
    fast._producer = RealProducer(fresh)
    with contextlib.suppress(Exception):  # the old one is broken already; it only has to let go
        await old.stop()
    log.warning("outbox.producer_renewed")


async def enqueue(conn: Conn, *, topic: Topic, message: Message, envelope: Envelope) -> None:
    """Write an event to the outbox; call inside the transaction whose effect it announces."""
    await enqueue_many(conn, items=[(topic, message, envelope)])


async def enqueue_many(conn: Conn, *, items: Sequence[tuple[Topic, Message, Envelope]]) -> None:
    """Write several events in one round trip, in order, and wake the relay once."""
    if not items:
        return
    traced = {"traceparent": traceparent} if (traceparent := tracing.current_traceparent()) else {}
    await conn.executemany(
        "INSERT INTO outbox (topic, key, headers, payload) VALUES ($1, $2, $3, $4)",
        [(t.name, m.key, e.to_headers() | traced, m.model_dump(mode="json")) for t, m, e in items],
    )
    await conn.execute("SELECT pg_notify(current_schema() || '_outbox', '')")


def _producer_broken(error: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, PRODUCER_STATE) or type(current) is kafka.KafkaError:  # a dead sender routine
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


class OutboxRelay:
    """Publishes a schema's outbox to Kafka until stopped."""

    def __init__(self, *, pool: asyncpg.Pool, broker: KafkaBroker, schema: str, prefix: str = "") -> None:
        self.pool = pool
        self.broker = broker
        self.schema = schema
        self.prefix = prefix
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run in the background."""
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.schema}")

    async def stop(self) -> None:
        """Stop after the current batch."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a lost connection or broker hiccup: start over
                log.warning("outbox.relay_error", error=repr(exc), schema=self.schema)
                await asyncio.sleep(1)

    async def _lead(self) -> None:
        async with self.pool.acquire() as conn:
            locked = await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", f"{self.schema}.outbox")
            if not locked:
                await asyncio.sleep(1)
                return
            await conn.add_listener(f"{self.schema}_outbox", self._notified)
            try:
                while True:
                    self._wake.clear()
                    if await self._drain(conn) < BATCH:
                        await loops.wake_or_sleep(self._wake, 1.0)
            finally:
                await conn.remove_listener(f"{self.schema}_outbox", self._notified)
                await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"{self.schema}.outbox")

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _drain(self, conn: Conn) -> int:
        rows = await conn.fetch(
            "SELECT seq, topic, key, headers, payload, attempts FROM outbox ORDER BY seq LIMIT $1", BATCH
        )
        if not rows:
            return 0
        # enqueue one by one (keeps seq order per partition), then wait for every acknowledgement together; a row
        # refused before it left for a passing reason (no metadata yet, a full buffer) holds back the rows after it,
        # which would overtake it (once a row has left, the idempotent producer keeps a partition's order itself)
        deliveries: list[asyncio.Future[Any]] = []
        for row in rows:
            deliveries.append(delivery := await self._send(row))
            if delivery.done() and (error := delivery.exception()) is not None and not row_fault(error):
                rows = rows[: len(deliveries)]
                break
        outcomes = await asyncio.gather(*deliveries, return_exceptions=True)
        sent = [r["seq"] for r, outcome in zip(rows, outcomes, strict=True) if not isinstance(outcome, BaseException)]
        await conn.execute("DELETE FROM outbox WHERE seq = ANY($1::bigint[])", sent)
        refused = [(r, o) for r, o in zip(rows, outcomes, strict=True) if isinstance(o, BaseException)]
        for row, error in refused:
            await self._refused(conn, row=row, error=error)
        waiting = [error for _, error in refused if not row_fault(error)]
        if waiting:
            log.warning("outbox.waiting", schema=self.schema, rows=len(waiting), error=repr(waiting[0]))
        if any(_producer_broken(error) for error in waiting):
            await renew_producer(self.broker)
        log.debug("outbox.published", count=len(sent), refused=len(refused))
        if refused:
            await asyncio.sleep(1)  # the broker is away or refusing: no tight loop over the same rows
        return len(rows)

    async def _send(self, row: asyncpg.Record) -> "asyncio.Future[Any]":
        try:
            with tracing.restored(row["headers"].get("traceparent")):  # the trace of the span that wrote the row
                delivery: asyncio.Future[Any] = await self.broker.publish(
                    row["payload"],
                    topic=f"{self.prefix}{row['topic']}",
                    key=row["key"].encode(),
                    headers=row["headers"],
                    no_confirm=True,
                )
        except Exception as exc:  # refused before it left (too large for the producer, say)
            delivery = asyncio.get_running_loop().create_future()
            delivery.set_exception(exc)
        return delivery

    async def _refused(self, conn: Conn, *, row: asyncpg.Record, error: BaseException) -> None:
        if not row_fault(error):
            return  # the broker is away or the producer out of step: the row waits, in order, and is never parked
        attempts = row["attempts"] + 1
        if attempts < PARK_AFTER:
            await conn.execute(
                "UPDATE outbox SET attempts = $2, last_error = $3 WHERE seq = $1", row["seq"], attempts, repr(error)
            )
            return
        async with conn.transaction():
            await conn.execute(
                """
                INSERT INTO outbox_parked (seq, topic, key, headers, payload, created_at, attempts, error)
                SELECT seq, topic, key, headers, payload, created_at, $2, $3 FROM outbox WHERE seq = $1
                ON CONFLICT (seq) DO NOTHING
                """,
                row["seq"],
                attempts,
                repr(error),
            )
            await conn.execute("DELETE FROM outbox WHERE seq = $1", row["seq"])
        log.error("outbox.parked", seq=row["seq"], topic=row["topic"], key=row["key"], error=repr(error))
