"""Publishing commands and waiting, a bounded time, for the event that answers each one.

Every replica reads the outcome topics from their end without a consumer group (each sees every outcome) and
wakes the request whose command id an event names as its `causation_id`.
"""

import asyncio
import contextlib
import functools
import operator
from typing import Annotated, Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker
from pydantic import Field, TypeAdapter, ValidationError

from syncline_contracts.base import Message
from syncline_contracts.connectors import ConnectorEvent
from syncline_contracts.envelope import Envelope
from syncline_contracts.runs import RunEvent
from syncline_contracts.topics import CONNECTION_EVENTS, CONNECTOR_EVENTS, RUN_EVENTS, SYNC_EVENTS, Topic
from syncline_gateway.credentials import Principal
from syncline_platform.errors import UnavailableError
from syncline_platform.kafka import publish
from syncline_platform.settings import KafkaSettings

log = structlog.get_logger(__name__)
SOURCE = "/syncline/gateway"


def _every_message(topic: Topic) -> TypeAdapter[Any]:
    """Decodes every message the registry lists for `topic` (several services produce on it)."""
    members: Any = functools.reduce(operator.or_, topic.messages)
    return TypeAdapter(Annotated[members, Field(discriminator="type")])


OUTCOME_TOPICS: tuple[Topic, ...] = (CONNECTOR_EVENTS, RUN_EVENTS, CONNECTION_EVENTS, SYNC_EVENTS)
"""The topics whose events answer the gateway's commands."""

_DECODERS: dict[str, TypeAdapter[Any]] = {
    CONNECTOR_EVENTS.name: TypeAdapter(ConnectorEvent),
    RUN_EVENTS.name: TypeAdapter(RunEvent),
    CONNECTION_EVENTS.name: _every_message(CONNECTION_EVENTS),
    SYNC_EVENTS.name: _every_message(SYNC_EVENTS),
}


class OutcomeWaiter:
    """Tails the outcome topics and resolves the futures of waiting requests."""

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._topics = {t.qualified(settings.topic_prefix): t.name for t in OUTCOME_TOPICS}

    async def start(self) -> None:
        """Assign every partition of the outcome topics and start from their current end."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.bootstrap_servers, enable_auto_commit=False)
        await consumer.start()
        partitions = [
            TopicPartition(topic, p) for topic in self._topics for p in sorted(await _partitions(consumer, topic))
        ]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:  # resolve positions now, so no outcome published from here on is missed
            await consumer.position(tp)
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(), name="outcome-waiter")

    async def stop(self) -> None:
        """Stop tailing."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer:
            await self._consumer.stop()

    def expect(self, command_id: str) -> asyncio.Future[Message]:
        """A future resolved by the event caused by `command_id`."""
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = future
        return future

    def forget(self, command_id: str) -> None:
        """Stop waiting for `command_id`."""
        self._pending.pop(command_id, None)

    async def _run(self) -> None:
        assert self._consumer is not None  # noqa: S101
        while True:
            batches = await self._consumer.getmany(timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    self._resolve(tp.topic, record)

    def _resolve(self, topic: str, record: Any) -> None:
        headers = {k: v.decode() for k, v in (record.headers or ())}
        future = self._pending.get(headers.get("causation_id", ""))
        if future is None or future.done():
            return
        try:
            event = _DECODERS[self._topics[topic]].validate_json(record.value)
        except ValidationError as exc:
            log.warning("outcome.undecodable", error=str(exc))
            return
        future.set_result(event)


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(50):
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            return set(partitions)
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.1)
    raise UnavailableError(dependency="kafka", detail=f"topic {topic} has no partitions")


class CommandBus:
    """Sends commands for the gateway's routes."""

    def __init__(
        self, *, broker: KafkaBroker, waiter: OutcomeWaiter, settings: KafkaSettings, timeout_s: float
    ) -> None:
        self.broker = broker
        self.waiter = waiter
        self.settings = settings
        self.timeout_s = timeout_s

    async def send(self, *, topic: Topic, message: Message, principal: Principal, request_id: str) -> Message | None:
        """Publish `message` and return the event that answered it, or None when the bound passed first."""
        envelope = Envelope(
            ce_type=message.wire_type(), ce_source=SOURCE, org_id=principal.org_id, correlation_id=request_id
        )
        future = self.waiter.expect(envelope.ce_id)
        try:
            try:
                await publish(
                    self.broker,
                    topic=topic,
                    message=message,
                    envelope=envelope,
                    prefix=self.settings.topic_prefix,
                )
            except Exception as exc:
                raise UnavailableError(dependency="kafka", detail=repr(exc)) from exc
            log.info("command.sent", ce_type=envelope.ce_type, command_id=envelope.ce_id, key=message.key)
            try:
                return await asyncio.wait_for(future, timeout=self.timeout_s)
            except TimeoutError:
                log.warning("command.outcome_timeout", command_id=envelope.ce_id)
                return None
        finally:
            self.waiter.forget(envelope.ce_id)
