"""The consumer middleware (envelope, retries, dead letters) and a policy-like handler, on FastStream's
in-memory TestKafkaBroker."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from asyncpg import exceptions as pg
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from syncline_contracts.base import Message
from syncline_contracts.connectors import (
    CommandRejected,
    ConfigureConnector,
    ConnectorCommand,
    ConnectorConfigured,
    UpsertConnector,
)
from syncline_contracts.envelope import Envelope
from syncline_contracts.status import ConnectorStatus
from syncline_contracts.topics import CONNECTOR_COMMANDS, CONNECTOR_EVENTS
from syncline_platform import consumer
from syncline_platform.consumer import ConsumerPolicy, current_envelope
from syncline_platform.errors import InvalidError, NotFoundError, TerminalError, UnavailableError
from syncline_platform.kafka import publish
from syncline_platform.rejections import rejection
from syncline_platform.settings import KafkaSettings

TOPIC = "unit.consumer.commands"
DLQ = f"{TOPIC}.dlq"


@dataclass
class Seen:
    """What the handler under test and the observers saw."""

    calls: list[tuple[UpsertConnector, Envelope]] = field(default_factory=list)
    dead: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    events: list[tuple[dict[str, Any], dict[str, str]]] = field(default_factory=list)


@dataclass
class Harness:
    broker: KafkaBroker
    seen: Seen
    behaviour: list[BaseException | None]
    """What the handler raises on each call (None: succeed); the last entry repeats."""


def _envelope(**overrides: str) -> Envelope:
    fields = {"ce_type": "syncline.connector.upsert", "ce_source": "/test", "org_id": "org-7", "correlation_id": "r-1"}
    return Envelope.model_validate(fields | overrides)


async def _raw(msg: Any) -> bytes:
    """Decoder for DLQ observers: a dead letter's body need not be JSON (the test broker decodes what it records)."""
    return bytes(msg.body)


def _headers(msg: Any) -> dict[str, str]:
    return {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in msg.headers.items()}


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    policy = ConsumerPolicy(KafkaSettings(retry_attempts=3, retry_backoff_s=0.01))
    broker = KafkaBroker(middlewares=[policy])
    policy.broker = broker
    observer = KafkaBroker()  # no middleware: sees the DLQ exactly as published
    seen = Seen()
    behaviour: list[BaseException | None] = [None]

    @broker.subscriber(TOPIC)
    async def handle(command: UpsertConnector) -> None:
        seen.calls.append((command, current_envelope()))
        outcome = behaviour[min(len(seen.calls), len(behaviour)) - 1]
        if outcome is not None:
            raise outcome

    @observer.subscriber(DLQ, decoder=_raw)
    async def dead_letters(msg: KafkaMessage) -> None:
        seen.dead.append((msg.body, _headers(msg)))

    async with TestKafkaBroker(broker, observer):
        yield Harness(broker=broker, seen=seen, behaviour=behaviour)


async def _send(h: Harness, body: Any, envelope: Envelope | None = None) -> Envelope:
    envelope = envelope or _envelope()
    await h.broker.publish(body, topic=TOPIC, key=b"c-1", headers=envelope.to_headers())
    return envelope


async def test_handler_sees_the_envelope(harness: Harness) -> None:
    sent = await _send(harness, {"connector_id": "c-1", "name": "Shop"})
    assert len(harness.seen.calls) == 1
    command, envelope = harness.seen.calls[0]
    assert command == UpsertConnector(connector_id="c-1", name="Shop")
    assert envelope.ce_id == sent.ce_id
    assert envelope.org_id == "org-7"
    assert envelope.correlation_id == "r-1"
    assert envelope.ce_type == "syncline.connector.upsert"
    assert harness.seen.dead == []


async def test_envelope_is_unset_after_the_handler(harness: Harness) -> None:
    await _send(harness, {"connector_id": "c-1"})
    assert len(harness.seen.calls) == 1
    with pytest.raises(LookupError):
        current_envelope()


async def test_each_message_gets_its_own_envelope(harness: Harness) -> None:
    first = await _send(harness, {"connector_id": "c-1"}, _envelope(org_id="org-a"))
    second = await _send(harness, {"connector_id": "c-2"}, _envelope(org_id="org-b"))
    assert [(e.ce_id, e.org_id) for _, e in harness.seen.calls] == [(first.ce_id, "org-a"), (second.ce_id, "org-b")]


