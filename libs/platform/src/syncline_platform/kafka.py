"""The Kafka broker factory (acks=all, idempotent producer), topic creation from the registry, publishing, and
the client options (security protocol, SASL credentials) every Kafka client of the services is built with."""

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from syncline_contracts.base import Message
from syncline_contracts.envelope import Envelope
from syncline_contracts.topics import TOPICS, Topic
from syncline_platform import tracing
from syncline_platform.settings import KafkaSettings

log = structlog.get_logger(__name__)


CREDENTIALS_FILE = Path("kafka") / "credentials.json"
"""Where `deploy/local/kafka/kafka.sh` writes the services' credentials, below `$SYNCLINE_HOME` (`.local`)."""


@dataclass(frozen=True)
class KafkaAuth:
    """How the services authenticate to the broker, resolved from the settings or the local credentials file."""

    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = None
    ssl_cafile: Path | None = None

    @property
    def sasl(self) -> bool:
        """Whether clients authenticate with SASL."""
        return self.security_protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        """Whether connections are encrypted."""
        return self.security_protocol in ("SSL", "SASL_SSL")


def credentials_files(settings: KafkaSettings, *, environ: Mapping[str, str], cwd: Path) -> list[Path]:
    """Where the local broker's credentials may be, first match wins."""
    if settings.credentials_file is not None:
        return [settings.credentials_file]
    home = environ.get("SYNCLINE_HOME")
    return [*([Path(home) / CREDENTIALS_FILE] if home else []), cwd / ".local" / CREDENTIALS_FILE]


def _local_auth(settings: KafkaSettings, *, environ: Mapping[str, str], cwd: Path) -> KafkaAuth | None:
    for path in credentials_files(settings, environ=environ, cwd=cwd):
        try:
            found = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if found.get("bootstrap_servers") == settings.bootstrap_servers:
            return KafkaAuth(
                security_protocol=settings.security_protocol or found["security_protocol"],
                sasl_mechanism=found.get("sasl_mechanism", settings.sasl_mechanism),
                username=found["username"],
                password=found["password"],
                ssl_cafile=settings.ssl_cafile,
            )
    return None


def resolve_auth(
    settings: KafkaSettings, *, environ: Mapping[str, str] = os.environ, cwd: Path | None = None
) -> KafkaAuth:
    """The credentials set in `settings`; else those of the local broker when its credentials file names the same
    bootstrap servers; else none (PLAINTEXT, or the protocol set without SASL)."""
    if settings.sasl_username:
        return KafkaAuth(
            security_protocol=settings.security_protocol or "SASL_PLAINTEXT",
            sasl_mechanism=settings.sasl_mechanism,
            username=settings.sasl_username,
            password=settings.sasl_password.get_secret_value() if settings.sasl_password else "",
            ssl_cafile=settings.ssl_cafile,
        )
    local = _local_auth(settings, environ=environ, cwd=cwd or Path.cwd())
    if local is not None:
        return local
    return KafkaAuth(security_protocol=settings.security_protocol or "PLAINTEXT", ssl_cafile=settings.ssl_cafile)


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (consumer, producer, admin) of the services."""
    auth = resolve_auth(settings)
    options: dict[str, Any] = {"bootstrap_servers": settings.bootstrap_servers}
    options["security_protocol"] = auth.security_protocol
    if auth.tls:
        options["ssl_context"] = create_ssl_context(cafile=str(auth.ssl_cafile) if auth.ssl_cafile else None)
    if auth.sasl:
        options |= {
            "sasl_mechanism": auth.sasl_mechanism,
            "sasl_plain_username": auth.username,
            "sasl_plain_password": auth.password,
        }
    return options


def confluent_options(settings: KafkaSettings) -> dict[str, str | int | float | bool]:
    """The same options for a confluent-kafka (librdkafka) client."""
    auth = resolve_auth(settings)
    options: dict[str, str | int | float | bool] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "security.protocol": auth.security_protocol,
    }
    if auth.tls and auth.ssl_cafile:
        options["ssl.ca.location"] = str(auth.ssl_cafile)
    if auth.sasl:
        options |= {
            "sasl.mechanisms": auth.sasl_mechanism,
            "sasl.username": auth.username or "",
            "sasl.password": auth.password or "",
        }
    return options


def broker_security(settings: KafkaSettings) -> BaseSecurity | None:
    """The FastStream security object for the broker's clients (None: PLAINTEXT)."""
    auth = resolve_auth(settings)
    ssl = create_ssl_context(cafile=str(auth.ssl_cafile) if auth.ssl_cafile else None) if auth.tls else None
    if not auth.sasl:
        return BaseSecurity(ssl_context=ssl) if ssl is not None else None
    kinds: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
        "SCRAM-SHA-512": SASLScram512,
        "SCRAM-SHA-256": SASLScram256,
        "PLAIN": SASLPlaintext,
    }
    return kinds[auth.sasl_mechanism](
        username=auth.username or "", password=auth.password or "", ssl_context=ssl, use_ssl=auth.tls
    )


