"""Elasticsearch authorization: `ApiKey base64(id:secret)`, `Basic base64(id:secret)` or `Bearer base64(id:secret)`."""

from fastapi import Request

from syncline_gateway.credentials import Credentials, Principal, split_token
from syncline_gateway.errors import AuthenticationError

SECURITY: dict[str, dict[str, str]] = {
    "elasticApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "ApiKey base64(id:secret) of a key pair",
    },
    "elasticBasic": {"type": "http", "scheme": "basic", "description": "Basic base64(id:secret) of a key pair"},
    "elasticBearer": {"type": "http", "scheme": "bearer", "description": "Bearer base64(id:secret) of a key pair"},
}
"""The schemes as the gateway's OpenAPI document declares them."""

_SCHEMES = {"apikey", "basic", "bearer"}


async def authenticate(request: Request) -> Principal:
    """The caller, from the Authorization header."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in _SCHEMES or not token.strip():
        raise AuthenticationError("missing authentication credentials")
    key_id, secret = split_token(token.strip())
    credentials: Credentials = request.app.state.credentials
    return await credentials.verify(key_id, secret)
