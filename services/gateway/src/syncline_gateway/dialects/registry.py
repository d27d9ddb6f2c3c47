"""The gateway's registry of dialects: what each one declares, and the dispatch by request path.

A dialect owns the paths under its prefixes (a prefix matches itself and what follows it after a `/`). For those,
the app mounts its router, answers errors with its renderer, adds its product headers to every answer, holds
bodies to its limits and applies its idempotency rules. A path no dialect owns gets the neutral error body
`{"error": {"status": <status>, "message": <text>}}` (404 `no route for <METHOD> <path>` for an unknown path).
"""

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from syncline_gateway.bodies import BodyLimits
from syncline_gateway.credentials import Principal
from syncline_gateway.errors import BadRequestError
from syncline_gateway.service import Gateway
from syncline_gateway.settings import GatewaySettings


class Worker(Protocol):
    """Something a dialect runs beside its routes while the gateway is up (e.g. webhook deliveries)."""

    async def start(self) -> None:
        """Start; called once the gateway's pool and broker are up."""

    async def stop(self) -> None:
        """Stop; called before the gateway's pool and broker close."""


@dataclass(frozen=True, kw_only=True)
class IdempotencyRules:
    """A dialect's idempotency keys: the header that carries one, and the methods it applies to. The first outcome
    of a request with a key is replayed to later ones (see `syncline_gateway.idempotency`)."""

    header: str = "Idempotency-Key"
    methods: frozenset[str] = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True, kw_only=True)
class Dialect:
    """One vendor API, as its folder under `dialects/` declares it (`dialect()` in its `__init__.py`)."""

    name: str
    prefixes: tuple[str, ...]
    """The paths it owns, e.g. `/api`: the prefix itself and everything under it."""
    router: APIRouter
    authenticate: Callable[[Request], Awaitable[Principal]]
    """The dependency its routes take the caller from."""
    render_error: Callable[[Exception, Request], Response]
    """Our errors, `HTTPException`s (unknown route or method) and unexpected exceptions → the vendor's answer."""
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Product headers on every answer of its paths."""
    limits: BodyLimits = field(default_factory=BodyLimits)
    idempotency: IdempotencyRules | None = None
    """None: the dialect has no idempotency keys (the header is ignored)."""
    workers: tuple[Callable[[GatewaySettings, Gateway], Worker], ...] = ()

    def owns(self, path: str) -> bool:
        """Whether `path` is one of this dialect's."""
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.prefixes)


class Registry:
    """The dialects an app mounts; no two may own the same path."""

    def __init__(self, dialects: Sequence[Dialect]) -> None:
        names = [d.name for d in dialects]
        if len(set(names)) != len(names):
            raise ValueError(f"dialect names must be unique: {names}")
        prefixes = [(d.name, p) for d in dialects for p in d.prefixes]
        for name, prefix in prefixes:
            other = next((o for o in dialects if o.name != name and o.owns(prefix)), None)
            if other is not None:
                raise ValueError(f"dialect {name}'s prefix {prefix} overlaps dialect {other.name}'s")
        self.dialects = tuple(dialects)

    def __iter__(self) -> Iterator[Dialect]:
        return iter(self.dialects)

    def match(self, path: str) -> Dialect | None:
        """The dialect that owns `path`, if any."""
        return next((d for d in self.dialects if d.owns(path)), None)

    def render(self, exc: Exception, request: Request) -> Response:
        """The answer to `exc`, in the body of the dialect that owns the request's path (neutral otherwise)."""
        if isinstance(exc, RequestValidationError):
            exc = _bad_request(exc)
        dialect = self.match(request.url.path)
        return dialect.render_error(exc, request) if dialect else neutral_error(exc, request)


def dialect_of(request: Request) -> Dialect | None:
    """The dialect that owns the request's path, in the app's registry."""
    registry: Registry = request.app.state.dialects
    return registry.match(request.url.path)


def _bad_request(exc: RequestValidationError) -> BadRequestError:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"][1:])
    return BadRequestError(f"Failed to parse [{where}]: {first['msg']}")


def neutral_error(exc: Exception, request: Request) -> JSONResponse:
    """The answer outside every dialect: `{"error": {"status", "message"}}`."""
    if isinstance(exc, HTTPException):
        status = exc.status_code
        message = f"no route for {request.method} {request.url.path}" if status == 404 else str(exc.detail)
    elif isinstance(exc, BadRequestError):
        status, message = 400, str(exc)
    else:
        status, message = 500, "internal server error"
    return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)
