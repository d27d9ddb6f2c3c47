"""Dead-letter topics are kept `SYNCLINE_KAFKA__DEAD_LETTER_RETENTION_DAYS`, on the real broker: set when they are
created, and again on every start (a changed setting reaches existing topics); the other topics keep the broker's."""

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from tests.support.infra import kafka_options, kafka_settings, unique

from syncline_contracts.topics import RUN_EVENTS
from syncline_platform.kafka import delete_topics, ensure_topics

pytestmark = pytest.mark.integration
DAY_MS = 86_400_000


async def retention_ms(topic: str) -> str:
    admin = AIOKafkaAdminClient(**kafka_options())
    await admin.start()
    try:
        [answer] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {"retention.ms": None})]
        )
        [(_, _, _, _, entries)] = answer.resources
        return str(next(value for name, value, *_ in entries if name == "retention.ms"))
    finally:
        await admin.close()


async def test_dead_letter_topics_keep_the_set_retention() -> None:
    settings = kafka_settings(topic_prefix=f"{unique('dlq')}.", max_partitions=1, dead_letter_retention_days=3)
    try:
        await ensure_topics(settings, topics=[RUN_EVENTS])
        dlq = RUN_EVENTS.dlq(settings.topic_prefix)
        assert await retention_ms(dlq) == str(3 * DAY_MS)
        assert await retention_ms(RUN_EVENTS.qualified(settings.topic_prefix)) != str(3 * DAY_MS)  # the broker's
        await ensure_topics(settings.model_copy(update={"dead_letter_retention_days": 0.5}), topics=[RUN_EVENTS])
        assert await retention_ms(dlq) == str(DAY_MS // 2)
    finally:
        await delete_topics(settings)
