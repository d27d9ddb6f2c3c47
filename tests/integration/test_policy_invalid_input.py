"""Input that only the database or a library refuses, sent to policy directly (past the gateway's bounds): a
name too long for its unique index, an integer out of its column's range. Each becomes a `CommandRejected`
(`invalid`), which the caller sees, and nothing goes to a dead-letter topic."""

import uuid
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr
from tests.integration.test_policy_bulk_syncs import answered, caused_by, definition, pg_configuration, send
from tests.support.infra import read_topic, unique

from syncline_contracts.connections import CreateConnection
from syncline_contracts.syncs import CreateBulkSync
from syncline_contracts.topics import (
    CONNECTION_COMMANDS,
    CONNECTION_EVENTS,
    CONNECTOR_COMMANDS,
    SYNC_COMMANDS,
    SYNC_EVENTS,
)
from syncline_platform.kafka import build_broker
from syncline_platform.secrets import Sealer
from syncline_platform.settings import KafkaSettings
from syncline_policy.main import build_app
from syncline_policy.settings import PolicySettings

pytestmark = pytest.mark.integration


def incompressible(length: int) -> str:
    text = ""
    while len(text) < length:
        text += uuid.uuid4().hex
    return text[:length]


async def test_refused_input_is_rejected_not_dead_lettered(
    database: str, kafka: KafkaSettings, secret_key: str, source_database: str, source_schema: str
) -> None:
    app = build_app(PolicySettings(database_url=SecretStr(database), kafka=kafka, secret_key=SecretStr(secret_key)))
    await app.start()
    client = build_broker(kafka, service="test-client")
    await client.start()
    connection_id = unique("conn")
    try:
        too_long = await send(
            client,
            kafka,
            CONNECTION_COMMANDS,
            CreateConnection(
                connection_id=unique("long"),
                name=incompressible(5000),
                connection_type="postgresql",
                configuration=pg_configuration(source_database),
            ),
        )
        created = await send(
            client,
            kafka,
            CONNECTION_COMMANDS,
            CreateConnection(
                connection_id=connection_id,
                name=unique("pg"),
                connection_type="postgresql",
                configuration=pg_configuration(source_database),
                sealed_secrets={
                    "password": Sealer(SecretStr(secret_key)).seal(urlsplit(source_database).password or "")
                },
            ),
        )
        await answered(kafka, CONNECTION_EVENTS, created)  # the sync below needs it
        connection_events = await answered(kafka, CONNECTION_EVENTS, too_long)
        out_of_range = await send(
            client,
            kafka,
            SYNC_COMMANDS,
            CreateBulkSync(
                sync_id=unique("sync"),
                definition=definition(connection_id, source_schema, concurrency_limit=3_000_000_000),
            ),
        )
        sync_events = await answered(kafka, SYNC_EVENTS, out_of_range)
        dead = [
            r
            for topic in (CONNECTION_COMMANDS, SYNC_COMMANDS, CONNECTOR_COMMANDS)
            for r in await read_topic(topic.dlq(kafka.topic_prefix), until=lambda _: False, timeout_s=2)
        ]
    finally:
        await client.stop()
        await app.stop()

    [long_rejected] = caused_by(connection_events, too_long)
    assert (long_rejected["type"], long_rejected["code"]) == ("syncline.command.rejected", "invalid")
    assert long_rejected["reason"].startswith("invalid value: ")
    [range_rejected] = caused_by(sync_events, out_of_range)
    assert (range_rejected["type"], range_rejected["code"]) == ("syncline.command.rejected", "invalid")
    assert "3000000000" in range_rejected["reason"]
    assert dead == []
