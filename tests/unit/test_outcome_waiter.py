"""How the gateway's outcome waiter decides that a command is answered (no broker: records are offered to it as
its tail would): the answer comes on the command's answer topic; a deletion whose runs the scheduler deletes is
answered only once the scheduler's `SyncRunsDeleted` for each is in, found through the causation chain, in
whatever order the topics deliver."""

import asyncio
from dataclasses import dataclass

from syncline_contracts.base import Message
from syncline_contracts.connections import ConnectionDeleted
from syncline_contracts.connectors import CommandRejected, ConnectorDeleted
from syncline_contracts.envelope import Envelope, new_id
from syncline_contracts.schedules import SchedulesConfigured, SyncRunsDeleted
from syncline_contracts.syncs import BulkSyncDeleted
from syncline_contracts.topics import (
    CONNECTION_COMMANDS,
    CONNECTION_EVENTS,
    CONNECTOR_COMMANDS,
    CONNECTOR_EVENTS,
    SYNC_EVENTS,
    Topic,
)
from syncline_gateway.commands import ANSWERED_ON, OutcomeWaiter
from syncline_platform.settings import KafkaSettings


@dataclass(frozen=True)
class Record:
    """What the tail hands over of a Kafka record."""

    headers: list[tuple[str, bytes]]
    value: bytes


class Chain:
    """Events of one command, each caused by the command or by another event of the chain."""

    def __init__(self, waiter: OutcomeWaiter) -> None:
        self.waiter = waiter
        self.command_id = new_id()

    def event(self, topic: Topic, message: Message, *, cause: str | None = None) -> str:
        """Offer `message` on `topic`, caused by `cause` (the command by default); its `ce_id`."""
        envelope = Envelope(ce_type=message.wire_type(), ce_source="/test", causation_id=cause or self.command_id)
        headers = [(k, v.encode()) for k, v in envelope.to_headers().items()]
        self.waiter.offer(topic.qualified(), Record(headers=headers, value=message.model_dump_json().encode()))
        return envelope.ce_id


def waiter_and_chain(command_topic: Topic) -> tuple[OutcomeWaiter, Chain, asyncio.Future[Message]]:
    waiter = OutcomeWaiter(KafkaSettings())
    chain = Chain(waiter)
    return waiter, chain, waiter.expect(chain.command_id, answered_on=ANSWERED_ON[command_topic.name])


async def test_a_connector_deleted_with_its_jobs_waits_for_the_scheduler() -> None:
    _, chain, future = waiter_and_chain(CONNECTOR_COMMANDS)
    chain.event(SYNC_EVENTS, SchedulesConfigured(sync_id="c", schedules=(), active=False))  # not the answer
    assert not future.done()
    deleted = chain.event(CONNECTOR_EVENTS, ConnectorDeleted(connector_id="c", delete_sync_jobs=True))
    assert not future.done()  # policy answered; the scheduler has not
    chain.event(SYNC_EVENTS, SyncRunsDeleted(sync_id="c", deleted=2), cause=deleted)
    assert future.result() == ConnectorDeleted(connector_id="c", delete_sync_jobs=True)


async def test_a_connector_deleted_without_its_jobs_is_answered_by_policy_alone() -> None:
    _, chain, future = waiter_and_chain(CONNECTOR_COMMANDS)
    chain.event(CONNECTOR_EVENTS, ConnectorDeleted(connector_id="c", delete_sync_jobs=False))
    assert future.done()


async def test_a_rejection_is_the_answer_at_once() -> None:
    _, chain, future = waiter_and_chain(CONNECTOR_COMMANDS)
    rejected = CommandRejected(
        command_id=chain.command_id, command_type="t", aggregate_id="c", code="not_found", reason="gone"
    )
    chain.event(CONNECTOR_EVENTS, rejected)
    assert future.result() == rejected


async def test_the_schedulers_outcome_may_arrive_before_the_event_that_caused_it() -> None:
    _, chain, future = waiter_and_chain(CONNECTOR_COMMANDS)
    answer = ConnectorDeleted(connector_id="c", delete_sync_jobs=True)
    envelope = Envelope(ce_type=answer.wire_type(), ce_source="/test", causation_id=chain.command_id)
    chain.event(SYNC_EVENTS, SyncRunsDeleted(sync_id="c", deleted=1), cause=envelope.ce_id)  # held
    assert not future.done()
    headers = [(k, v.encode()) for k, v in envelope.to_headers().items()]
    chain.waiter.offer(CONNECTOR_EVENTS.qualified(), Record(headers=headers, value=answer.model_dump_json().encode()))
    assert future.result() == answer


async def test_a_connection_deleted_with_its_syncs_waits_for_each_syncs_runs() -> None:
    _, chain, future = waiter_and_chain(CONNECTION_COMMANDS)
    first = chain.event(SYNC_EVENTS, BulkSyncDeleted(sync_id="s1"))  # before the answer: another topic
    chain.event(SYNC_EVENTS, SyncRunsDeleted(sync_id="s1", deleted=3), cause=first)
    assert not future.done()  # no answer yet, so nothing says what is owed
    chain.event(CONNECTION_EVENTS, ConnectionDeleted(connection_id="x", deleted_sync_ids=("s1", "s2")))
    assert not future.done()
    second = chain.event(SYNC_EVENTS, BulkSyncDeleted(sync_id="s2"))
    chain.event(SYNC_EVENTS, SyncRunsDeleted(sync_id="s2", deleted=0), cause=second)
    assert future.result() == ConnectionDeleted(connection_id="x", deleted_sync_ids=("s1", "s2"))


async def test_another_commands_outcome_does_not_count() -> None:
    waiter, chain, future = waiter_and_chain(CONNECTOR_COMMANDS)
    chain.event(CONNECTOR_EVENTS, ConnectorDeleted(connector_id="c", delete_sync_jobs=True))
    stranger = Chain(waiter)
    stranger.event(SYNC_EVENTS, SyncRunsDeleted(sync_id="c", deleted=1), cause=new_id())
    assert not future.done()
    waiter.forget(chain.command_id)
    assert not waiter.answered(chain.command_id)


class _FlakyTail:
    """A tail whose broker fails twice, then delivers one outcome record."""

    def __init__(self, topic: str, record: Record) -> None:
        self.calls = 0
        self.topic = topic
        self.record = record

    async def getmany(self, timeout_ms: int) -> dict[object, list[Record]]:
        del timeout_ms
        self.calls += 1
        if self.calls <= 2:
            raise ConnectionError("broker away")
        await asyncio.sleep(0.01)
        if self.calls == 3:
            return {type("TP", (), {"topic": self.topic})(): [self.record]}
        return {}


async def test_the_tail_outlives_a_failure_and_still_answers() -> None:
    settings = KafkaSettings()
    waiter = OutcomeWaiter(settings)
    command_id = new_id()
    answer = waiter.expect(command_id, answered_on=CONNECTION_EVENTS)
    event = ConnectionDeleted(connection_id="c1")
    headers = Envelope(ce_type=event.wire_type(), ce_source="/test", causation_id=command_id).to_headers()
    record = Record(headers=[(k, v.encode()) for k, v in headers.items()], value=event.model_dump_json().encode())
    tail = _FlakyTail(CONNECTION_EVENTS.qualified(settings.topic_prefix), record)
    waiter._consumer = tail  # the tail's broker, failing on purpose
    task = asyncio.create_task(waiter._run())
    try:
        assert await asyncio.wait_for(answer, timeout=5) == event
        assert tail.calls >= 3
        assert not task.done()
    finally:
        task.cancel()
