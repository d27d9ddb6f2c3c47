"""Idempotency keys over real PostgreSQL: a client error is kept and replayed, a 5xx is not (the key is released,
so the client's retry with the same key can succeed once the broker or database is back)."""

from collections.abc import AsyncIterator

import asyncpg
import pytest
from fastapi import Response
from pydantic import SecretStr
from tests.support.infra import unique

from syncline_gateway import idempotency
from syncline_gateway.service import MIGRATIONS
from syncline_platform.db import create_pool
from syncline_platform.migrations import apply_migrations

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    await apply_migrations(dsn=SecretStr(database), schema="gateway", directory=MIGRATIONS)
    pool = await create_pool(dsn=SecretStr(database), schema="gateway", application="test")
    yield pool
    await pool.close()


async def _once(pool: asyncpg.Pool, key: str, status: int, body: bytes) -> Response:
    async def handler() -> Response:
        return Response(content=body, status_code=status)

    return await idempotency.run_once(
        pool=pool,
        scope="org",
        key=key,
        request_print="p",
        handler=handler,
        on_error=lambda exc: Response(status_code=500),
    )


async def test_a_5xx_is_not_kept_but_a_success_and_a_client_error_are(pool: asyncpg.Pool) -> None:
    key = unique("key-")
    assert (await _once(pool, key, 503, b"kafka away")).status_code == 503
    retried = await _once(pool, key, 201, b"created")  # the retry runs for real
    assert (retried.status_code, retried.body) == (201, b"created")
    again = await _once(pool, key, 201, b"created twice")  # and from now on the key answers with it
    assert (again.status_code, again.body, again.headers[idempotency.REPLAYED_HEADER]) == (201, b"created", "true")

    refused = unique("key-")
    assert (await _once(pool, refused, 422, b"bad")).status_code == 422
    replay = await _once(pool, refused, 201, b"good")
    assert (replay.status_code, replay.body) == (422, b"bad")
