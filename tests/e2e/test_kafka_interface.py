"""Kafka as a tenant interface, with plain aiokafka clients as an organisation writes them, on a secured broker of
the module's own (SASL/SCRAM-SHA-512, StandardAuthorizer): organisation A creates and starts a sync by producing to
its commands topic with its key pair and reads `run.completed` on its events topic (the destination rows are
checked); B's credentials can neither read A's events nor write A's commands; an unauthenticated client and a
revoked key are refused; a forged `org_id` header changes nothing; a malformed command is answered
`command.rejected` and the next one still works."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError
from tests.e2e.polytomic_support import connection, polytomic, wait_for_policy
from tests.support.infra import CUSTOMER, CUSTOMER_PASSWORD, create_database, drop_database, ensure_customer, unique
from tests.support.secured_kafka import SecuredBroker, secured_broker, secured_system, tenant_topics
from tests.support.system import System

pytestmark = pytest.mark.e2e

ROWS = 10


@pytest.fixture(scope="module")
async def broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SecuredBroker]:
    async with secured_broker(tmp_path_factory.mktemp("kafka-secured")) as running:
        yield running


@pytest.fixture(scope="module")
async def kafka_system(broker: SecuredBroker, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    root = Path(__file__).resolve().parents[2] / ".local" / "test-logs"
    async with secured_system(broker, log_dir=root, files_root=tmp_path_factory.getbasetemp()) as system:
        system.start()
        yield system


def organisation(system: System, name: str) -> dict[str, str]:
    """A new organisation and its first key pair (whose broker principal is made with it)."""
    org = system.admin("create-org", name)
    return system.admin("create-key", "--org", org["id"])


async def produce(
    broker: SecuredBroker,
    key: dict[str, str],
    topic: str,
    *,
    ce_type: str,
    body: bytes | dict[str, Any],
    extra: dict[str, str] | None = None,
) -> str:
    """Publish one command as an organisation does (CloudEvents binary mode); its `ce_id`."""
    ce_id = str(uuid.uuid4())
    headers = {"ce_id": ce_id, "ce_type": ce_type, "ce_source": "/e2e", "ce_specversion": "1.0"}
    headers |= {"content-type": "application/json"} | (extra or {})
    value = body if isinstance(body, bytes) else json.dumps(body).encode()
    producer = AIOKafkaProducer(**broker.tenant_options(key), acks="all")
    try:
        await producer.start()
        await producer.send_and_wait(
            topic, value, key=ce_id.encode(), headers=[(k, v.encode()) for k, v in headers.items()]
        )
    finally:
        await producer.stop()
    return ce_id


class Events:
    """An organisation's events topic read through its own consumer group."""

    def __init__(self, broker: SecuredBroker, key: dict[str, str], system: System) -> None:
        topics = tenant_topics(system, key["org_id"])
        self.consumer = AIOKafkaConsumer(
            topics.events,
            **broker.tenant_options(key),
            group_id=f"{topics.base}e2e-{uuid.uuid4().hex[:6]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        self.seen: list[tuple[str | None, dict[str, str], dict[str, Any]]] = []

    async def __aenter__(self) -> "Events":
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def until(
        self, found: Callable[[str | None, dict[str, str], dict[str, Any]], bool], timeout_s: float = 60.0
    ) -> tuple[str | None, dict[str, str], dict[str, Any]]:
        """The first event (key, headers, body) that `found` accepts."""
        async with asyncio.timeout(timeout_s):
            while True:
                match = next((event for event in self.seen if found(*event)), None)
                if match is not None:
                    return match
                for records in (await self.consumer.getmany(timeout_ms=300)).values():
                    self.seen += [
                        (r.key.decode() if r.key else None, {k: v.decode() for k, v in r.headers}, json.loads(r.value))
                        for r in records
                    ]

    async def outcome(self, command_id: str) -> dict[str, Any]:
        """The answer to a command: its type and body."""
        try:
            _, headers, body = await self.until(lambda _k, _h, b: b.get("command_id") == command_id)
        except TimeoutError:
            raise AssertionError(f"no answer to {command_id} among {self.seen}") from None
        return {"type": headers["ce_type"], **body}


async def seeded_source() -> tuple[str, str]:
    database = unique("kafka_src")
    dsn = await create_database(database)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL);"
            f"INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, {ROWS}) g"
        )
    finally:
        await conn.close()
    return database, dsn