def build_broker(settings: KafkaSettings, *, service: str, middlewares: Sequence[Any] = ()) -> KafkaBroker:
    """A broker whose producer waits for all in-sync replicas and never duplicates on retry; with tracing on, its
    first middleware is FastStream's telemetry (a span per publish and per message, `traceparent` in headers)."""
    logger = logging.getLogger(f"syncline.{service}.kafka")
    logger.setLevel(logging.WARNING)  # per-message "Received/Processed" lines add nothing to our own logs
    return KafkaBroker(
        settings.bootstrap_servers,
        client_id=f"syncline-{service}",
        security=broker_security(settings),
        acks="all",
        enable_idempotence=True,
        middlewares=(*tracing.kafka_middlewares(), *middlewares),
        logger=logger,
    )


def group_id(settings: KafkaSettings, service: str) -> str:
    """The consumer group every replica of `service` joins."""
    return f"{settings.topic_prefix}syncline-{service}"


def subscription(settings: KafkaSettings, *, topic: Topic, service: str) -> dict[str, Any]:
    """Subscriber options for a service's group: offsets commit only after the handler (and its transaction)
    finished; a failure that escapes the consumer policy rewinds to the message."""
    return {
        "group_id": group_id(settings, service),
        "auto_offset_reset": "earliest",
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "title": f"{service}:{topic.name}",
    }


async def ensure_topics(settings: KafkaSettings, topics: Sequence[Topic] = TOPICS) -> None:
    """Create the registry's topics (and their DLQs) with their partition counts; existing ones are kept. Every
    DLQ gets the dead-letter retention, existing ones too (the setting may have changed)."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        cap = settings.max_partitions or max(t.partitions for t in topics)
        retention = {"retention.ms": str(int(settings.dead_letter_retention_days * 86_400_000))}
        wanted = [NewTopic(t.qualified(settings.topic_prefix), min(t.partitions, cap), 1) for t in topics]
        dead = [NewTopic(t.dlq(settings.topic_prefix), 1, 1, topic_configs=retention) for t in topics]
        missing = [t for t in wanted + dead if t.name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                log.debug("topics.raced", topics=[t.name for t in missing])
            log.info("topics.created", topics=[t.name for t in missing])
        kept = [ConfigResource(ConfigResourceType.TOPIC, t.name, retention) for t in dead if t.name in existing]
        if kept:
            for answer in await admin.alter_configs(kept):
                for error_code, message, _, name in answer.resources:
                    if error_code:  # the topics still work; only their retention is not what is set
                        log.warning("topics.retention_not_set", topic=name, error_code=error_code, error=message)
    finally:
        await admin.close()


async def delete_topics(settings: KafkaSettings) -> None:
    """Delete every topic under this settings' prefix (test clean-up; refuses an empty prefix)."""
    if not settings.topic_prefix:
        raise ValueError("refusing to delete topics without a prefix")
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t.startswith(settings.topic_prefix)]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


async def publish(broker: KafkaBroker, *, topic: Topic, message: Message, envelope: Envelope, prefix: str = "") -> None:
    """Publish one message with its envelope as headers and its aggregate id as key."""
    await broker.publish(
        message.model_dump(mode="json"),
        topic=topic.qualified(prefix),
        key=message.key.encode(),
        headers=envelope.to_headers(),
    )
