"""Huawei's error bodies, `{"error_code", "error_msg"}` with an `X-Request-Id` header, for every error of the dialect.

- A signature that cannot be accepted (missing, malformed, unknown key, wrong, stale `X-Sdk-Date`): 401
  `APIGW.0301` as Huawei's API gateway words it (the SDK raises `ClientRequestException`).
- A path or method no DRS route serves: 404 `APIGW.0101`.
- A request DRS itself refuses (a malformed envelope, a project that disagrees with `X-Project-Id`, another
  account's project): `DrsRequestError` with DRS's status and code. Items of a batch fail in its answer instead.
"""

import structlog
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from syncline_gateway.dialects.drs.models import DrsError
from syncline_gateway.errors import AuthenticationError, BadRequestError, PayloadTooLargeError, RejectedError
from syncline_gateway.openapi_bodies import answers
from syncline_platform.errors import SynclineError, UnavailableError

log = structlog.get_logger(__name__)

INVALID = "DRS.M00202"
EMPTY = "DRS.M00201"
FAILED = "DRS.10000001"
FORBIDDEN = "DRS.M00261"
"""403 "Invalid project ID.", as DRS's error code table words a project that is not the caller's."""
AUTH = "APIGW.0301"
NO_API = "APIGW.0101"
ANSWERS = answers(dict.fromkeys((400, 401, 403, 404, 413, 503, "default"), DrsError))
"""The errors every route may answer, in the OpenAPI document: any status a route does not list is an error in
this body."""


class DrsRequestError(SynclineError):
    """A whole request DRS refuses, with its status and code."""

    def __init__(self, *, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(message)


def request_id(request: Request | None) -> str:
    """The request's id as Huawei shows it: 32 hex."""
    raw = getattr(request.state, "request_id", "") if request is not None else ""
    return raw.replace("-", "")[:32] or "0" * 32


def error_response(status: int, code: str, message: str, *, request: Request | None) -> JSONResponse:
    """One error in Huawei's shape."""
    return JSONResponse(
        {"error_code": code, "error_msg": message},
        status_code=status,
        headers={"X-Request-Id": request_id(request)},
    )


def _answer(exc: Exception) -> tuple[int, str, str]:  # noqa: PLR0911 - one answer per kind
    match exc:
        case DrsRequestError():
            return exc.status, exc.code, exc.message
        case AuthenticationError():
            return 401, AUTH, f"Incorrect IAM authentication information: {exc}"
        case PayloadTooLargeError():
            return 413, INVALID, str(exc)
        case BadRequestError():
            return 400, INVALID, str(exc)
        case RejectedError():
            return 400, FAILED, exc.reason
        case UnavailableError():
            return 503, FAILED, "The service is temporarily unavailable."
        case HTTPException() if exc.status_code in (404, 405):
            return 404, NO_API, "The API does not exist or has not been published in the environment"
        case HTTPException():
            return exc.status_code, FAILED, str(exc.detail)
        case _:
            return 500, FAILED, "Failed."


def render(exc: Exception, request: Request | None = None) -> JSONResponse:
    """The Huawei answer to `exc` (an unexpected one is a 500 that says nothing of its internals)."""
    status, code, message = _answer(exc)
    if status == 500:
        log.error("drs.unexpected_error", error=repr(exc), exc_info=exc)
    return error_response(status, code, message, request=request)
