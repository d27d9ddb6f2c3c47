"""What the scheduler tests share: a database of their own (with policy's connectors and their compiled forms), the
scheduler in this process with a clock the test moves, and a Kafka client to configure syncs and report finished
runs.

The stand-in for an executor (`finish`) does what the executor does when a run ends: a guarded UPDATE of the
run and its terminal event on `syncline.runs.events.v1`.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from faststream.kafka import KafkaBroker
from pydantic import SecretStr
from tests.support.connectors import insert_connectors
from tests.support.infra import Record, create_database, drop_database, read_topic, unique

import syncline_policy
from syncline_contracts.base import Message
from syncline_contracts.envelope import Envelope
from syncline_contracts.runs import RunCanceled, RunCompleted, RunCounters, RunFailed
from syncline_contracts.schedules import RetryPolicy, Schedule, SchedulesConfigured
from syncline_contracts.topics import RUN_EVENTS, SYNC_EVENTS, Topic
from syncline_platform.kafka import build_broker, publish
from syncline_platform.migrations import apply_migrations
from syncline_platform.service import ServiceApp
from syncline_platform.settings import KafkaSettings
from syncline_scheduler.main import build_app
from syncline_scheduler.settings import SchedulerSettings

ORG = "org-sched"
POLICY_MIGRATIONS = Path(syncline_policy.__file__).parent / "migrations"


class FakeClock:
    """A clock that moves only when the test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


async def prepare_database(dsn: str) -> None:
    """Policy's schema (the scheduler reads connector definitions there)."""
    await apply_migrations(dsn=SecretStr(dsn), schema="policy", directory=POLICY_MIGRATIONS)


async def add_connectors(dsn: str, ids: Sequence[str], *, org_id: str = ORG) -> None:
    """Connector definitions, as policy stores them, for syncs the tests schedule."""
    conn = await asyncpg.connect(dsn)
    try:
        await insert_connectors(conn, org_id=org_id, ids=ids, status="configured")
    finally:
        await conn.close()


