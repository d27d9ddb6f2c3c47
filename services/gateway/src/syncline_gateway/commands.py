"""Publishing commands and waiting, a bounded time, for the events that answer each one.

Every replica reads the outcome topics from their end without a consumer group (each sees every outcome). A
command's answer is the first event that names the command as its `causation_id` on the command's answer topic
(`ANSWERED_ON`): policy's or the scheduler's outcome, or a rejection. When the answer says that another service
has work of its own to do before the change can be read (`runs_deleted_after`: a deletion whose runs the
scheduler deletes), the request waits for that service's outcome too, found by following the causation chain
from the command (the scheduler's `SyncRunsDeleted` is caused by policy's deletion event, caused by the command).
"""

import asyncio
import contextlib
import functools
import operator
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Annotated, Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker
from pydantic import Field, TypeAdapter, ValidationError

from syncline_contracts.base import Message
from syncline_contracts.connections import ConnectionDeleted
from syncline_contracts.connectors import CommandRejected, ConnectorDeleted
from syncline_contracts.envelope import Envelope
from syncline_contracts.schedules import SyncRunsDeleted
from syncline_contracts.syncs import BulkSyncDeleted
from syncline_contracts.topics import TOPICS, Topic
from syncline_gateway.credentials import Principal
from syncline_platform import loops, tracing
from syncline_platform.errors import UnavailableError
from syncline_platform.kafka import client_options, publish
from syncline_platform.settings import KafkaSettings

log = structlog.get_logger(__name__)
SOURCE = "/syncline/gateway"


def _every_message(topic: Topic) -> TypeAdapter[Any]:
    """Decodes every message the registry lists for `topic` (several services produce on it)."""
    members: Any = functools.reduce(operator.or_, topic.messages)
    return TypeAdapter(Annotated[members, Field(discriminator="type")])


ANSWERED_ON: dict[str, Topic] = {
    t.name: next(answers for answers in TOPICS if answers.name == t.answered_on) for t in TOPICS if t.answered_on
}
"""Where the answer to each command topic's commands comes (their rejections included). Policy writes the other
events of a command elsewhere too (`SchedulesConfigured` of a connector, `BulkSyncDeleted` of a connection's
syncs), and topics do not order each other: the first event of a command to arrive is not always its answer.
Each command topic names its answer topic in the registry (`Topic.answered_on`), so a new dialect's topics need no
change here."""

OUTCOME_TOPICS: tuple[Topic, ...] = tuple(dict.fromkeys(ANSWERED_ON.values()))
"""The topics whose events answer the gateway's commands."""

_DECODERS: dict[str, TypeAdapter[Any]] = {t.name: _every_message(t) for t in OUTCOME_TOPICS}


def runs_deleted_after(answer: Message) -> frozenset[str]:
    """The syncs (or connectors) whose runs the scheduler deletes after policy's `answer`: the request waits for
    a `SyncRunsDeleted` of each, so that no deleted run is read once the delete is answered."""
    match answer:
        case ConnectorDeleted(delete_sync_jobs=True):
            return frozenset({answer.connector_id})
        case BulkSyncDeleted():
            return frozenset({answer.sync_id})
        case ConnectionDeleted():
            return frozenset(answer.deleted_sync_ids)
        case _:
            return frozenset()


FOLLOW_UPS = frozenset({SyncRunsDeleted.wire_type()})
"""The outcomes a request may wait for besides its answer. They are caused by an event of the command, not by
the command itself; one that arrives before that event (another topic) is held until it comes."""


@dataclass
class _Waiting:
    """One command waited for: its answer, and which syncs' runs the scheduler reported deleted."""

    answered_on: str | None
    future: asyncio.Future[Message]
    chain: list[str]
    answer: Message | None = None
    runs_deleted: set[str] = field(default_factory=set)

    def take(self, topic: str, event: Message, *, direct: bool) -> None:
        """Count `event` (`direct`: caused by the command itself), and resolve once nothing more is owed."""
        if direct and self.answer is None and self.answered_on in (None, topic):
            self.answer = event
        if isinstance(event, SyncRunsDeleted):
            self.runs_deleted.add(event.sync_id)
        if self.answer is None or self.future.done():
            return
        if isinstance(self.answer, CommandRejected) or runs_deleted_after(self.answer) <= self.runs_deleted:
            self.future.set_result(self.answer)


