"""What the bridge and the forwarder share: a consumer group member that handles each fetched batch partition by
partition (the partitions concurrently, each one's records in order), commits once all of it was handled, and runs
under `loops.forever` (a failed step is logged and tried again from the last commit, with backoff). Start never
waits for partitions: a replica the group gives none (more replicas than partitions) stands by."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition

from syncline_platform import loops

Records = Sequence[ConsumerRecord[Any, Any]]
PartitionHandler = Callable[[TopicPartition, Records], Awaitable[None]]


class GroupWorker:
    """Runs `handle` over what the consumer `make` builds (subscribed, not started; built at start, within the
    event loop, as aiokafka requires) fetches."""

    def __init__(self, make: Callable[[], AIOKafkaConsumer], *, handle: PartitionHandler, name: str) -> None:
        self._make = make
        self._handle = handle
        self._name = name
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def consumer(self) -> AIOKafkaConsumer:
        """The consumer (once started)."""
        assert self._consumer is not None, "not started"  # noqa: S101
        return self._consumer

    async def start(self) -> None:
        """Join the group; consume in the background."""
        self._consumer = self._make()
        await self._consumer.start()
        self._task = asyncio.create_task(loops.forever(self._step, name=self._name), name=self._name)

    async def stop(self) -> None:
        """Stop consuming and leave the group."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()

    async def _step(self) -> None:
        batches = await self.consumer.getmany(timeout_ms=500)
        if not batches:
            return
        await asyncio.gather(*(self._handle(tp, records) for tp, records in batches.items()))
        await self.consumer.commit()


class FromLaunch(ConsumerRebalanceListener):  # type: ignore[misc]
    """For a partition its group has no offset for yet (the group is new), the first record published since this
    replica was launched, less `margin_s` for clocks apart, by the records' timestamps: so nothing published once
    the replica started is skipped, however long the group takes to hand the partition over, and the topic's older
    history is not replayed. Partitions with a committed offset resume from it."""

    def __init__(self, *, margin_s: float = 30.0) -> None:
        self.since_ms = int((time.time() - margin_s) * 1000)
        self.consumer: AIOKafkaConsumer | None = None

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        del revoked

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = self.consumer
        assert consumer is not None  # noqa: S101
        for tp in assigned:
            if await consumer.committed(tp) is not None:
                continue
            end = (await consumer.end_offsets([tp]))[tp]  # before the lookup: a record landing between is kept
            found = (await consumer.offsets_for_times({tp: self.since_ms})).get(tp)
            consumer.seek(tp, found.offset if found is not None else end)


def from_launch(consumer: AIOKafkaConsumer, topic: str, *, margin_s: float = 30.0) -> AIOKafkaConsumer:
    """`consumer` subscribed to `topic`, starting where `FromLaunch` says for partitions new to its group."""
    listener = FromLaunch(margin_s=margin_s)
    listener.consumer = consumer
    consumer.subscribe([topic], listener=listener)
    return consumer
