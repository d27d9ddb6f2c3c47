"""Native authorization: `Authorization: Bearer base64(id:secret)` over the shared key store (`credentials`).
Every request acts for its key's organisation, a partner key's too: the native API reads and writes only the
caller's own organisation."""

from typing import Annotated

from fastapi import Depends, Request

from syncline_gateway.credentials import Credentials, Principal, split_token
from syncline_gateway.errors import AuthenticationError

SECURITY: dict[str, dict[str, str]] = {
    "nativeBearer": {"type": "http", "scheme": "bearer", "description": "Bearer base64(id:secret) of a key pair"}
}
"""The scheme as the gateway's OpenAPI document declares it."""


async def authenticate(request: Request) -> Principal:
    """The caller, from the Authorization header."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("missing API key: send Authorization: Bearer base64(key id:key secret)")
    key_id, secret = split_token(token.strip())
    credentials: Credentials = request.app.state.credentials
    return await credentials.verify(key_id, secret)


Caller = Annotated[Principal, Depends(authenticate)]
"""The authenticated caller of a route."""
