"""The outbox: events are written in the transaction that produced them and published by a relay.

One relay per schema publishes at a time (a session advisory lock), in `seq` order, so a key's events keep
their order; a crash between publish and delete re-sends, and consumers dedupe on `ce_id`. Each row's delivery is
settled on its own: the acknowledged rows are deleted; a row the broker refuses for what it is (too large, say)
is tried `PARK_AFTER` times and then moved to `outbox_parked` with the reason, so it neither stalls the rows
after it nor makes the ones before it go out again; a row that fails because the broker is away waits for it.
"""

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from syncline_contracts.base import Message
from syncline_contracts.envelope import Envelope
from syncline_contracts.topics import Topic
from syncline_platform.db import Conn
from syncline_platform.errors import is_transient

log = structlog.get_logger(__name__)

BATCH = 500
PARK_AFTER = 3
"""Refusals of one row before it is parked."""


async def enqueue(conn: Conn, *, topic: Topic, message: Message, envelope: Envelope) -> None:
    """Write an event to the outbox; call inside the transaction whose effect it announces."""
    await enqueue_many(conn, items=[(topic, message, envelope)])


async def enqueue_many(conn: Conn, *, items: Sequence[tuple[Topic, Message, Envelope]]) -> None:
    """Write several events in one round trip, in order, and wake the relay once."""
    if not items:
        return
    await conn.executemany(
        "INSERT INTO outbox (topic, key, headers, payload) VALUES ($1, $2, $3, $4)",
        [(t.name, m.key, e.to_headers(), m.model_dump(mode="json")) for t, m, e in items],
    )
    await conn.execute("SELECT pg_notify(current_schema() || '_outbox', '')")


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
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), timeout=1.0)
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
        # enqueue one by one (keeps seq order per partition), then wait for every acknowledgement together
        deliveries = [await self._send(row) for row in rows]
        outcomes = await asyncio.gather(*deliveries, return_exceptions=True)
        sent = [r["seq"] for r, outcome in zip(rows, outcomes, strict=True) if not isinstance(outcome, BaseException)]
        await conn.execute("DELETE FROM outbox WHERE seq = ANY($1::bigint[])", sent)
        refused = [(r, o) for r, o in zip(rows, outcomes, strict=True) if isinstance(o, BaseException)]
        for row, error in refused:
            await self._refused(conn, row=row, error=error)
        log.debug("outbox.published", count=len(sent), refused=len(refused))
        if refused:
            await asyncio.sleep(1)  # the broker is away or refusing: no tight loop over the same rows
        return len(rows)

    async def _send(self, row: asyncpg.Record) -> "asyncio.Future[Any]":
        try:
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
        if is_transient(error):
            return  # the broker is away: the row waits for it, in order
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