async def wait_for(check: Callable[[], Awaitable[Any]], *, timeout_s: float = 15.0, every_s: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy; that value."""
    async with asyncio.timeout(timeout_s):
        while True:
            value = await check()
            if value:
                return value
            await asyncio.sleep(every_s)


@dataclass
class Harness:
    """A scheduler in this process against its own database and topic prefix."""

    dsn: str
    kafka: KafkaSettings
    clock: FakeClock
    settings: SchedulerSettings
    client: KafkaBroker
    app: ServiceApp | None = None
    published: list[str] = field(default_factory=list)

    async def start(self) -> None:
        """Start (or start again) the scheduler."""
        self.app = build_app(self.settings, clock=self.clock)
        await self.app.start()

    async def stop(self) -> None:
        """Stop the scheduler (its state stays in the database)."""
        if self.app is not None:
            await self.app.stop()
            self.app = None

    async def send(self, topic: Topic, message: Message) -> Envelope:
        """Publish a message as another service would."""
        envelope = Envelope(ce_type=message.wire_type(), ce_source="/test", org_id=ORG)
        await publish(self.client, topic=topic, message=message, envelope=envelope, prefix=self.kafka.topic_prefix)
        return envelope

    async def configure(
        self,
        sync_id: str,
        *schedules: Schedule,
        retry: RetryPolicy | None = None,
        active: bool = True,
    ) -> None:
        """Announce a sync's schedules (as policy does) and wait until the scheduler stored them."""
        event = SchedulesConfigured(
            sync_id=sync_id,
            schedules=schedules,
            retry=retry or RetryPolicy(),
            active=active,
            configured_at=self.clock(),
        )
        envelope = await self.send(SYNC_EVENTS, event)
        await wait_for(lambda: self.val("SELECT 1 FROM scheduler.inbox WHERE message_id = $1", envelope.ce_id))

    async def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        conn = await asyncpg.connect(self.dsn)
        try:
            return [dict(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    async def val(self, sql: str, *args: Any) -> Any:
        conn = await asyncpg.connect(self.dsn)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    async def runs(self, sync_id: str) -> list[dict[str, Any]]:
        """The sync's runs, oldest first."""
        return await self.rows(
            "SELECT * FROM scheduler.runs WHERE sync_id = $1 ORDER BY created_at, attempt, id", sync_id
        )

    async def schedule(self, sync_id: str, schedule_id: str = "default") -> dict[str, Any]:
        rows = await self.rows(
            "SELECT * FROM scheduler.schedules WHERE sync_id = $1 AND schedule_id = $2", sync_id, schedule_id
        )
        return rows[0]

    async def tick_to(self, when: datetime) -> None:
        """Move the clock and wait until the scheduler's loop has been through a whole pass at that time."""
        self.clock.set(when)
        assert self.app is not None
        await asyncio.sleep(3 * self.settings.poll_interval_s + 0.1)

    async def wait_runs(self, sync_id: str, count: int, *, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        async def enough() -> list[dict[str, Any]] | None:
            runs = await self.runs(sync_id)
            return runs if len(runs) >= count else None

        runs: list[dict[str, Any]] = await wait_for(enough, timeout_s=timeout_s)
        return runs

    async def finish(self, run: dict[str, Any], *, status: str = "completed", error: str = "boom") -> None:
        """End a run as an executor does: a guarded UPDATE, then its terminal event."""
        moved = await self.val(
            """
            UPDATE scheduler.runs SET status = $2, error = $3, completed_at = now(), last_seen = now()
            WHERE id = $1 AND status IN ('pending', 'in_progress', 'canceling') RETURNING 1
            """,
            run["id"],
            status,
            error if status == "error" else None,
        )
        assert moved == 1
        ids = {"run_id": run["id"], "sync_id": run["sync_id"], "counters": RunCounters()}
        event: Message = {
            "completed": RunCompleted(**ids),
            "error": RunFailed(**ids, error=error),
            "canceled": RunCanceled(**ids),
        }[status]
        envelope = await self.send(RUN_EVENTS, event)
        await wait_for(lambda: self.val("SELECT 1 FROM scheduler.inbox WHERE message_id = $1", envelope.ce_id))

    async def events(self, topic: Topic, until: Callable[[list[dict[str, Any]]], bool], **kw: Any) -> list[Any]:
        """The topic's messages as (ce_type, body, record), read until `until(bodies)` holds."""
        records = await read_topic(topic.qualified(self.kafka.topic_prefix), until=lambda rs: until(decode(rs)), **kw)
        return decode(records)


def decode(records: list[Record]) -> list[dict[str, Any]]:
    """Kafka records as their JSON bodies, with `_ce` holding the headers."""
    return [{**json.loads(r.value), "_ce": r.headers} for r in records]


def of_type(bodies: list[dict[str, Any]], wire_type: str) -> list[dict[str, Any]]:
    return [b for b in bodies if b["type"] == wire_type]


@pytest.fixture(name="scheduler_db")
async def scheduler_db_fixture() -> AsyncIterator[str]:
    """A database of this test's own, with policy's schema in place."""
    name = unique("sched")
    dsn = await create_database(name)
    try:
        await prepare_database(dsn)
        yield dsn
    finally:
        await drop_database(name)


T0 = datetime(2031, 1, 15, 10, 20, 30, tzinfo=UTC)
"""Where the tests' clock starts: a Wednesday, mid-morning, mid-month."""


@pytest.fixture(name="harness")
async def harness_fixture(scheduler_db: str, kafka: KafkaSettings) -> AsyncIterator[Harness]:
    """A started scheduler whose clock starts at `T0`, with short loop and sweep intervals."""
    settings = SchedulerSettings(
        database_url=SecretStr(scheduler_db),
        kafka=kafka,
        instance_id="sched-test",
        poll_interval_s=0.05,
        reaper_interval_s=0.05,
        reaper_after_s=300,
        republish_after_s=60,
    )
    client = build_broker(kafka, service="test-client")
    await client.start()
    h = Harness(dsn=scheduler_db, kafka=kafka, clock=FakeClock(T0), settings=settings, client=client)
    await h.start()
    try:
        yield h
    finally:
        await h.stop()
        await client.stop()
