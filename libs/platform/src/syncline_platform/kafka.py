"""The Kafka broker factory (acks=all, idempotent producer), topic creation from the registry, publishing."""

import logging
from collections.abc import Sequence
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from syncline_contracts.base import Message
from syncline_contracts.envelope import Envelope
from syncline_contracts.topics import TOPICS, Topic
from syncline_platform.settings import KafkaSettings

log = structlog.get_logger(__name__)


def build_broker(settings: KafkaSettings, *, service: str, middlewares: Sequence[Any] = ()) -> KafkaBroker:
    """A broker whose producer waits for all in-sync replicas and never duplicates on retry."""
    logger = logging.getLogger(f"syncline.{service}.kafka")
    logger.setLevel(logging.WARNING)  # per-message "Received/Processed" lines add nothing to our own logs
    return KafkaBroker(
        settings.bootstrap_servers,
        client_id=f"syncline-{service}",
        acks="all",
        enable_idempotence=True,
        middlewares=tuple(middlewares),
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
    """Create the registry's topics (and their DLQs) with their partition counts; existing ones are kept."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        cap = settings.max_partitions or max(t.partitions for t in topics)
        wanted = [NewTopic(t.qualified(settings.topic_prefix), min(t.partitions, cap), 1) for t in topics]
        wanted += [NewTopic(t.dlq(settings.topic_prefix), 1, 1) for t in topics]
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                log.debug("topics.raced", topics=[t.name for t in missing])
            log.info("topics.created", topics=[t.name for t in missing])
    finally:
        await admin.close()


async def delete_topics(settings: KafkaSettings) -> None:
    """Delete every topic under this settings' prefix (test clean-up; refuses an empty prefix)."""
    if not settings.topic_prefix:
        raise ValueError("refusing to delete topics without a prefix")
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
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
