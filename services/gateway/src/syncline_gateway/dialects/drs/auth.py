"""Huawei AK/SK: every request is signed `SDK-HMAC-SHA256` with the key pair's secret (the gateway's signature core
verifies it, `X-Sdk-Date` within 15 minutes), and acts in a project of the key's organisation: the path's
`project_id` and `X-Project-Id` must agree, and the project must be the organisation's."""

import re
from datetime import UTC, datetime

from fastapi import Request

from syncline_gateway import projects
from syncline_gateway.credentials import Credentials, Principal
from syncline_gateway.dialects.drs.errors import FORBIDDEN, INVALID, DrsRequestError
from syncline_gateway.errors import AuthenticationError
from syncline_gateway.routing import pool_of
from syncline_gateway.signatures import (
    SignatureError,
    SignatureErrorKind,
    parse_sdk_hmac,
    signed_request_of,
    verify_sdk_hmac,
)

SECURITY: dict[str, dict[str, str]] = {
    "huaweiAkSk": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "Huawei AK/SK: SDK-HMAC-SHA256 over the request with the key pair's secret, X-Sdk-Date within"
        " 15 minutes, X-Project-Id the path's project",
    }
}
"""The scheme as the gateway's OpenAPI document declares it."""

_PROJECT_ID = re.compile(r"^[0-9a-f]{32}$")


async def authenticate(request: Request) -> Principal:
    """The caller, from a request signed with its key pair."""
    signed = await signed_request_of(request)
    auth = parse_sdk_hmac(signed)
    credentials: Credentials = request.app.state.credentials
    try:
        org_id, secret = await credentials.secret_of(auth.key_id)
    except AuthenticationError as exc:
        raise SignatureError(SignatureErrorKind.UNKNOWN_KEY, f"unknown access key [{auth.key_id}]") from exc
    verify_sdk_hmac(signed, auth, secret=secret, now=datetime.now(UTC))
    return Principal(org_id=org_id, key_id=auth.key_id)


async def project_in_scope(request: Request, caller: Principal, project_id: str) -> str:
    """The project the request acts in: the path's, equal to `X-Project-Id`, one of the caller's organisation."""
    if not _PROJECT_ID.match(project_id):
        raise DrsRequestError(status=400, code=INVALID, message="The value of project_id is invalid.")
    header = request.headers.get("x-project-id")
    if header != project_id:
        raise DrsRequestError(
            status=400, code=INVALID, message="The value of X-Project-Id does not match the project_id in the path."
        )
    async with pool_of(request).acquire() as conn:
        owner = await projects.org_of(conn, project_id=project_id)
    if owner != caller.org_id:
        raise DrsRequestError(
            status=403, code=FORBIDDEN, message=f"Invalid project ID: {project_id} is not a project of this account."
        )
    return project_id
