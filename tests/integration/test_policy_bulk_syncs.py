"""Policy's connections and bulk syncs in-process over real Kafka and PostgreSQL: commands in; state, the
outcome events and `SchedulesConfigured` (in the command's transaction, caused by it) out."""

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from faststream.kafka import KafkaBroker
from pydantic import SecretStr
from tests.support.infra import Record, read_topic, unique

from syncline_contracts.base import Message
from syncline_contracts.connections import CreateConnection, DeleteConnection
from syncline_contracts.envelope import Envelope
from syncline_contracts.schedules import SyncDeactivated
from syncline_contracts.syncs import (
    ActivateBulkSync,
    BulkSyncDefinition,
    BulkSyncObject,
    BulkSyncSchedule,
    CreateBulkSync,
    ObjectField,
)
from syncline_contracts.topics import CONNECTION_COMMANDS, CONNECTION_EVENTS, SYNC_COMMANDS, SYNC_EVENTS, Topic
from syncline_platform.kafka import build_broker, publish
from syncline_platform.secrets import Sealer
from syncline_platform.settings import KafkaSettings
from syncline_policy.main import build_app
from syncline_policy.settings import PolicySettings

pytestmark = pytest.mark.integration
ORG = "org-it"


async def send(client: KafkaBroker, kafka: KafkaSettings, topic: Topic, message: Message) -> Envelope:
    envelope = Envelope(ce_type=message.wire_type(), ce_source="/test", org_id=ORG)
    await publish(client, topic=topic, message=message, envelope=envelope, prefix=kafka.topic_prefix)
    return envelope


async def answered(kafka: KafkaSettings, topic: Topic, envelope: Envelope) -> list[Record]:
    """The topic's records up to the first one `envelope`'s command caused (which must come)."""
    records = await read_topic(
        topic.qualified(kafka.topic_prefix),
        until=lambda rs: any(r.headers.get("causation_id") == envelope.ce_id for r in rs),
        timeout_s=60,
    )
    assert any(r.headers.get("causation_id") == envelope.ce_id for r in records), f"no answer to {envelope.ce_type}"
    return records


def caused_by(records: list[Record], envelope: Envelope) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records if r.headers.get("causation_id") == envelope.ce_id]


