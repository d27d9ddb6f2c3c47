"""What every Polytomic route shares: the caller, sending a command and awaiting its outcome, the `{"data"}`
envelope, and idempotency keys on writes."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse

from syncline_contracts.base import Message
from syncline_contracts.connectors import CommandRejected
from syncline_contracts.topics import Topic
from syncline_gateway import idempotency
from syncline_gateway.commands import CommandBus
from syncline_gateway.credentials import Principal
from syncline_gateway.dialects.polytomic import errors
from syncline_gateway.dialects.polytomic.auth import authenticate
from syncline_gateway.errors import BadRequestError, RejectedError

Caller = Annotated[Principal, Depends(authenticate)]
"""The authenticated caller of a route."""

IDEMPOTENT_METHODS = frozenset({"POST", "PUT", "PATCH"})


def answer(data: Any, status: int = 200) -> JSONResponse:
    """A success in Polytomic's envelope."""
    return JSONResponse({"data": data}, status_code=status)


def pool_of(request: Request) -> asyncpg.Pool:
    """The gateway's PostgreSQL pool."""
    pool: asyncpg.Pool = request.app.state.pool
    return pool


async def send(
    request: Request, *, topic: Topic, message: Message, org_id: str, invalid_is_400: bool = False
) -> Message | None:
    """Publish a command for `org_id` and return its outcome (None when the bound passed); a rejection raises.
    A broken rule is a 422, or a 400 (`invalid_is_400`) on the endpoints whose documented errors lack 422."""
    bus: CommandBus = request.app.state.commands
    principal = Principal(org_id=org_id, key_id="")
    outcome = await bus.send(topic=topic, message=message, principal=principal, request_id=request.state.request_id)
    if isinstance(outcome, CommandRejected):
        if invalid_is_400 and outcome.code == "invalid":
            raise BadRequestError(outcome.reason)
        raise RejectedError(code=outcome.code, reason=outcome.reason)
    return outcome


async def once(request: Request, caller: Principal, handler: Callable[[], Awaitable[Response]]) -> Response:
    """Run a write; with an `Idempotency-Key`, its first outcome is kept and replayed (see `idempotency`)."""
    key = request.headers.get("idempotency-key")
    if key is None or request.method not in IDEMPOTENT_METHODS:
        return await handler()
    request_print = idempotency.fingerprint(
        method=request.method, path=request.url.path, query=request.url.query, body=await request.body()
    )
    return await idempotency.run_once(
        pool=pool_of(request),
        scope=caller.org_id,
        key=key,
        request_print=request_print,
        handler=handler,
        on_error=lambda exc: errors.render(exc, request),
    )
