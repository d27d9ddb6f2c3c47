"""The error root. Errors carry their ids as attributes; dialects and consumers translate them at the edges.

Some errors are terminal without being ours: input that a library or the database refuses (`INVALID_INPUT`);
`as_terminal` tells them apart from the failures that trying again may cure."""

import asyncio

from aiokafka import errors as kafka
from asyncpg import exceptions as pg
from pydantic import ValidationError


class SynclineError(Exception):
    """Root of every error Syncline raises on purpose."""


class RetryableError(SynclineError):
    """Mixin: trying again later may succeed (a broker or database hiccup)."""


class TerminalError(SynclineError):
    """Mixin: trying again cannot succeed; record the failure and move on."""


class NotFoundError(TerminalError):
    """An addressed resource does not exist."""

    def __init__(self, *, kind: str, resource_id: str) -> None:
        self.kind = kind
        self.resource_id = resource_id
        super().__init__(f"{kind} [{resource_id}] not found")


class InvalidError(TerminalError):
    """The input breaks a rule."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ConflictError(TerminalError):
    """The input collides with existing state."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class IllegalTransitionError(TerminalError):
    """A status change the transition table forbids."""

    def __init__(self, *, resource_id: str, current: str, target: str) -> None:
        self.resource_id = resource_id
        self.current = current
        self.target = target
        super().__init__(f"cannot move [{resource_id}] from [{current}] to [{target}]")


class UnavailableError(RetryableError):
    """A dependency (database, broker, source) is not answering."""

    def __init__(self, *, dependency: str, detail: str) -> None:
        self.dependency = dependency
        self.detail = detail
        super().__init__(f"{dependency} unavailable: {detail}")


class RedeliverError(RetryableError):
    """Leave the message uncommitted for another replica (this one is stopping): the consumer does not retry it in
    place, the subscriber rewinds to it, and whoever holds the partition next handles it."""


class InvalidInputError(InvalidError):
    """Input that a library or the database refused while a message was handled (a model's validation, a value
    out of a column's range, a string too long for an index): trying again cannot succeed."""

    def __init__(self, *, cause: BaseException, reason: str) -> None:
        self.cause = cause
        super().__init__(reason)


INVALID_INPUT: tuple[type[Exception], ...] = (
    ValidationError,  # a model built from the command's values (pydantic's own, not a message's decoding)
    ValueError,  # int("x"), a malformed date, an undecodable string
    OverflowError,
    pg.DataError,  # class 22: a value out of a column's range, too long, of the wrong form
    pg.ProgramLimitExceededError,  # class 54: e.g. a name too long for its unique index
)
"""Errors that the same input raises every time: retrying cannot help, the input is wrong."""


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "value"
        return f"[{where}] {first['msg']}"
    if isinstance(exc, pg.PostgresError):
        return f"invalid value: {exc}"
    return str(exc) or type(exc).__name__


def as_terminal(exc: Exception) -> TerminalError | None:
    """`exc` as a terminal error: itself when it is one, an `InvalidInputError` when it is input refused by a
    library or the database (`INVALID_INPUT`), None when trying again may succeed."""
    if isinstance(exc, TerminalError):
        return exc
    if isinstance(exc, INVALID_INPUT):
        return InvalidInputError(cause=exc, reason=_reason(exc))
    return None


TRANSIENT: tuple[type[BaseException], ...] = (
    UnavailableError,
    ConnectionError,  # refused, reset, aborted connections and broken pipes
    TimeoutError,  # a pool or broker that did not answer in time
    asyncio.TimeoutError,
    pg.PostgresConnectionError,  # class 08: the connection broke
    pg.ConnectionDoesNotExistError,
    pg.CannotConnectNowError,  # class 57P03: starting up or shutting down
    pg.OperatorInterventionError,  # class 57: administrator shutdown, crash recovery, canceled by admin
    pg.InsufficientResourcesError,  # class 53: too many connections, disk full, out of memory
    pg.TransactionRollbackError,  # class 40: serialization failure, deadlock
    kafka.KafkaConnectionError,
    kafka.KafkaTimeoutError,
    kafka.RequestTimedOutError,
    kafka.NotLeaderForPartitionError,
    kafka.LeaderNotAvailableError,
    kafka.NodeNotReadyError,
    kafka.NoBrokersAvailable,
    kafka.KafkaUnavailableError,
    # the idempotent producer's state no longer matches the broker's (after a broker restart, say): the producer
    # is renewed and the message sent again
    kafka.OutOfOrderSequenceNumber,
    kafka.UnknownProducerId,
    kafka.InvalidProducerEpoch,
    kafka.ProducerFenced,
    kafka.ProducerClosed,
)
"""Failures of the infrastructure, not of the message: the database or the broker is down, restarting or busy.
A consumer waits them out (its partition holds) and never dead-letters a message for them."""


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) is the infrastructure's failure, which waiting cures."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, TRANSIENT):
            return True
        if isinstance(current, kafka.KafkaError) and current.retriable:  # aiokafka's own word for it
            return True
        if isinstance(current, pg.InterfaceError) and "closed" in str(current):  # used after the server went
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