async def settled(database: str, sync_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The sync's row once it is inactive, and its objects."""
    conn = await asyncpg.connect(database)
    try:
        async with asyncio.timeout(60):
            while True:
                row = await conn.fetchrow("SELECT * FROM policy.syncs WHERE id = $1", sync_id)
                if row is not None and not row["active"]:
                    break
                await asyncio.sleep(0.05)
        objects = await conn.fetch("SELECT * FROM policy.sync_objects WHERE sync_id = $1 ORDER BY position", sync_id)
    finally:
        await conn.close()
    return dict(row), [dict(o) for o in objects]


def pg_configuration(database: str) -> dict[str, Any]:
    parts = urlsplit(database)
    return {
        "hostname": parts.hostname,
        "port": parts.port,
        "username": parts.username,
        "database": parts.path.lstrip("/"),
    }


def definition(connection_id: str, schema: str, **changes: Any) -> BulkSyncDefinition:
    values: dict[str, Any] = {
        "name": unique("sync"),
        "source_connection_id": connection_id,
        "destination_connection_id": connection_id,
        "active": True,
        "mode": "replicate",
        "destination_configuration": {"schema": "copy"},
        "schedules": (
            BulkSyncSchedule(schedule_id="d", is_default=True, frequency="daily", hour="3", minute="0"),
            BulkSyncSchedule(schedule_id="c", frequency="continuous", selective_mode="incrementalFields"),
        ),
        "schemas": (BulkSyncObject(id=f"{schema}.items", fields=(ObjectField(id="secret", enabled=False),)),),
    }
    return BulkSyncDefinition(**(values | changes))


async def test_bulk_syncs_through_policy(
    database: str, kafka: KafkaSettings, secret_key: str, source_database: str, source_schema: str
) -> None:
    app = build_app(PolicySettings(database_url=SecretStr(database), kafka=kafka, secret_key=SecretStr(secret_key)))
    await app.start()
    client = build_broker(kafka, service="test-client")
    await client.start()
    sealer = Sealer(SecretStr(secret_key))
    connection_id, sync_id, bad_id = unique("conn"), unique("sync"), unique("bad")
    try:
        created_connection = await send(
            client,
            kafka,
            CONNECTION_COMMANDS,
            CreateConnection(
                connection_id=connection_id,
                name=unique("pg"),
                connection_type="postgresql",
                configuration=pg_configuration(source_database),
                sealed_secrets={"password": sealer.seal(urlsplit(source_database).password or "")},
                check=True,
            ),
        )
        await answered(kafka, CONNECTION_EVENTS, created_connection)  # topics do not order each other
        create = CreateBulkSync(sync_id=sync_id, definition=definition(connection_id, source_schema))
        created = await send(client, kafka, SYNC_COMMANDS, create)
        redelivered = Envelope(ce_id=created.ce_id, ce_type=create.wire_type(), ce_source="/test", org_id=ORG)
        await publish(client, topic=SYNC_COMMANDS, message=create, envelope=redelivered, prefix=kafka.topic_prefix)
        invalid = await send(
            client,
            kafka,
            SYNC_COMMANDS,
            CreateBulkSync(
                sync_id=bad_id,
                definition=definition(
                    connection_id,
                    source_schema,
                    schedules=(BulkSyncSchedule(schedule_id="x", is_default=True, frequency="runafter"),),
                ),
            ),
        )
        paused = await send(client, kafka, SYNC_COMMANDS, ActivateBulkSync(sync_id=sync_id, active=False))
        resumed = await send(client, kafka, SYNC_COMMANDS, ActivateBulkSync(sync_id=sync_id, active=True))
        await answered(kafka, SYNC_EVENTS, resumed)  # so the deactivation below comes after it
        deactivated = SyncDeactivated(sync_id=sync_id, reason="failing", consecutive_failures=20, last_run_id="r")
        await send(client, kafka, SYNC_EVENTS, deactivated)
        sync_row, objects = await settled(database, sync_id)
        forced = await send(
            client, kafka, CONNECTION_COMMANDS, DeleteConnection(connection_id=connection_id, force=True)
        )
        connection_events = await answered(kafka, CONNECTION_EVENTS, forced)
        sync_events = await answered(kafka, SYNC_EVENTS, forced)
        conn = await asyncpg.connect(database)
        try:
            remaining = await conn.fetchval("SELECT count(*) FROM policy.syncs WHERE id = $1", sync_id)
        finally:
            await conn.close()
    finally:
        await client.stop()
        await app.stop()

    assert sync_row["active"] is False  # the scheduler's deactivation reached the definition
    [items] = [o for o in objects if o["enabled"]]
    assert items["output_name"] == "items"
    assert [(f["id"], f["enabled"]) for f in json.loads(items["fields"])] == [
        ("id", True),
        ("label", True),
        ("secret", False),
    ]

    [configured] = caused_by(connection_events, created_connection)
    assert (configured["type"], configured["status"]) == ("syncline.connection.configured", "healthy")

    outcome, schedules = caused_by(sync_events, created)  # the redelivery added nothing
    assert (outcome["type"], outcome["result"], outcome["active"]) == ("syncline.bulk_sync.configured", "created", True)
    assert schedules["type"] == "syncline.sync.schedules_configured"
    assert [(s["schedule_id"], s["kind"]) for s in schedules["schedules"]] == [("d", "daily"), ("c", "continuous")]
    assert schedules["schedules"][1]["every_minutes"] == 5
    assert schedules["schedules"][1]["selective_mode"] == "incrementalFields"

    [rejected] = caused_by(sync_events, invalid)
    assert (rejected["type"], rejected["code"]) == ("syncline.command.rejected", "invalid")
    assert "model syncs only" in rejected["reason"]

    _, pause_schedules = caused_by(sync_events, paused)
    assert pause_schedules["active"] is False

    deleted = caused_by(connection_events, forced)
    assert deleted[0]["deleted_sync_ids"] == [sync_id]
    gone, emptied = caused_by(sync_events, forced)
    assert gone["type"] == "syncline.bulk_sync.deleted"
    assert (emptied["schedules"], emptied["active"]) == ([], False)
    assert remaining == 0
