"""Idempotency keys for any dialect: the first outcome of a request made with a key is kept 24 hours and every
later request with the same key gets it again (status and body). A 5xx is never kept: it says Syncline could not
do the request now (Kafka or PostgreSQL away), so the key is released and a retry with it can still succeed.

- A key is 8-255 characters of `[A-Za-z0-9_-]`; anything else is a bad request.
- While the first request with a key is still in flight, another one with the same key gets `InFlightError`
  (409). An in-flight claim older than `LEASE` belongs to a request that died, and is taken over.
- The same key with a different request (method, path, query or JSON body) gets `KeyReusedError`. It is an
  `InvalidError`, so Polytomic answers 422 (the SDK retries a 409, which cannot succeed here).

Keys are scoped (e.g. per organisation), stored in `gateway.idempotency_keys`.
"""

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta

import asyncpg
import structlog
from fastapi import Response

from syncline_gateway.errors import BadRequestError
from syncline_platform.db import Conn
from syncline_platform.errors import ConflictError, InvalidError
from syncline_platform.retention import Purge, RetentionSettings, by_age

log = structlog.get_logger(__name__)

KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,255}")
RETENTION = timedelta(hours=24)
"""How long an outcome is replayed."""
LEASE = timedelta(seconds=60)
"""How long an in-flight claim holds before another request may take it over."""
REPLAYED_HEADER = "Idempotent-Replayed"


class InFlightError(ConflictError):
    """The first request with this key has not finished."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"a request with idempotency key [{key}] is still in progress; retry later")


class KeyReusedError(InvalidError):
    """The key was first used for a different request."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"idempotency key [{key}] was already used for a different request")


def fingerprint(*, method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests the same: method, path, query and the JSON body (key order and spacing aside)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode() if body else b""
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), canonical):
        digest.update(part + b"\0")
    return digest.hexdigest()


def check_key(key: str) -> str:
    """The key, when it has the right shape."""
    if not KEY_PATTERN.fullmatch(key):
        raise BadRequestError("Idempotency-Key must be 8-255 characters of letters, digits, '-' and '_'")
    return key


_CLAIM = """
INSERT INTO idempotency_keys (scope, key, fingerprint) VALUES ($1, $2, $3)
ON CONFLICT (scope, key) DO UPDATE
    SET fingerprint = EXCLUDED.fingerprint, status = NULL, headers = '{}', body = NULL,
        created_at = now(), claimed_at = now()
    WHERE idempotency_keys.created_at < now() - $4::interval
       OR (idempotency_keys.status IS NULL AND idempotency_keys.claimed_at < now() - $5::interval
           AND idempotency_keys.fingerprint = EXCLUDED.fingerprint)
RETURNING 1
"""


async def _claim(conn: Conn, *, scope: str, key: str, print_: str) -> Response | None:
    """None when this request now holds the key; the stored outcome to replay otherwise."""
    if await conn.fetchval(_CLAIM, scope, key, print_, RETENTION, LEASE) is not None:
        return None
    row = await conn.fetchrow(
        "SELECT fingerprint, status, headers, body FROM idempotency_keys WHERE scope = $1 AND key = $2", scope, key
    )
    if row is None:  # expired and purged between the two statements: claim again
        return await _claim(conn, scope=scope, key=key, print_=print_)
    if row["fingerprint"] != print_:
        raise KeyReusedError(key)
    if row["status"] is None:
        raise InFlightError(key)
    headers = dict(row["headers"]) | {REPLAYED_HEADER: "true"}
    return Response(content=bytes(row["body"]), status_code=row["status"], headers=headers)


async def _finish(pool: asyncpg.Pool, *, scope: str, key: str, response: Response) -> None:
    headers = {k: v for k, v in response.headers.items() if k.lower() == "content-type"}
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE idempotency_keys SET status = $3, headers = $4, body = $5 WHERE scope = $1 AND key = $2",
            scope,
            key,
            response.status_code,
            headers,
            bytes(response.body),
        )


async def run_once(
    *,
    pool: asyncpg.Pool,
    scope: str,
    key: str,
    request_print: str,
    handler: Callable[[], Awaitable[Response]],
    on_error: Callable[[Exception], Response],
) -> Response:
    """The response of `handler` for the first request with `key` in `scope`, replayed for later ones.
    `on_error` turns whatever the handler raises into the response to keep (and answer)."""
    check_key(key)
    async with pool.acquire() as conn:
        replay = await _claim(conn, scope=scope, key=key, print_=request_print)
    if replay is not None:
        log.info("idempotency.replayed", key=key, status=replay.status_code)
        return replay
    try:
        response = await handler()
    except Exception as exc:  # client errors are kept too: the key answers the same from now on
        response = on_error(exc)
    if response.status_code >= 500:
        await _release(pool, scope=scope, key=key)
        log.info("idempotency.released", key=key, status=response.status_code)
    else:
        await _finish(pool, scope=scope, key=key, response=response)
    return response


async def _release(pool: asyncpg.Pool, *, scope: str, key: str) -> None:
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status IS NULL", scope, key)


def keys_purge(settings: RetentionSettings) -> Purge:
    """Retention of stored outcomes (by the gateway's retention loop): never sooner than they are replayed for."""
    keep = max(RETENTION, timedelta(hours=settings.idempotency_hours))
    return by_age("idempotency_keys", table="idempotency_keys", column="created_at", keep=keep)
