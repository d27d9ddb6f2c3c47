"""The gateway's registry of dialects: what each one declares, and the dispatch by request path.

A dialect owns the paths under its prefixes (a prefix matches itself and what follows it after a `/`). For those,
the app mounts its router, answers errors with its renderer, adds its product headers to every answer, holds
bodies to its limits and applies its idempotency rules. A path no dialect owns gets the neutral error body
`{"error": {"status": <status>, "message": <text>}}` (404 `no route for <METHOD> <path>` for an unknown path).

Whatever the dialect, a transient failure of the infrastructure (`errors.is_transient`: PostgreSQL or Kafka
down or restarting) becomes an `UnavailableError` before the dialect words it (`unavailable`), so every dialect
answers 503 in its own error format (which its SDKs retry), and an idempotency key never keeps it (5xx).
"""

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from syncline_gateway.bodies import BodyLimits
from syncline_gateway.credentials import Principal
from syncline_gateway.errors import BadRequestError
from syncline_gateway.service import Gateway
from syncline_gateway.settings import GatewaySettings
from syncline_platform.errors import SynclineError, UnavailableError, is_transient

log = structlog.get_logger(__name__)


def unavailable(exc: Exception) -> Exception:
    """`exc` as an `UnavailableError` when it is a transient failure of the database or the broker (what the
    caller sees says which, not why); any other error as it is."""
    if isinstance(exc, SynclineError) or not is_transient(exc):
        return exc
    dependency = "kafka" if type(exc).__module__.startswith("aiokafka") else "database"
    log.warning("gateway.dependency_unavailable", dependency=dependency, error=repr(exc))
    return UnavailableError(dependency=dependency, detail="not answering; retry the request")


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
    security: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    """How callers authenticate, as OpenAPI security schemes by name (any one of them will do)."""

    def __post_init__(self) -> None:
        # every caller of `render_error` (the app's handlers, idempotent routes, body limits) gets transient
        # infrastructure failures as `UnavailableError`, mapped once here rather than in each dialect or route
        words = self.render_error

        def render_error(exc: Exception, request: Request) -> Response:
            return words(unavailable(exc), request)

        object.__setattr__(self, "render_error", render_error)

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

    def describe_security(self, document: dict[str, Any]) -> dict[str, Any]:
        """`document` (the app's OpenAPI) with every dialect's security schemes, each operation requiring its own
        dialect's (any one of them)."""
        schemes = document.setdefault("components", {}).setdefault("securitySchemes", {})
        for dialect in self.dialects:
            schemes.update({name: dict(scheme) for name, scheme in dialect.security.items()})
        for path, operations in document.get("paths", {}).items():
            owner = self.match(path)
            if owner is None or not owner.security:
                continue
            for operation in operations.values():
                operation["security"] = [{name: []} for name in owner.security]
        return document

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
    elif isinstance(unavailable(exc), UnavailableError):
        status, message = 503, "service unavailable; retry the request"
    else:
        status, message = 500, "internal server error"
    return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)
