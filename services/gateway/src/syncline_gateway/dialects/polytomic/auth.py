"""Polytomic authorization: `Authorization: Bearer base64(id:secret)` (or `Basic`, the organisation-scoped key
of the 2025-09-18 docs). Every request acts for its key's organisation; a partner key may name another one."""

import asyncpg
from fastapi import Request

from syncline_gateway import repository
from syncline_gateway.credentials import Credentials, Principal, split_token
from syncline_gateway.errors import AuthenticationError, BadRequestError, ForbiddenError

SECURITY: dict[str, dict[str, str]] = {
    "polytomicBearer": {"type": "http", "scheme": "bearer", "description": "Bearer base64(id:secret) of a key pair"},
    "polytomicBasic": {"type": "http", "scheme": "basic", "description": "Basic base64(id:secret) of a key pair"},
}
"""The schemes as the gateway's OpenAPI document declares them."""

_SCHEMES = {"bearer", "basic"}


async def authenticate(request: Request) -> Principal:
    """The caller, from the Authorization header."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() not in _SCHEMES or not token.strip():
        raise AuthenticationError("missing API key: send Authorization: Bearer <key>")
    key_id, secret = split_token(token.strip())
    credentials: Credentials = request.app.state.credentials
    return await credentials.verify(key_id, secret)


async def acting_org(request: Request, caller: Principal, organization_id: str | None) -> str:
    """The organisation a create acts for: the caller's own, or the one a partner key names."""
    if not organization_id or organization_id == caller.org_id:
        return caller.org_id
    if not caller.partner:
        raise ForbiddenError(
            f"this API key may not act for organization {organization_id}; only partner keys act for other "
            "organizations"
        )
    pool: asyncpg.Pool = request.app.state.pool
    async with pool.acquire() as conn:
        if not await repository.org_exists(conn, org_id=organization_id):
            raise BadRequestError(f"organization {organization_id} does not exist")
    return organization_id


def scope(caller: Principal) -> str | None:
    """The organisation reads are limited to: the caller's, or none for a partner key."""
    return None if caller.partner else caller.org_id
