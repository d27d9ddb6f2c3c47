"""Key pairs and the organisation each request acts for. One pair serves every dialect:
`base64(id:secret)` as a Bearer token or ApiKey, the pair itself as AWS or Huawei access/secret keys."""

import base64
import binascii
import hmac
import secrets
import string
import time
from dataclasses import dataclass

import asyncpg

from syncline_gateway import repository
from syncline_gateway.errors import AuthenticationError
from syncline_platform.secrets import Sealer

_KEY_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Principal:
    """Who is calling: the organisation every read and command is scoped to."""

    org_id: str
    key_id: str
    partner: bool = False
    """A partner key may act for any organisation."""


@dataclass(frozen=True)
class KeyPair:
    """A new credential, shown once."""

    id: str
    secret: str

    @property
    def encoded(self) -> str:
        """`base64(id:secret)`: the Bearer token / Elasticsearch API key form."""
        return base64.b64encode(f"{self.id}:{self.secret}".encode()).decode()


def new_key_pair() -> KeyPair:
    """A fresh pair shaped like an AWS access key (20 upper-case characters) and secret (40 characters)."""
    key_id = "SL" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(18))
    return KeyPair(id=key_id, secret=secrets.token_urlsafe(30))


def split_token(token: str) -> tuple[str, str]:
    """`base64(id:secret)` → (id, secret)."""
    try:
        key_id, _, secret = base64.b64decode(token, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise AuthenticationError("the credential is not base64(id:secret)") from exc
    if not key_id or not secret:
        raise AuthenticationError("the credential is not base64(id:secret)")
    return key_id, secret


class Credentials:
    """Looks up key pairs; opened secrets are cached briefly so a request costs no decryption."""

    def __init__(self, *, pool: asyncpg.Pool, sealer: Sealer, cache_s: float) -> None:
        self.pool = pool
        self.sealer = sealer
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, str, str, bool]] = {}

    async def _lookup(self, key_id: str) -> tuple[str, str, bool]:
        cached = self._cache.get(key_id)
        if cached and cached[0] > time.monotonic():
            return cached[1], cached[2], cached[3]
        async with self.pool.acquire() as conn:
            row = await repository.find_key(conn, key_id=key_id)
        if row is None:
            raise AuthenticationError(f"unable to authenticate with provided credentials: unknown key [{key_id}]")
        secret = self.sealer.open(row["sealed_secret"])
        self._cache[key_id] = (time.monotonic() + self.cache_s, row["org_id"], secret, row["partner"])
        return row["org_id"], secret, row["partner"]

    def forget(self, key_id: str) -> None:
        """Drop a key's cached copy (it was revoked): this replica looks it up again at its next use. Other
        replicas keep theirs for at most `cache_s`."""
        self._cache.pop(key_id, None)

    async def secret_of(self, key_id: str) -> tuple[str, str]:
        """(org_id, secret) of an active key; raises AuthenticationError for an unknown one."""
        org_id, secret, _ = await self._lookup(key_id)
        return org_id, secret

    async def verify(self, key_id: str, secret: str) -> Principal:
        """The principal of a pair whose secret matches."""
        org_id, expected, partner = await self._lookup(key_id)
        if not hmac.compare_digest(expected.encode(), secret.encode()):
            raise AuthenticationError("unable to authenticate with provided credentials")
        return Principal(org_id=org_id, key_id=key_id, partner=partner)
