"""A dependency down for longer than the retries loses nothing: policy's database goes away (its connections
reset, new ones refused) while a command waits, for longer than the old retry budget; the command is handled
once the database is back, its outcome comes, and nothing goes to a dead-letter topic."""

import asyncio
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from pydantic import SecretStr
from tests.integration.test_policy_bulk_syncs import answered, caused_by, pg_configuration, send
from tests.support.infra import read_topic, unique
from tests.support.proxy import TcpProxy

from syncline_contracts.connections import CreateConnection
from syncline_contracts.topics import CONNECTION_COMMANDS, CONNECTION_EVENTS
from syncline_platform.consumer import backoff_s
from syncline_platform.errors import UnavailableError, is_transient
from syncline_platform.kafka import build_broker
from syncline_platform.settings import KafkaSettings
from syncline_policy.main import build_app
from syncline_policy.settings import PolicySettings

pytestmark = pytest.mark.integration

OUTAGE_S = 6.0
"""Longer than the whole retry budget before (5 tries, 0.05 s doubling: under a second) and than the hold below,
so the message is also rewound and delivered again while the database is away."""


def _through(database: str, port: int) -> str:
    parts = urlsplit(database)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


async def test_a_database_outage_loses_no_command(database: str, kafka: KafkaSettings, secret_key: str) -> None:
    parts = urlsplit(database)
    proxy = TcpProxy(host=parts.hostname or "127.0.0.1", port=parts.port or 5432)
    port = await proxy.start()
    patient = kafka.model_copy(update={"retry_cap_s": 0.5, "transient_hold_s": 2.0})
    app = build_app(
        PolicySettings(
            database_url=SecretStr(_through(database, port)), kafka=patient, secret_key=SecretStr(secret_key)
        )
    )
    await app.start()
    client = build_broker(kafka, service="test-client")
    await client.start()
    connection_id = unique("conn")
    try:
        proxy.cut()
        created = await send(
            client,
            kafka,
            CONNECTION_COMMANDS,
            CreateConnection(
                connection_id=connection_id,
                name=unique("pg"),
                connection_type="postgresql",
                configuration=pg_configuration(database),
            ),
        )
        await asyncio.sleep(OUTAGE_S)
        proxy.restore()
        events = await answered(kafka, CONNECTION_EVENTS, created)
        dead = await read_topic(CONNECTION_COMMANDS.dlq(kafka.topic_prefix), until=lambda _: False, timeout_s=2)
    finally:
        await client.stop()
        await app.stop()
        await proxy.stop()

    [outcome] = caused_by(events, created)
    assert (outcome["type"], outcome["result"]) == ("syncline.connection.configured", "created")
    assert dead == []
    conn = await asyncpg.connect(database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM policy.connections WHERE id = $1", connection_id) == 1
    finally:
        await conn.close()


def test_what_counts_as_the_infrastructure_failing() -> None:
    assert is_transient(ConnectionRefusedError())
    assert is_transient(asyncpg.exceptions.CannotConnectNowError("starting up"))
    assert is_transient(UnavailableError(dependency="postgres", detail="down"))
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = ConnectionResetError("reset")
    assert is_transient(wrapped)
    assert not is_transient(ValueError("bad input"))
    assert not is_transient(FileNotFoundError("gone"))
    assert not is_transient(asyncpg.exceptions.UniqueViolationError("dup"))
    delays = [backoff_s(attempt=n, first_s=0.2, cap_s=30) for n in range(1, 30)]
    assert all(0 <= d <= 30 for d in delays)
    assert max(delays[10:]) > 1  # it grows, and stays capped