async def test_failing_handler_is_retried_then_dead_lettered(harness: Harness) -> None:
    harness.behaviour[:] = [RuntimeError("boom")]
    body = {"connector_id": "c-1"}
    sent = await _send(harness, body)
    assert len(harness.seen.calls) == 3
    assert {e.ce_id for _, e in harness.seen.calls} == {sent.ce_id}
    assert len(harness.seen.dead) == 1
    raw, headers = harness.seen.dead[0]
    assert json.loads(raw) == body
    assert headers["x-dlq-reason"] == "failed 3 times: RuntimeError('boom')"
    assert headers["x-dlq-topic"] == TOPIC
    assert headers["x-dlq-partition"] == "0"
    assert headers["x-dlq-offset"] == "0"
    assert headers["ce_id"] == sent.ce_id
    assert headers["org_id"] == "org-7"


async def test_retries_back_off_exponentially(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)

    monkeypatch.setattr(consumer, "asyncio", SimpleNamespace(sleep=sleep))
    harness.behaviour[:] = [RuntimeError("boom")]
    await _send(harness, {"connector_id": "c-1"})
    assert delays == pytest.approx([0.01, 0.02])
    assert len(harness.seen.dead) == 1


async def test_retryable_error_that_clears_is_not_dead_lettered(harness: Harness) -> None:
    harness.behaviour[:] = [UnavailableError(dependency="postgres", detail="restarting"), None]
    await _send(harness, {"connector_id": "c-1"})
    assert len(harness.seen.calls) == 2
    assert harness.seen.dead == []


async def test_undecodable_body_is_dead_lettered_without_retries(harness: Harness) -> None:
    body = {"name": "no connector id"}
    await _send(harness, body)
    assert harness.seen.calls == []
    assert len(harness.seen.dead) == 1
    raw, headers = harness.seen.dead[0]
    assert json.loads(raw) == body
    assert headers["x-dlq-reason"].startswith("undecodable: ")
    assert "connector_id" in headers["x-dlq-reason"]
    assert headers["x-dlq-topic"] == TOPIC


async def test_non_json_body_is_dead_lettered_without_retries(harness: Harness) -> None:
    await _send(harness, b"{not json")
    assert harness.seen.calls == []
    assert len(harness.seen.dead) == 1
    raw, headers = harness.seen.dead[0]
    assert raw == b"{not json"
    assert headers["x-dlq-reason"].startswith("undecodable: ")


async def test_bad_envelope_is_dead_lettered_without_calling_the_handler(harness: Harness) -> None:
    await harness.broker.publish({"connector_id": "c-1"}, topic=TOPIC, headers={"ce_source": "/test"})
    assert harness.seen.calls == []
    assert len(harness.seen.dead) == 1
    assert harness.seen.dead[0][1]["x-dlq-reason"].startswith("bad envelope: ")


