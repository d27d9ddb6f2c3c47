"""AWS's REST-JSON errors for every error of the dialect: the status, `x-amzn-ErrorType: <Code>`,
`x-amzn-RequestId`, and a body `{"__type", "message", "Message"}`, which botocore turns into the modeled
exception class of the code (or a `ClientError` carrying it for the authentication codes, which are not modeled).

Parse and rule problems are `InvalidRequestException` (400); signatures are refused as AWS does
(`MissingAuthenticationTokenException`, `IncompleteSignatureException`, `UnrecognizedClientException`,
`InvalidSignatureException`); unknown resources are `ResourceNotFoundException` (404); an unexpected error is
`InternalServiceError` (500), which boto3 retries (nothing is ever kept against a `ClientToken` on failure).
"""

from typing import Any

import structlog
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from syncline_gateway.dialects.appintegrations.models import AwsErrorOut
from syncline_gateway.errors import AuthenticationError, BadRequestError, PayloadTooLargeError, RejectedError
from syncline_gateway.signatures import SignatureError, SignatureErrorKind
from syncline_platform.errors import ConflictError, InvalidError, NotFoundError, SynclineError, UnavailableError

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "x-amzn-RequestId"


class AwsError(SynclineError):
    """An error answered with a given AWS code and status."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        self.code = code
        self.status = status
        super().__init__(message)


def unsupported(operation: str) -> AwsError:
    """What the Application and EventIntegration operations answer: Syncline has no such resources."""
    return AwsError(
        "UnsupportedOperationException",
        f"{operation} is not supported by Syncline: only data integrations (and their associations and tags) are",
    )


_SIGNATURE_CODES: dict[SignatureErrorKind, tuple[str, int]] = {
    SignatureErrorKind.MISSING: ("MissingAuthenticationTokenException", 403),
    SignatureErrorKind.MALFORMED: ("IncompleteSignatureException", 400),
    SignatureErrorKind.UNKNOWN_KEY: ("UnrecognizedClientException", 403),
    SignatureErrorKind.BAD_SIGNATURE: ("InvalidSignatureException", 403),
    SignatureErrorKind.EXPIRED: ("InvalidSignatureException", 403),
    SignatureErrorKind.BODY_HASH: ("InvalidSignatureException", 403),
}
_REJECTION_CODES: dict[str, tuple[str, int]] = {
    "not_found": ("ResourceNotFoundException", 404),
    "conflict": ("DuplicateResourceException", 409),
}


_BY_KIND: tuple[tuple[type[Exception], tuple[str, int]], ...] = (
    (AuthenticationError, ("UnrecognizedClientException", 403)),
    (PayloadTooLargeError, ("InvalidRequestException", 413)),
    (BadRequestError, ("InvalidRequestException", 400)),
    (InvalidError, ("InvalidRequestException", 400)),
    (NotFoundError, ("ResourceNotFoundException", 404)),
    (ConflictError, ("DuplicateResourceException", 409)),
    (UnavailableError, ("ServiceUnavailableException", 503)),  # retried by the SDKs
)


def code_of(exc: Exception) -> tuple[str, int]:
    """The AWS error code and HTTP status of an error."""
    if isinstance(exc, AwsError):
        return exc.code, exc.status
    if isinstance(exc, SignatureError):
        return _SIGNATURE_CODES[exc.kind]
    if isinstance(exc, RejectedError):
        return _REJECTION_CODES.get(exc.code, ("InvalidRequestException", 400))
    return next((found for kind, found in _BY_KIND if isinstance(exc, kind)), ("InternalServiceError", 500))


def error_response(request: Request | None, code: str, status: int, message: str) -> JSONResponse:
    """One error in AWS's REST-JSON shape."""
    request_id = getattr(request.state, "request_id", "") if request is not None else ""
    headers = {"x-amzn-ErrorType": code, REQUEST_ID_HEADER: request_id}
    body = {"__type": code, "message": message, "Message": message}
    return JSONResponse(body, status_code=status, headers=headers)


def render(exc: Exception, request: Request | None = None) -> JSONResponse:
    """The AWS answer to `exc` (an unexpected one is a 500 that says nothing of its internals)."""
    if isinstance(exc, HTTPException):  # unknown paths and methods
        code = "UnknownOperationException" if exc.status_code in (404, 405) else "InvalidRequestException"
        return error_response(request, code, exc.status_code, str(exc.detail))
    code, status = code_of(exc)
    if status >= 500:
        path = request.url.path if request is not None else None
        log.error("appintegrations.unexpected_error", error=repr(exc), path=path, exc_info=exc)
        return error_response(request, code, status, "An internal error occurred; try again")
    return error_response(request, code, status, str(exc))


_CODES_BY_STATUS: dict[int, tuple[str, ...]] = {
    400: ("InvalidRequestException", "IncompleteSignatureException"),
    403: ("MissingAuthenticationTokenException", "UnrecognizedClientException", "InvalidSignatureException"),
    404: ("ResourceNotFoundException",),
    409: ("DuplicateResourceException",),
    413: ("InvalidRequestException",),
    429: ("ResourceQuotaExceededException",),
    500: ("InternalServiceError",),
    503: ("ServiceUnavailableException",),
}
_ALWAYS = (400, 403, 413, 500, 503)
"""What any operation may answer: a bad or unsigned request, a body past the limit, an unexpected error, a
dependency down."""


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of an operation for its OpenAPI document (`responses=`): those of every operation plus
    `statuses`, each with AWS's body and `x-amzn-ErrorType`; `default` covers the rest (unknown methods)."""
    header = {"x-amzn-ErrorType": {"description": "The error code", "schema": {"type": "string"}}}
    answers: dict[int | str, dict[str, Any]] = {
        status: {"model": AwsErrorOut, "description": ", ".join(_CODES_BY_STATUS[status]), "headers": header}
        for status in sorted({*_ALWAYS, *statuses})
    }
    answers["default"] = {"model": AwsErrorOut, "description": "Any other AWS error", "headers": header}
    return answers