@pytest.fixture(scope="module")
async def org_a(kafka_system: System) -> AsyncIterator[dict[str, Any]]:
    """Organisation A with a sync made over Kafka is made by the first test; its databases live for the module."""
    key = organisation(kafka_system, "kafka-a")
    source, _ = await seeded_source()
    target = unique("kafka_dst")
    target_dsn = await create_database(target)
    with polytomic(kafka_system, token=key["encoded"]) as api:
        wait_for_policy(api)
        connections = {"source": connection(api, source, "source"), "target": connection(api, target, "target")}
    try:
        yield {"key": key, "target_dsn": target_dsn, **connections}
    finally:
        await drop_database(target)
        await drop_database(source)


@pytest.fixture(scope="module")
def org_b(kafka_system: System) -> dict[str, str]:
    return organisation(kafka_system, "kafka-b")


def create_body(org: dict[str, Any], name: str) -> dict[str, Any]:
    return {
        "definition": {
            "name": name,
            "source_connection_id": org["source"],
            "destination_connection_id": org["target"],
            "destination_configuration": {"schema": "copy"},
            "schedules": [],
            "schemas": [{"id": "public.items", "enabled": True}],
        }
    }


async def test_a_creates_and_runs_a_sync_over_kafka(
    broker: SecuredBroker, kafka_system: System, org_a: dict[str, Any]
) -> None:
    key = org_a["key"]
    commands = tenant_topics(kafka_system, key["org_id"]).commands
    async with Events(broker, key, kafka_system) as events:
        created = await produce(
            broker, key, commands, ce_type="syncline.tenant.sync.create", body=create_body(org_a, "over kafka")
        )
        accepted = await events.outcome(created)
        assert accepted["type"] == "syncline.command.accepted", accepted
        assert not accepted["pending"]
        sync_id = accepted["resource_id"]
        org_a["sync_id"] = sync_id

        started = await produce(broker, key, commands, ce_type="syncline.tenant.run.start", body={"sync_id": sync_id})
        run = await events.outcome(started)
        assert run["type"] == "syncline.command.accepted", run
        assert run["sync_id"] == sync_id
        run_id = run["resource_id"]

        def completed(k: str | None, headers: dict[str, str], body: dict[str, Any]) -> bool:
            return headers["ce_type"] in {"syncline.run.completed", "syncline.run.failed"} and body["run_id"] == run_id

        key_of, headers, body = await events.until(completed)
    assert headers["ce_type"] == "syncline.run.completed", body
    assert key_of == sync_id
    mine = [e for e in events.seen if e[2].get("run_id") == run_id and e[1]["ce_type"].startswith("syncline.run.")]
    assert mine[0][1]["ce_type"] == "syncline.run.started"
    assert all(e[0] == sync_id for e in mine)
    conn = await asyncpg.connect(org_a["target_dsn"])
    try:
        rows = await conn.fetch("SELECT id, name FROM copy.items ORDER BY id")
    finally:
        await conn.close()
    assert [(r["id"], r["name"]) for r in rows] == [(i, f"item {i}") for i in range(1, ROWS + 1)]


async def test_b_cannot_read_or_write_a_topics(
    broker: SecuredBroker, kafka_system: System, org_a: dict[str, Any], org_b: dict[str, str]
) -> None:
    a_topics = tenant_topics(kafka_system, org_a["key"]["org_id"])
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(broker, org_b, a_topics.commands, ce_type="syncline.tenant.run.start", body={"sync_id": "x"})
    own = tenant_topics(kafka_system, org_b["org_id"])
    consumer = AIOKafkaConsumer(
        a_topics.events, **broker.tenant_options(org_b), group_id=f"{own.base}snoop", auto_offset_reset="earliest"
    )
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await consumer.start()
    finally:
        await consumer.stop()
    # nor reach the services' own topics
    internal = kafka_system.topic("syncline.runs.events.v1")
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(broker, org_b, internal, ce_type="syncline.run.completed", body={})


async def test_an_unauthenticated_client_is_refused(broker: SecuredBroker) -> None:
    plain = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, request_timeout_ms=5000)
    with pytest.raises(KafkaConnectionError):
        await plain.start()
    await plain.stop()
    wrong = AIOKafkaProducer(**broker.tenant_options({"id": "SLNOBODY", "secret": "guess"}), request_timeout_ms=5000)
    with pytest.raises(KafkaConnectionError):
        await wrong.start()
    await wrong.stop()


