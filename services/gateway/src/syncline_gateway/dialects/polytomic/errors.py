"""Polytomic's error body, `{"status", "key", "message", "metadata"}`, for every error of the dialect.

Parse and shape problems are 400; rules policy enforces (unknown connection, bad enum, invalid schedule, a
failed connection test, a reused idempotency key) are 422; conflicts (a taken name, a connection in use, a
request still in flight under the same idempotency key) are 409; a body over the dialect's size limit is 413.
"""

from typing import Any

import structlog
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from syncline_gateway.dialects.polytomic.models import PolytomicError
from syncline_gateway.errors import (
    AuthenticationError,
    BadRequestError,
    ForbiddenError,
    PayloadTooLargeError,
    RejectedError,
)
from syncline_gateway.openapi_bodies import answers
from syncline_platform.errors import ConflictError, InvalidError, NotFoundError, SynclineError, UnavailableError

log = structlog.get_logger(__name__)

KEYS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "unprocessable_entity",
    500: "internal_server_error",
    503: "service_unavailable",
}

ANSWERS = answers(dict.fromkeys((400, 401, 403, 404, 409, 413, 422, 503, "default"), PolytomicError))
"""The errors every route may answer, in the OpenAPI document: any status a route does not list is an error in
this body."""

_REJECTION_STATUS = {"not_found": 404, "invalid": 422, "conflict": 409, "illegal_transition": 422}

_BY_KIND: tuple[tuple[type[SynclineError], int], ...] = (
    (AuthenticationError, 401),
    (ForbiddenError, 403),
    (PayloadTooLargeError, 413),
    (BadRequestError, 400),
    (NotFoundError, 404),
    (ConflictError, 409),
    (InvalidError, 422),
    (UnavailableError, 503),
)


def error_response(status: int, message: str, *, metadata: dict[str, Any] | None = None) -> JSONResponse:
    """One error in Polytomic's shape."""
    body = {"status": status, "key": KEYS.get(status, "error"), "message": message, "metadata": metadata or {}}
    headers = {"WWW-Authenticate": 'Bearer realm="polytomic"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def status_of(exc: Exception) -> int:
    """The HTTP status of an error."""
    if isinstance(exc, RejectedError):
        return _REJECTION_STATUS.get(exc.code, 422)
    return next((status for kind, status in _BY_KIND if isinstance(exc, kind)), 500)


def render(exc: Exception, request: Request | None = None) -> JSONResponse:
    """The Polytomic answer to `exc` (an unexpected one is a 500 that says nothing of its internals)."""
    if isinstance(exc, HTTPException):  # unknown paths and methods
        return error_response(exc.status_code, str(exc.detail))
    status = status_of(exc)
    if status == 500:
        path = request.url.path if request is not None else None
        log.error("polytomic.unexpected_error", error=repr(exc), path=path, exc_info=exc)
        return error_response(500, "internal server error")
    if isinstance(exc, AuthenticationError) and request is not None and not request.headers.get("authorization"):
        return error_response(401, "missing API key: send Authorization: Bearer <key>")
    return error_response(status, str(exc))
