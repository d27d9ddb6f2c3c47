"""Elasticsearch's error body: `{"error": {"root_cause": [...], "type", "reason"}, "status"}`, and its product
header. An unexpected error is a bare `500 Internal Server Error` that says nothing of its internals."""

from fastapi import Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException

from syncline_gateway.dialects.elastic.models import ElasticError
from syncline_gateway.errors import AuthenticationError, BadRequestError, PayloadTooLargeError, RejectedError
from syncline_gateway.openapi_bodies import answers
from syncline_platform.errors import (
    ConflictError,
    IllegalTransitionError,
    InvalidError,
    NotFoundError,
    SynclineError,
    UnavailableError,
)

PRODUCT_HEADER = {"X-Elastic-Product": "Elasticsearch"}
"""On every answer: the official client refuses a 2xx answer without it."""
ANSWERS = answers(dict.fromkeys((400, 401, 404, 409, 413, 503, "default"), ElasticError))
"""The errors every route may answer, in the OpenAPI document: any status a route does not list is an error in
this body (but an unexpected error: a bare-text 500); FastAPI's own 422 never happens (a bad query is a 400)."""

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
    if isinstance(exc, PayloadTooLargeError):
        return 413, "content_too_long_exception", str(exc), {}
    if isinstance(exc, RejectedError):
        status, kind = _REJECTION_STATUS.get(exc.code, (400, "illegal_argument_exception"))
        return status, kind, exc.reason, {}
    if isinstance(exc, BadRequestError):
        kind = "x_content_parse_exception" if exc.kind == "parse" else "action_request_validation_exception"
        return 400, kind, str(exc), {}
    status, kind = next(((st, k) for t, st, k in _BY_KIND if isinstance(exc, t)), (500, "exception"))
    return status, kind, str(exc), {}


def _unrouted(exc: HTTPException, request: Request) -> JSONResponse:
    where = f"uri [{request.url.path}] and method [{request.method}]"
    if exc.status_code == 405:
        return error_response(405, "method_not_allowed_exception", f"Incorrect HTTP method for {where}")
    kind = "resource_not_found_exception" if exc.status_code == 404 else "exception"
    return error_response(exc.status_code, kind, f"no handler found for {where}")


def render(exc: Exception, request: Request) -> Response:
    """The Elasticsearch answer to `exc`."""
    if isinstance(exc, HTTPException):
        return _unrouted(exc, request)
    if not isinstance(exc, SynclineError):
        return PlainTextResponse("Internal Server Error", status_code=500)
    status, kind, reason, headers = _classify(exc, request)
    return error_response(status, kind, reason, headers=headers)
