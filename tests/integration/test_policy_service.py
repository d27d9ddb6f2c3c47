"""The policy service in-process over real Kafka and PostgreSQL: commands in, state and outcome events out."""

import json

import asyncpg
import pytest
from pydantic import SecretStr
from tests.support.infra import read_topic

from syncline_contracts.connectors import ConfigureConnector, UpsertConnector
from syncline_contracts.envelope import Envelope
from syncline_contracts.topics import CONNECTOR_COMMANDS, CONNECTOR_EVENTS
from syncline_platform.kafka import build_broker, publish
from syncline_platform.settings import KafkaSettings
from syncline_policy.main import build_app
from syncline_policy.settings import PolicySettings

pytestmark = pytest.mark.integration


async def test_commands_change_state_once_and_poison_goes_to_the_dlq(
    database: str, kafka: KafkaSettings, secret_key: str
) -> None:
    app = build_app(PolicySettings(database_url=SecretStr(database), kafka=kafka, secret_key=SecretStr(secret_key)))
    await app.start()
    client = build_broker(kafka, service="test-client")
    await client.start()
    try:
        upsert = UpsertConnector(connector_id="c1", name="first", index_name="idx", service_type="postgresql")
        envelope = Envelope(ce_type=upsert.wire_type(), ce_source="/test", org_id="org-a", correlation_id="req-1")
        for _ in range(2):  # a redelivery: the same message id twice
            await publish(
                client, topic=CONNECTOR_COMMANDS, message=upsert, envelope=envelope, prefix=kafka.topic_prefix
            )
        bad_config = ConfigureConnector(connector_id="c1", values={"host": "h", "port": "not a port"})
        await publish(
            client,
            topic=CONNECTOR_COMMANDS,
            message=bad_config,
            envelope=Envelope(ce_type=bad_config.wire_type(), ce_source="/test", org_id="org-a"),
            prefix=kafka.topic_prefix,
        )
        missing = ConfigureConnector(connector_id="ghost", values={})
        await publish(
            client,
            topic=CONNECTOR_COMMANDS,
            message=missing,
            envelope=Envelope(ce_type=missing.wire_type(), ce_source="/test", org_id="org-a"),
            prefix=kafka.topic_prefix,
        )
        await client.publish(
            b"{not json",
            topic=CONNECTOR_COMMANDS.qualified(kafka.topic_prefix),
            key=b"c1",
            headers=Envelope(ce_type="syncline.connector.upsert", ce_source="/test").to_headers(),
        )

        events = await read_topic(CONNECTOR_EVENTS.qualified(kafka.topic_prefix), until=lambda rs: len(rs) >= 3)
        dlq = await read_topic(CONNECTOR_COMMANDS.dlq(kafka.topic_prefix), until=lambda rs: len(rs) >= 1)
        extra = await read_topic(
            CONNECTOR_EVENTS.qualified(kafka.topic_prefix), until=lambda rs: len(rs) > 3, timeout_s=2
        )
    finally:
        await client.stop()
        await app.stop()

    assert len(extra) == 3  # the redelivered command produced no second event
    bodies = [json.loads(r.value) for r in events]
    assert bodies[0]["type"] == "syncline.connector.configured"
    assert bodies[0]["result"] == "created"
    assert events[0].headers["causation_id"] == envelope.ce_id
    assert events[0].headers["correlation_id"] == "req-1"
    assert events[0].headers["org_id"] == "org-a"
    rejected = [b for b in bodies if b["type"] == "syncline.command.rejected"]
    assert {b["code"] for b in rejected} == {"invalid", "not_found"}
    assert any("port" in b["reason"] for b in rejected)
    assert len(dlq) == 1
    assert dlq[0].headers["x-dlq-reason"].startswith("undecodable")

    conn = await asyncpg.connect(database)
    try:
        rows = await conn.fetch("SELECT org_id, id, status, configuration FROM policy.connectors")
        handled = await conn.fetchval("SELECT count(*) FROM policy.inbox WHERE message_id = $1", envelope.ce_id)
    finally:
        await conn.close()
    assert [(r["org_id"], r["id"], r["status"]) for r in rows] == [("org-a", "c1", "created")]
    assert json.loads(rows[0]["configuration"]) == {}  # the rejected configuration left nothing behind
    assert handled == 1
