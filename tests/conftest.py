"""Fixtures shared by the integration and e2e suites: real PostgreSQL databases and a real Kafka broker."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from syncline_platform.kafka import delete_topics
from syncline_platform.settings import KafkaSettings
from tests.support.infra import bootstrap_servers, create_database, drop_database, unique
from tests.support.system import System, make_system

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    """The four services as processes, with their own databases, topic prefix and one organisation's key. Their
    files root is the session's base temporary folder, so a test's `tmp_path` is a folder they may use."""
    name = unique("syncline_e2e")
    await create_database(name)
    await create_database(f"{name}_data")
    sys_ = make_system(
        database=name,
        docstore=f"{name}_data",
        prefix=f"{name}.",
        log_dir=ROOT / ".local" / "test-logs" / name,
        files_root=tmp_path_factory.getbasetemp(),
    )
    try:
        org = sys_.admin("create-org", "e2e")
        sys_.key = sys_.admin("create-key", "--org", org["id"])
        sys_.start()
        yield sys_
    finally:
        sys_.stop()
        await delete_topics(KafkaSettings(bootstrap_servers=bootstrap_servers(), topic_prefix=sys_.topic_prefix))
        await drop_database(f"{name}_data")
        await drop_database(name)


@pytest.fixture
async def source_db() -> AsyncIterator[tuple[str, str]]:
    """A fresh source database: (name, DSN); dropped afterwards."""
    name = unique("source")
    dsn = await create_database(name)
    try:
        yield name, dsn
    finally:
        await drop_database(name)
