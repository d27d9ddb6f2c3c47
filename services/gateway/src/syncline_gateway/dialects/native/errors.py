"""The native API's error body, `{"error": {"status", "code", "message"}}`, for every error under `/v1`.

400 a body or query that breaks the API's models, 401 no or unknown key, 404, 409 a start while the sync's run
is going (or another conflict), 422 a rule of the owning service, 503 PostgreSQL or Kafka not answering.
"""

import structlog
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from syncline_gateway.errors import (
    AuthenticationError,
    BadRequestError,
    ForbiddenError,
    PayloadTooLargeError,
    RejectedError,
)
from syncline_platform.errors import ConflictError, InvalidError, NotFoundError, SynclineError, UnavailableError

log = structlog.get_logger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "invalid",
    500: "internal",
    503: "unavailable",
}

_REJECTION_STATUS = {"not_found": 404, "invalid": 422, "conflict": 409, "illegal_transition": 409}

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


def error_response(status: int, message: str) -> JSONResponse:
    """One error in the native shape."""
    body = {"error": {"status": status, "code": CODES.get(status, "error"), "message": message}}
    headers = {"WWW-Authenticate": 'Bearer realm="syncline"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def status_of(exc: Exception) -> int:
    """The HTTP status of an error."""
    if isinstance(exc, RejectedError):
        return _REJECTION_STATUS.get(exc.code, 422)
    return next((status for kind, status in _BY_KIND if isinstance(exc, kind)), 500)


def render(exc: Exception, request: Request | None = None) -> JSONResponse:
    """The native answer to `exc` (an unexpected one is a 500 that says nothing of its internals)."""
    if isinstance(exc, HTTPException):  # unknown paths and methods
        return error_response(exc.status_code, str(exc.detail))
    status = status_of(exc)
    if status == 500:
        log.error("native.unexpected_error", error=repr(exc), path=request.url.path if request else None, exc_info=exc)
        return error_response(500, "internal server error")
    return error_response(status, str(exc))
