"""Consumer middleware: binds the log context, exposes the envelope, retries, and dead-letters poison messages.

A failure of the infrastructure (`errors.is_transient`: the database or the broker down, restarting or busy) is
waited out with capped, jittered backoff, in place (the partition holds, so order holds and lag grows), and never
dead-letters the message: after `transient_hold_s` the delivery gives up without committing, the subscriber
rewinds to the message, and waiting goes on from the next delivery. Other retryable errors are tried again with
backoff in place (the partition waits, so order holds); terminal errors
are logged and the offset committed (the service has already recorded the failure); messages that cannot be
decoded, input that a library or the database refused (`errors.INVALID_INPUT`: terminal, though nobody recorded
it), and anything that keeps failing, go to `<topic>.dlq` with the error in headers. A service that answers
commands turns invalid input into a rejection itself (`errors.as_terminal`), so it does not get this far.
"""

import asyncio
import contextvars
import json
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from pydantic import ValidationError

from syncline_contracts.envelope import Envelope
from syncline_platform.errors import INVALID_INPUT, RedeliverError, RetryableError, TerminalError, is_transient
from syncline_platform.metrics import Metrics
from syncline_platform.settings import KafkaSettings

log = structlog.get_logger(__name__)

REDELIVER_PAUSE_S = 0.2
"""Pause before a message this replica will not handle is rewound (it is stopping)."""

_ENVELOPE: contextvars.ContextVar[Envelope] = contextvars.ContextVar("syncline_envelope")


def current_envelope() -> Envelope:
    """The envelope of the message being handled."""
    return _ENVELOPE.get()


class DependencyDownError(RetryableError):
    """The delivery gave up waiting for the infrastructure; the subscriber rewinds and the message comes again."""

    def __init__(self, *, waited_s: float, cause: BaseException) -> None:
        self.waited_s = waited_s
        super().__init__(f"still failing after {waited_s:.0f} s: {cause!r}")


def backoff_s(*, attempt: int, first_s: float, cap_s: float) -> float:
    """Full-jitter exponential backoff: a random delay up to `first_s * 2**(attempt-1)`, capped at `cap_s`."""
    return random.uniform(0, min(cap_s, first_s * 2 ** (attempt - 1)))  # noqa: S311 - jitter, not secrecy


class _Poison(Exception):  # noqa: N818 - a signal, not an error we raise to callers
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _headers(msg: StreamMessage[Any]) -> dict[str, str]:
    return {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in msg.headers.items()}


class ConsumerPolicy:
    """Builds the per-message middleware for one service's broker."""

    def __init__(self, settings: KafkaSettings, *, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.broker: KafkaBroker | None = None

    def __call__(self, msg: Any, /, *, context: Any) -> BaseMiddleware:
        return _PolicyMiddleware(msg, context=context, policy=self)

    async def dead_letter(self, msg: StreamMessage[Any], *, reason: str) -> None:
        """Send the raw message to its topic's DLQ with the error in headers."""
        raw = msg.raw_message
        topic = getattr(raw, "topic", "unknown")
        headers = _headers(msg) | {
            "x-dlq-reason": reason[:2000],
            "x-dlq-topic": topic,
            "x-dlq-partition": str(getattr(raw, "partition", "")),
            "x-dlq-offset": str(getattr(raw, "offset", "")),
        }
        assert self.broker is not None  # noqa: S101 - set when the service wires its broker
        await self.broker.publish(msg.body, topic=f"{topic}.dlq", key=getattr(raw, "key", None), headers=headers)
        if self.metrics is not None:
            self.metrics.dead_lettered(topic=topic)
        log.error("message.dead_lettered", reason=reason, topic=topic)


class _PolicyMiddleware(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: Any, policy: ConsumerPolicy) -> None:
        super().__init__(msg, context=context)
        self.policy = policy

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]) -> Any:
        raw = msg.raw_message
        with structlog.contextvars.bound_contextvars(
            topic=getattr(raw, "topic", None),
            partition=getattr(raw, "partition", None),
            offset=getattr(raw, "offset", None),
        ):
            try:
                envelope = Envelope.from_headers(_headers(msg))
            except ValidationError as exc:
                await self.policy.dead_letter(msg, reason=f"bad envelope: {exc}")
                return None
            token = _ENVELOPE.set(envelope)
            try:
                with structlog.contextvars.bound_contextvars(
                    ce_id=envelope.ce_id, ce_type=envelope.ce_type, correlation_id=envelope.correlation_id
                ):
                    return await self._attempts(call_next, msg)
            finally:
                _ENVELOPE.reset(token)

    async def _attempts(self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]) -> Any:
        settings = self.policy.settings
        failures, started = 0, time.monotonic()
        while True:
            try:
                return await call_next(msg)
            except (ValidationError, json.JSONDecodeError, UnicodeDecodeError) as exc:
                await self.policy.dead_letter(msg, reason=f"undecodable: {exc}")
                return None
            except TerminalError as exc:
                log.warning("message.terminal_error", error=str(exc))
                return None
            except INVALID_INPUT as exc:  # the same input fails the same way: no retries
                await self.policy.dead_letter(msg, reason=f"invalid input: {exc!r}")
                return None
            except RedeliverError:
                await asyncio.sleep(REDELIVER_PAUSE_S)  # no tight loop while the stop completes
                raise  # uncommitted: rewound, and handled by whoever holds the partition next
            except (RetryableError, Exception) as exc:  # anything unknown is retried, then dead-lettered
                failures += 1
                waited = time.monotonic() - started
                if is_transient(exc):
                    if waited >= settings.transient_hold_s:
                        raise DependencyDownError(waited_s=waited, cause=exc) from exc  # rewound, not lost
                    delay = backoff_s(attempt=failures, first_s=settings.retry_backoff_s, cap_s=settings.retry_cap_s)
                    log.warning("message.dependency_down", attempt=failures, delay_s=round(delay, 3), error=repr(exc))
                elif failures >= settings.retry_attempts:
                    await self.policy.dead_letter(msg, reason=f"failed {failures} times: {exc!r}")
                    return None
                else:
                    delay = settings.retry_backoff_s * 2 ** (failures - 1)
                    log.warning("message.retry", attempt=failures, delay_s=delay, error=repr(exc))
                await asyncio.sleep(delay)