async def test_a_forged_org_id_header_changes_nothing(
    broker: SecuredBroker, kafka_system: System, org_a: dict[str, Any], org_b: dict[str, str]
) -> None:
    """B names A in the header and A's sync in the body, on its own commands topic: the bridge takes B's
    organisation from the topic, so A's sync is not found and nothing of A's runs."""
    sync_id = org_a["sync_id"]
    b_commands = tenant_topics(kafka_system, org_b["org_id"]).commands
    async with httpx.AsyncClient(
        base_url=kafka_system.url, headers={"Authorization": f"Bearer {org_a['key']['encoded']}"}, timeout=30
    ) as v1:
        before = (await v1.get("/v1/runs", params={"sync_id": sync_id})).json()["data"]
        async with Events(broker, org_b, kafka_system) as events:
            forged = await produce(
                broker,
                org_b,
                b_commands,
                ce_type="syncline.tenant.run.start",
                body={"sync_id": sync_id},
                extra={"org_id": org_a["key"]["org_id"]},
            )
            answer = await events.outcome(forged)
        after = (await v1.get("/v1/runs", params={"sync_id": sync_id})).json()["data"]
    assert answer["type"] == "syncline.command.rejected"
    assert answer["code"] == "not_found"
    assert after == before


async def test_a_malformed_command_is_rejected_and_the_next_works(
    broker: SecuredBroker, kafka_system: System, org_a: dict[str, Any]
) -> None:
    key = org_a["key"]
    commands = tenant_topics(kafka_system, key["org_id"]).commands
    async with Events(broker, key, kafka_system) as events:
        garbage = await produce(broker, key, commands, ce_type="syncline.tenant.run.start", body=b"{not json")
        unknown = await produce(broker, key, commands, ce_type="syncline.tenant.teleport", body={})
        missing = await produce(broker, key, commands, ce_type="syncline.tenant.run.start", body={})
        valid = await produce(
            broker, key, commands, ce_type="syncline.tenant.sync.create", body=create_body(org_a, "after garbage")
        )
        answers = [await events.outcome(c) for c in (garbage, unknown, missing, valid)]
    assert [a["type"] for a in answers[:3]] == ["syncline.command.rejected"] * 3
    assert all(a["code"] == "invalid" for a in answers[:3])
    assert "JSON" in answers[0]["reason"]
    assert "teleport" in answers[1]["reason"]
    assert "sync_id" in answers[2]["reason"]
    assert answers[3]["type"] == "syncline.command.accepted", answers[3]


async def test_a_revoked_key_can_no_longer_connect(
    broker: SecuredBroker, kafka_system: System, org_a: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(
        base_url=kafka_system.url, headers={"Authorization": f"Bearer {org_a['key']['encoded']}"}, timeout=30
    ) as v1:
        made = await v1.post("/v1/keys")
        assert made.status_code == 201, made.text
        second = made.json() | {"org_id": org_a["key"]["org_id"]}
        commands = tenant_topics(kafka_system, second["org_id"]).commands
        await produce(broker, second, commands, ce_type="syncline.tenant.teleport", body={})  # it works
        revoked = await v1.delete(f"/v1/keys/{second['id']}")
        assert revoked.status_code == 200, revoked.text
    with pytest.raises(KafkaConnectionError):
        await produce(broker, second, commands, ce_type="syncline.tenant.teleport", body={})


async def test_the_customer_principal_of_tests_destinations_cannot_reach_syncline_topics(
    broker: SecuredBroker, kafka_system: System
) -> None:
    """Tests' Kafka destinations on a secured broker use a customer principal (`infra.kafka_destination`): it
    writes its own topics, never Syncline's."""
    ensure_customer(broker.settings())
    customer = {"id": CUSTOMER, "secret": CUSTOMER_PASSWORD}
    await produce(broker, customer, unique("customer_topic"), ce_type="row", body={"id": 1})
    for internal in ("syncline.runs.commands.v1", "syncline.runs.events.v1"):
        with pytest.raises(TopicAuthorizationFailedError):
            await produce(broker, customer, kafka_system.topic(internal), ce_type="syncline.run.create", body={})
