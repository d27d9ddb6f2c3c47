"""The group worker the Kafka interface's bridge and forwarder run on, against the real broker: start never waits
for partitions (a replica the group gives none stands by), a new group starts at what was published since launch
(not the topic's history), and a replica taking a partition over resumes at the committed offset."""

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from tests.support.infra import kafka_options, unique

from syncline_gateway.dialects.native.kafka.consuming import GroupWorker, Records, from_launch

pytestmark = pytest.mark.integration


class Replica:
    """One gateway replica's worker, and what it handled."""

    def __init__(self, topic: str, group: str) -> None:
        self.seen: list[bytes] = []
        self.topic, self.group = topic, group
        self.worker = GroupWorker(self.consumer, handle=self.handle, name=f"test-{group}")

    def consumer(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(**kafka_options(), group_id=self.group, enable_auto_commit=False)
        return from_launch(consumer, self.topic, margin_s=0)

    async def handle(self, tp: TopicPartition, records: Records) -> None:
        del tp
        self.seen.extend(r.value for r in records)


async def until(check: Any, timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.1)


async def test_replicas_outnumbering_partitions_start_and_hand_over_without_a_gap() -> None:
    topic, group = unique("worker-topic"), unique("worker-group")
    admin = AIOKafkaAdminClient(**kafka_options())
    await admin.start()
    producer = AIOKafkaProducer(**kafka_options())
    await producer.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        await producer.send_and_wait(topic, b"history")
        await asyncio.sleep(1.1)  # "history" is older than either replica's launch
        replicas = [Replica(topic, group), Replica(topic, group)]
        for replica in replicas:  # the second gets no partition, and starts all the same
            await replica.worker.start()
        await producer.send_and_wait(topic, b"after-launch")  # most likely before the group handed the partition
        await until(lambda: any(r.seen for r in replicas))
        owner = next(r for r in replicas if r.seen)
        standby = next(r for r in replicas if r is not owner)
        assert owner.seen == [b"after-launch"]  # the new group started at launch: no history, no gap
        assert standby.seen == []
        await asyncio.sleep(1)  # the owner's commit of "after-launch"
        await owner.worker.stop()
        await producer.send_and_wait(topic, b"after-handover")
        await until(lambda: bool(standby.seen))
        assert standby.seen == [b"after-handover"]  # from the committed offset: nothing again, nothing skipped
        await standby.worker.stop()
    finally:
        await producer.stop()
        await admin.delete_topics([topic])
        await admin.close()
