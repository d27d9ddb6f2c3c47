"""AWS SigV4 for the AppIntegrations dialect: the key pair is the access key id and secret, the service
`app-integrations`, any region (the request's region scopes every resource it reaches). Verified by the gateway's
signature core (`syncline_gateway.signatures`) against the raw request, with a 15-minute clock skew."""

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request

from syncline_gateway.credentials import Credentials, Principal
from syncline_gateway.errors import AuthenticationError
from syncline_gateway.signatures import (
    SignatureError,
    SignatureErrorKind,
    parse_sigv4,
    signed_request_of,
    verify_sigv4,
)

SECURITY: dict[str, dict[str, str]] = {
    "awsSigV4": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "AWS Signature Version 4 (service app-integrations): the key pair's id and secret",
        "x-amazon-apigateway-authtype": "awsSigv4",
    }
}
"""The scheme as the gateway's OpenAPI document declares it."""

SERVICE = "app-integrations"


@dataclass(frozen=True)
class AwsCaller:
    """The verified caller and the region its request was signed for."""

    principal: Principal
    region: str

    @property
    def org_id(self) -> str:
        return self.principal.org_id


async def caller_of(request: Request) -> AwsCaller:
    """The caller of a SigV4-signed request; `SignatureError` when it cannot be accepted."""
    signed = await signed_request_of(request)
    auth = parse_sigv4(signed)
    credentials: Credentials = request.app.state.credentials
    try:
        org_id, secret = await credentials.secret_of(auth.key_id)
    except AuthenticationError as exc:
        raise SignatureError(
            SignatureErrorKind.UNKNOWN_KEY, "The security token included in the request is invalid."
        ) from exc
    verify_sigv4(signed, auth, secret=secret, now=datetime.now(UTC), service=SERVICE)
    return AwsCaller(principal=Principal(org_id=org_id, key_id=auth.key_id), region=auth.region)


async def authenticate(request: Request) -> Principal:
    """The registry's hook: the caller's principal."""
    return (await caller_of(request)).principal