@pytest.mark.parametrize(
    "error",
    [
        TerminalError("no"),
        NotFoundError(kind="connector", resource_id="c-1"),
        InvalidError("bad"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_terminal_error_is_neither_retried_nor_dead_lettered(harness: Harness, error: TerminalError) -> None:
    harness.behaviour[:] = [error]
    await _send(harness, {"connector_id": "c-1"})
    assert len(harness.seen.calls) == 1
    assert harness.seen.dead == []


async def test_dead_letter_reason_is_truncated(harness: Harness) -> None:
    harness.behaviour[:] = [RuntimeError("x" * 5000)]
    await _send(harness, {"connector_id": "c-1"})
    assert len(harness.seen.dead) == 1
    assert len(harness.seen.dead[0][1]["x-dlq-reason"]) == 2000


@pytest.mark.parametrize(
    "error",
    [ValueError("invalid literal for int()"), pg.NumericValueOutOfRangeError("integer out of range")],
    ids=lambda e: type(e).__name__,
)
async def test_refused_input_is_dead_lettered_without_retries(harness: Harness, error: Exception) -> None:
    """The same input fails the same way: a handler that does not reject it itself does not retry it either."""
    harness.behaviour[:] = [error]
    await _send(harness, {"connector_id": "c-1"})
    assert len(harness.seen.calls) == 1
    assert len(harness.seen.dead) == 1
    assert harness.seen.dead[0][1]["x-dlq-reason"].startswith(f"invalid input: {type(error).__name__}(")


# --- a policy-like handler ---------------------------------------------------------------------------------

SOURCE = "/syncline/policy-under-test"
PREFIX = "unit-policy-"


@pytest.fixture
async def policy_like() -> AsyncIterator[tuple[KafkaBroker, Seen]]:
    """Decode a connector command, decide, publish the outcome with a caused envelope (as policy does)."""
    settings = KafkaSettings(topic_prefix=PREFIX, retry_attempts=3, retry_backoff_s=0.01)
    policy = ConsumerPolicy(settings)
    broker = KafkaBroker(middlewares=[policy])
    policy.broker = broker
    observer = KafkaBroker()
    seen = Seen()
    known = {"c-known"}

    async def decide(command: ConnectorCommand) -> Message:
        try:
            match command:
                case UpsertConnector():
                    created = command.connector_id not in known
                    known.add(command.connector_id)
                    return ConnectorConfigured(
                        connector_id=command.connector_id,
                        result="created" if created else "updated",
                        status=ConnectorStatus.CREATED,
                    )
                case ConfigureConnector():
                    if command.connector_id not in known:
                        raise NotFoundError(kind="connector", resource_id=command.connector_id)
                    return ConnectorConfigured(
                        connector_id=command.connector_id, result="updated", status=ConnectorStatus.CONFIGURED
                    )
                case _:
                    raise InvalidError(f"{command.wire_type()} is not handled here")
        except TerminalError as exc:
            return rejection(command, exc)

    @broker.subscriber(CONNECTOR_COMMANDS.qualified(PREFIX))
    async def handle(command: ConnectorCommand) -> None:
        envelope = current_envelope()
        event = await decide(command)
        await publish(
            broker,
            topic=CONNECTOR_EVENTS,
            message=event,
            envelope=envelope.caused(ce_type=event.wire_type(), ce_source=SOURCE),
            prefix=PREFIX,
        )

    @observer.subscriber(CONNECTOR_EVENTS.qualified(PREFIX))
    async def events(msg: KafkaMessage) -> None:
        seen.events.append((json.loads(msg.body), _headers(msg)))

    @observer.subscriber(CONNECTOR_COMMANDS.dlq(PREFIX), decoder=_raw)
    async def dead_letters(msg: KafkaMessage) -> None:
        seen.dead.append((msg.body, _headers(msg)))

    async with TestKafkaBroker(broker, observer):
        yield broker, seen


async def _command(broker: KafkaBroker, message: Message) -> Envelope:
    envelope = _envelope(ce_type=message.wire_type())
    await publish(broker, topic=CONNECTOR_COMMANDS, message=message, envelope=envelope, prefix=PREFIX)
    return envelope


async def test_policy_like_handler_answers_with_a_caused_event(policy_like: tuple[KafkaBroker, Seen]) -> None:
    broker, seen = policy_like
    sent = await _command(broker, UpsertConnector(connector_id="c-new", name="Shop"))
    assert len(seen.events) == 1
    body, headers = seen.events[0]
    assert ConnectorConfigured.model_validate(body) == ConnectorConfigured(
        connector_id="c-new", result="created", status=ConnectorStatus.CREATED
    )
    answer = Envelope.from_headers(headers)
    assert answer.causation_id == sent.ce_id
    assert answer.ce_id != sent.ce_id
    assert answer.org_id == "org-7"
    assert answer.correlation_id == "r-1"
    assert answer.ce_type == "syncline.connector.configured"
    assert answer.ce_source == SOURCE
    assert seen.dead == []


async def test_policy_like_handler_rejects_with_the_command_id(policy_like: tuple[KafkaBroker, Seen]) -> None:
    broker, seen = policy_like
    sent = await _command(broker, ConfigureConnector(connector_id="c-missing", values={"host": "db"}))
    assert len(seen.events) == 1
    body, headers = seen.events[0]
    rejected = CommandRejected.model_validate(body)
    assert rejected.code == "not_found"
    assert rejected.command_id == sent.ce_id
    assert rejected.command_type == "syncline.connector.configure"
    assert rejected.aggregate_id == "c-missing"
    assert rejected.reason == "connector [c-missing] not found"
    assert Envelope.from_headers(headers).causation_id == sent.ce_id
    assert seen.dead == []


async def test_policy_like_handler_dead_letters_an_unknown_command(policy_like: tuple[KafkaBroker, Seen]) -> None:
    broker, seen = policy_like
    body = {"type": "syncline.connector.explode", "connector_id": "c-known"}
    await broker.publish(body, topic=CONNECTOR_COMMANDS.qualified(PREFIX), headers=_envelope().to_headers())
    assert seen.events == []
    assert len(seen.dead) == 1
    assert json.loads(seen.dead[0][0]) == body
    assert seen.dead[0][1]["x-dlq-reason"].startswith("undecodable: ")
    assert seen.dead[0][1]["x-dlq-topic"] == CONNECTOR_COMMANDS.qualified(PREFIX)
