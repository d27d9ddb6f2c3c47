"""What every dialect's routes share: sending a command and awaiting its outcome, running a write once per
idempotency key (by the rules of the dialect that owns the request), and parsing a JSON body within limits,
each dialect wording the problems its own way."""

import json
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import asyncpg
from fastapi import Request, Response
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from syncline_contracts.base import Message
from syncline_contracts.connectors import CommandRejected
from syncline_contracts.topics import Topic
from syncline_gateway import idempotency
from syncline_gateway.bodies import BodyLimits, check
from syncline_gateway.commands import CommandBus
from syncline_gateway.credentials import Principal
from syncline_gateway.dialects.registry import Dialect, dialect_of
from syncline_gateway.errors import BadRequestError, RejectedError

M = TypeVar("M", bound=BaseModel)


def pool_of(request: Request) -> asyncpg.Pool:
    """The gateway's PostgreSQL pool."""
    pool: asyncpg.Pool = request.app.state.pool
    return pool


async def send(
    request: Request, *, topic: Topic, message: Message, org_id: str, invalid_is_400: bool = False
) -> Message | None:
    """Publish a command for `org_id` and return its outcome (None when the bound passed); a rejection raises.
    A broken rule is a `RejectedError`, or a `BadRequestError` with `invalid_is_400` (for the endpoints whose
    vendor documents no 422)."""
    bus: CommandBus = request.app.state.commands
    principal = Principal(org_id=org_id, key_id="")
    outcome = await bus.send(topic=topic, message=message, principal=principal, request_id=request.state.request_id)
    if isinstance(outcome, CommandRejected):
        if invalid_is_400 and outcome.code == "invalid":
            raise BadRequestError(outcome.reason)
        raise RejectedError(code=outcome.code, reason=outcome.reason)
    return outcome


async def once(request: Request, caller: Principal, handler: Callable[[], Awaitable[Response]]) -> Response:
    """Run a write; when the dialect has idempotency rules and the request carries a key, its first outcome is
    kept and replayed (see `idempotency`), errors rendered by the dialect."""
    dialect = dialect_of(request)
    rules = dialect.idempotency if dialect is not None else None
    key = request.headers.get(rules.header) if rules is not None else None
    if dialect is None or rules is None or key is None or request.method not in rules.methods:
        return await handler()
    return await _run_once(request, caller, dialect=dialect, key=key, handler=handler)


async def _run_once(
    request: Request, caller: Principal, *, dialect: Dialect, key: str, handler: Callable[[], Awaitable[Response]]
) -> Response:
    request_print = idempotency.fingerprint(
        method=request.method, path=request.url.path, query=request.url.query, body=await request.body()
    )
    return await idempotency.run_once(
        pool=pool_of(request),
        scope=caller.org_id,
        key=key,
        request_print=request_print,
        handler=handler,
        on_error=lambda exc: dialect.render_error(exc, request),
    )


class Wording(Protocol):
    """How a dialect words the problems of a request body (each one a `BadRequestError`)."""

    def empty(self) -> BadRequestError:
        """No body, or only whitespace."""

    def unparseable(self, exc: Exception) -> BadRequestError:
        """Not JSON (`exc` says why)."""

    def not_an_object(self, data: object) -> BadRequestError:
        """JSON, but not an object."""

    def invalid(self, error: ErrorDetails) -> BadRequestError:
        """An object that breaks the model; `error` is the first problem."""


def parse(raw: bytes, model: type[M], *, wording: Wording, limits: BodyLimits) -> M:
    """The body as `model`; a body past `limits`, or one that is not a valid object, raises."""
    if not raw.strip():
        raise wording.empty()
    check(raw, limits)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise wording.unparseable(exc) from exc
    if not isinstance(data, dict):
        raise wording.not_an_object(data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise wording.invalid(exc.errors()[0]) from exc
