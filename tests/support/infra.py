"""Real infrastructure for tests: isolated databases on the PostgreSQL server and a topic prefix on the broker."""

import asyncio
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka import AIOKafkaConsumer

from syncline_platform.settings import DEFAULT_DATABASE_URL


def database_url() -> str:
    """The server tests run against (`SYNCLINE_DATABASE_URL` or the local cluster)."""
    return os.environ.get("SYNCLINE_DATABASE_URL", DEFAULT_DATABASE_URL)


def bootstrap_servers() -> str:
    """The broker tests run against."""
    return os.environ.get("SYNCLINE_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:19092")


def with_database(dsn: str, database: str) -> str:
    """`dsn` pointing at another database on the same server."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


async def create_database(name: str) -> str:
    """Create a fresh database; returns its DSN."""
    conn = await asyncpg.connect(with_database(database_url(), "postgres"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(database_url(), name)


async def drop_database(name: str) -> None:
    """Drop a test database (closing whatever still holds it)."""
    conn = await asyncpg.connect(with_database(database_url(), "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@dataclass(frozen=True)
class Record:
    """A consumed Kafka record, decoded."""

    topic: str
    key: str | None
    headers: dict[str, str]
    value: bytes


async def read_topic(topic: str, *, until: Callable[[list[Record]], bool], timeout_s: float = 20.0) -> list[Record]:
    """Read `topic` from the beginning until `until(records)` is true or the timeout passes."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap_servers(), auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Record] = []
    try:
        async with asyncio.timeout(timeout_s):
            while not until(records):
                batches = await consumer.getmany(timeout_ms=300)
                for batch in batches.values():
                    records.extend(
                        Record(
                            topic=r.topic,
                            key=r.key.decode() if r.key else None,
                            headers={k: v.decode() for k, v in r.headers},
                            value=r.value,
                        )
                        for r in batch
                    )
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return records
