"""Real infrastructure for tests: isolated databases on the PostgreSQL server and a topic prefix on the broker."""

import asyncio
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka import AIOKafkaConsumer
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._acl import AclBinding, AclOperation, AclPermissionType
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType
from confluent_kafka.admin._scram import ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion

from syncline_platform.kafka import client_options, confluent_options, resolve_auth
from syncline_platform.settings import DEFAULT_DATABASE_URL, KafkaSettings, with_local_password


def database_url() -> str:
    """The server tests run against (`SYNCLINE_DATABASE_URL` or the local cluster), with the local cluster's
    superuser password when the DSN names none."""
    return with_local_password(os.environ.get("SYNCLINE_DATABASE_URL", DEFAULT_DATABASE_URL))


def bootstrap_servers() -> str:
    """The broker tests run against."""
    return os.environ.get("SYNCLINE_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:19092")


def kafka_settings(**update: object) -> KafkaSettings:
    """The services' Kafka settings for the broker tests run against (`SYNCLINE_KAFKA__…`: bootstrap servers,
    SASL), the credentials a secured local broker wrote otherwise."""
    settings = KafkaSettings(bootstrap_servers=bootstrap_servers())
    names = ("security_protocol", "sasl_mechanism", "sasl_username", "sasl_password", "ssl_cafile", "credentials_file")
    found = {
        n: os.environ[f"SYNCLINE_KAFKA__{n.upper()}"] for n in names if f"SYNCLINE_KAFKA__{n.upper()}" in os.environ
    }
    return KafkaSettings.model_validate(settings.model_dump() | found | update)


CUSTOMER = "customer"
"""The principal tests' Kafka destinations use on a secured test broker, as a customer's own cluster's user."""
CUSTOMER_PASSWORD = "customer-secret"
_customers: set[str] = set()


def ensure_customer(settings: KafkaSettings) -> None:
    """Make the customer principal (once per broker and process): every topic and group but Syncline's own
    (named `syncline…`), which a DENY keeps from it whatever else is allowed."""
    if settings.bootstrap_servers in _customers:
        return
    admin = AdminClient(confluent_options(settings))
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
    for future in admin.alter_user_scram_credentials(
        [UserScramCredentialUpsertion(CUSTOMER, info, CUSTOMER_PASSWORD.encode())]
    ).values():
        future.result()
    who, allow, deny = f"User:{CUSTOMER}", AclPermissionType.ALLOW, AclPermissionType.DENY
    literal, prefixed = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
    bindings = [
        AclBinding(ResourceType.TOPIC, "*", literal, who, "*", AclOperation.ALL, allow),
        AclBinding(ResourceType.GROUP, "*", literal, who, "*", AclOperation.ALL, allow),
        AclBinding(ResourceType.BROKER, "kafka-cluster", literal, who, "*", AclOperation.IDEMPOTENT_WRITE, allow),
        AclBinding(ResourceType.TOPIC, "syncline", prefixed, who, "*", AclOperation.ALL, deny),
        AclBinding(ResourceType.GROUP, "syncline", prefixed, who, "*", AclOperation.ALL, deny),
    ]
    for future in admin.create_acls(bindings).values():
        future.result()
    _customers.add(settings.bootstrap_servers)


def kafka_destination() -> dict[str, str]:
    """A tenant's Kafka connection configuration pointing at the test broker: no credentials on a PLAINTEXT
    broker; on a secured one, the customer principal's (which cannot reach Syncline's own topics)."""
    settings = kafka_settings()
    if not resolve_auth(settings).sasl:
        return {"bootstrap_servers": settings.bootstrap_servers}
    ensure_customer(settings)
    return {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": CUSTOMER,
        "sasl_password": CUSTOMER_PASSWORD,
    }


def kafka_options(**update: object) -> dict[str, object]:
    """Keyword arguments for a test's own aiokafka client (consumer, producer, admin), authenticated as the
    services when the broker is secured: the one place tests build them."""
    return client_options(kafka_settings(**update))


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
    consumer = AIOKafkaConsumer(topic, **kafka_options(), auto_offset_reset="earliest", enable_auto_commit=False)
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


def pg_config(database: str, **changes: Any) -> dict[str, Any]:
    """A PostgreSQL connection's configuration, in Polytomic's keys."""
    server = urlsplit(database_url())
    config = {
        "hostname": server.hostname,
        "port": server.port,
        "username": server.username,
        "password": server.password or "never-echoed",  # a trusting server takes any
        "database": database,
        "ssl": False,
    }
    return config | changes
