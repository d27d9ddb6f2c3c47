"""Elasticsearch's error body: `{"error": {"root_cause": [...], "type", "reason"}, "status"}`."""

from fastapi import Request
from fastapi.responses import JSONResponse

from syncline_gateway.dialects.elastic import PRODUCT_HEADER
from syncline_gateway.errors import AuthenticationError, BadRequestError, RejectedError
from syncline_platform.errors import (
    ConflictError,
    IllegalTransitionError,
    InvalidError,
    NotFoundError,
    SynclineError,
    UnavailableError,
)

_REJECTION_STATUS = {
    "not_found": (404, "resource_not_found_exception"),
    "invalid": (400, "illegal_argument_exception"),
    "conflict": (409, "version_conflict_engine_exception"),
    "illegal_transition": (400, "status_exception"),
}


def error_response(status: int, error_type: str, reason: str, *, headers: dict[str, str] | None = None) -> JSONResponse:
    """One error in Elasticsearch's shape."""
    cause = {"type": error_type, "reason": reason}
    return JSONResponse(
        {"error": {"root_cause": [cause], **cause}, "status": status},
        status_code=status,
        headers=PRODUCT_HEADER | (headers or {}),
    )


_BY_KIND: tuple[tuple[type[SynclineError], int, str], ...] = (
    (NotFoundError, 404, "resource_not_found_exception"),
    (IllegalTransitionError, 400, "status_exception"),
    (ConflictError, 409, "version_conflict_engine_exception"),
    (InvalidError, 400, "illegal_argument_exception"),
    (UnavailableError, 503, "unavailable_shards_exception"),
)


def _classify(exc: SynclineError, request: Request) -> tuple[int, str, str, dict[str, str]]:
    if isinstance(exc, AuthenticationError):
        reason = (
            exc.reason
            if request.headers.get("authorization")
            else (f"missing authentication credentials for REST request [{request.url.path}]")
        )
        return 401, "security_exception", reason, {"WWW-Authenticate": 'ApiKey, Basic realm="security"'}
    if isinstance(exc, RejectedError):
        status, kind = _REJECTION_STATUS.get(exc.code, (400, "illegal_argument_exception"))
        return status, kind, exc.reason, {}
    if isinstance(exc, BadRequestError):
        kind = "x_content_parse_exception" if exc.kind == "parse" else "action_request_validation_exception"
        return 400, kind, str(exc), {}
    status, kind = next(((st, k) for t, st, k in _BY_KIND if isinstance(exc, t)), (500, "exception"))
    return status, kind, str(exc), {}


def render(exc: SynclineError, request: Request) -> JSONResponse:
    """The Elasticsearch answer to `exc`."""
    status, kind, reason, headers = _classify(exc, request)
    return error_response(status, kind, reason, headers=headers)
