"""In-process services and platform pieces against a real broker and a real PostgreSQL database."""

from collections.abc import AsyncIterator

import asyncpg
import pytest
from tests.support.infra import bootstrap_servers, create_database, drop_database, unique
from tests.support.system import TEST_PARTITIONS

from syncline_platform.kafka import delete_topics
from syncline_platform.secrets import generate_key
from syncline_platform.settings import KafkaSettings


@pytest.fixture(scope="session")
async def database() -> AsyncIterator[str]:
    """A fresh database for the integration suite; dropped at the end."""
    name = unique("syncline_it")
    dsn = await create_database(name)
    try:
        yield dsn
    finally:
        await drop_database(name)


@pytest.fixture(scope="session")
async def source_database() -> AsyncIterator[str]:
    """A database to sync from, apart from the services' own (which no connection may reach)."""
    name = unique("syncline_src")
    dsn = await create_database(name)
    try:
        yield dsn
    finally:
        await drop_database(name)


@pytest.fixture
async def source_schema(source_database: str) -> AsyncIterator[str]:
    """A schema with one table in the source database."""
    schema = unique("src")
    conn = await asyncpg.connect(source_database)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(f'CREATE TABLE "{schema}".items (id integer PRIMARY KEY, label text, secret text)')
        yield schema
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


@pytest.fixture
async def kafka() -> AsyncIterator[KafkaSettings]:
    """Broker settings with a topic prefix of this test's own; its topics are deleted afterwards."""
    settings = KafkaSettings(
        bootstrap_servers=bootstrap_servers(),
        topic_prefix=f"{unique('it')}.",
        retry_backoff_s=0.05,
        max_partitions=TEST_PARTITIONS,
    )
    yield settings
    await delete_topics(settings)


@pytest.fixture
def secret_key() -> str:
    """A fresh sealing key."""
    return generate_key()
