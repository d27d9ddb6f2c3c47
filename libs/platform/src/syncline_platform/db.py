"""asyncpg pools: one per service, its search_path set to the service's own schema."""

import json
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from pydantic import SecretStr

Conn = asyncpg.Connection | PoolConnectionProxy
"""A connection, plain or borrowed from a pool; repositories take either."""


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(
    *, dsn: SecretStr, schema: str, application: str, max_size: int = 10, min_size: int = 1
) -> asyncpg.Pool:
    """A pool whose connections see the service schema first and decode json/jsonb to Python values."""
    pool = await asyncpg.create_pool(
        dsn.get_secret_value(),
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings={"search_path": f"{schema},public", "application_name": application},
    )
    assert pool is not None  # noqa: S101 - create_pool returns None only when not awaited
    return pool


async def connect(*, dsn: str, schema: str = "public") -> asyncpg.Connection:
    """One plain connection with the same codecs and search_path as the pools."""
    conn: asyncpg.Connection = await asyncpg.connect(dsn, server_settings={"search_path": f"{schema},public"})
    await _init_connection(conn)
    return conn


def record_dict(record: asyncpg.Record | None) -> dict[str, Any] | None:
    """A record as a dict, or None."""
    return dict(record) if record is not None else None