class OutcomeWaiter:
    """Tails the outcome topics and resolves the futures of waiting requests."""

    def __init__(self, settings: KafkaSettings, *, hold_s: float = 30.0) -> None:
        self.settings = settings
        self.hold_s = hold_s
        self._waiting: dict[str, _Waiting] = {}
        self._chains: dict[str, str] = {}
        """The `ce_id` of each command waited for, and of each event it caused so far → the command's id."""
        self._early: defaultdict[str, list[tuple[float, str, Any]]] = defaultdict(list)
        """Follow-ups whose cause has not arrived yet, by their `causation_id`: (arrival, topic, record)."""
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._topics = {t.qualified(settings.topic_prefix): t.name for t in OUTCOME_TOPICS}

    async def start(self) -> None:
        """Assign every partition of the outcome topics and start from their current end."""
        consumer = AIOKafkaConsumer(**client_options(self.settings), enable_auto_commit=False)
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

    def expect(self, command_id: str, *, answered_on: Topic | None = None) -> asyncio.Future[Message]:
        """A future resolved by the answer to `command_id` (the first event it caused, on `answered_on` when
        given), once every other service's outcome that the answer calls for is in too."""
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        topic = answered_on.name if answered_on is not None else None
        self._waiting[command_id] = _Waiting(answered_on=topic, future=future, chain=[command_id])
        self._chains[command_id] = command_id
        return future

    def answered(self, command_id: str) -> bool:
        """Whether the answer to `command_id` came (other services' outcomes may still be missing)."""
        waiting = self._waiting.get(command_id)
        return waiting is not None and waiting.answer is not None

    def forget(self, command_id: str) -> None:
        """Stop waiting for `command_id`."""
        waiting = self._waiting.pop(command_id, None)
        for ce_id in waiting.chain if waiting is not None else ():
            self._chains.pop(ce_id, None)

    async def _run(self) -> None:
        """Tail until stopped; a failure is logged and the tail goes on (if the waiter died, every write would
        answer 202 from then on)."""
        await loops.forever(self._tail_once, name="outcome-waiter")

    async def _tail_once(self) -> None:
        assert self._consumer is not None  # noqa: S101
        batches = await self._consumer.getmany(timeout_ms=500)
        for tp, records in batches.items():
            for record in records:
                self.offer(tp.topic, record)
        self._drop_stale_early()

    def offer(self, topic: str, record: Any) -> None:
        """Take one record of an outcome topic (`topic` as named on the broker): what the tail does with each."""
        headers = {k: v.decode() for k, v in (record.headers or ())}
        cause = headers.get("causation_id", "")
        command_id = self._chains.get(cause)
        if command_id is not None:
            self._take(command_id, topic, record, headers, direct=cause == command_id)
        elif self._waiting and headers.get("ce_type") in FOLLOW_UPS:
            self._early[cause].append((time.monotonic(), topic, record))

    def _take(self, command_id: str, topic: str, record: Any, headers: dict[str, str], *, direct: bool) -> None:
        waiting = self._waiting.get(command_id)
        if waiting is None:
            return
        try:
            event = _DECODERS[self._topics[topic]].validate_json(record.value)
        except ValidationError as exc:
            log.warning("outcome.undecodable", error=str(exc))
            return
        ce_id = headers.get("ce_id", "")
        self._chains[ce_id] = command_id  # what it causes belongs to the command too
        waiting.chain.append(ce_id)
        waiting.take(self._topics[topic], event, direct=direct)
        for _, early_topic, early in self._early.pop(ce_id, ()):
            early_headers = {k: v.decode() for k, v in (early.headers or ())}
            self._take(command_id, early_topic, early, early_headers, direct=False)

    def _drop_stale_early(self) -> None:
        """Forget held follow-ups older than any request waits."""
        horizon = time.monotonic() - self.hold_s
        for cause in [c for c, held in self._early.items() if held[-1][0] < horizon]:
            del self._early[cause]


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
        """Publish `message` and return the event that answered it, or None when the bound passed first (the
        answer, or another service's outcome that it calls for, was still missing)."""
        envelope = Envelope(
            ce_type=message.wire_type(),
            ce_source=SOURCE,
            org_id=principal.org_id,
            correlation_id=request_id,
            traceparent=tracing.current_traceparent(),  # the request's span: its trace goes on through Kafka
        )
        future = self.waiter.expect(envelope.ce_id, answered_on=ANSWERED_ON.get(topic.name))
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
                answered = self.waiter.answered(envelope.ce_id)
                log.warning("command.outcome_timeout", command_id=envelope.ce_id, answered=answered)
                return None
        finally:
            self.waiter.forget(envelope.ce_id)
