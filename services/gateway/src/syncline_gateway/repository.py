"""SQL of the gateway: its own schema (organisations, keys) and read-only views of the others."""

from typing import Any

import asyncpg

from syncline_platform.db import Conn


async def create_org(conn: Conn, *, org_id: str, name: str) -> None:
    """Insert an organisation."""
    await conn.execute("INSERT INTO organizations (id, name) VALUES ($1, $2)", org_id, name)


async def org_exists(conn: Conn, *, org_id: str) -> bool:
    """Whether the organisation exists."""
    return bool(await conn.fetchval("SELECT 1 FROM organizations WHERE id = $1", org_id))


async def org_name(conn: Conn, *, org_id: str) -> str | None:
    """The organisation's name (None when it does not exist)."""
    name: str | None = await conn.fetchval("SELECT name FROM organizations WHERE id = $1", org_id)
    return name


async def create_key(conn: Conn, *, key_id: str, org_id: str, sealed_secret: str, partner: bool = False) -> None:
    """Insert a key pair; a partner key may act for any organisation."""
    await conn.execute(
        "INSERT INTO api_keys (id, org_id, sealed_secret, partner) VALUES ($1, $2, $3, $4)",
        key_id,
        org_id,
        sealed_secret,
        partner,
    )


async def find_key(conn: Conn, *, key_id: str) -> asyncpg.Record | None:
    """An active key by id."""
    return await conn.fetchrow(
        "SELECT id, org_id, sealed_secret, partner FROM api_keys WHERE id = $1 AND revoked_at IS NULL", key_id
    )


async def get_connector(conn: Conn, *, org_id: str, connector_id: str) -> dict[str, Any] | None:
    """A connector of the organisation (policy's store)."""
    row = await conn.fetchrow(
        "SELECT * FROM policy_read.connectors WHERE org_id = $1 AND id = $2", org_id, connector_id
    )
    return dict(row) if row else None


async def list_connectors(
    conn: Conn, *, org_id: str, offset: int, limit: int, filters: dict[str, list[str] | None]
) -> tuple[int, list[dict[str, Any]]]:
    """A page of the organisation's connectors, and how many match."""
    where = "org_id = $1 AND ($2::text[] IS NULL OR id = ANY($2)) AND ($3::text[] IS NULL OR index_name = ANY($3))"
    where += " AND ($4::text[] IS NULL OR name = ANY($4)) AND ($5::text[] IS NULL OR service_type = ANY($5))"
    where += " AND ($6::text IS NULL OR name ILIKE '%' || $6 || '%' OR description ILIKE '%' || $6 || '%')"
    args: list[Any] = [
        org_id,
        filters.get("ids"),
        filters.get("index_name"),
        filters.get("connector_name"),
        filters.get("service_type"),
        next(iter(filters.get("query") or ()), None),
    ]
    total: int = await conn.fetchval(f"SELECT count(*) FROM policy_read.connectors WHERE {where}", *args)
    rows = await conn.fetch(
        f"SELECT * FROM policy_read.connectors WHERE {where} ORDER BY name, id OFFSET $7 LIMIT $8",
        *args,
        offset,
        limit,
    )
    return total, [dict(r) for r in rows]


async def last_runs(conn: Conn, *, org_id: str, sync_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The latest terminal run of each sync, by sync id."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT ON (sync_id) * FROM scheduler_read.runs
        WHERE org_id = $1 AND sync_id = ANY($2) AND status IN ('completed', 'error', 'canceled')
        ORDER BY sync_id, created_at DESC
        """,
        org_id,
        sync_ids,
    )
    return {r["sync_id"]: dict(r) for r in rows}


async def sync_positions(conn: Conn, *, sync_key: str) -> dict[str, Any] | None:
    """The executor's lasting positions of a sync (incremental cursors), by object; None when there are none."""
    rows = await conn.fetch(
        "SELECT object, state FROM executor_read.sync_state WHERE sync_id = $1 ORDER BY object", sync_key
    )
    return {r["object"]: r["state"] for r in rows} or None


async def get_run(conn: Conn, *, org_id: str, run_id: str) -> dict[str, Any] | None:
    """A run of the organisation."""
    row = await conn.fetchrow("SELECT * FROM scheduler_read.runs WHERE org_id = $1 AND id = $2", org_id, run_id)
    return dict(row) if row else None


async def list_runs(
    conn: Conn,
    *,
    org_id: str,
    offset: int,
    limit: int,
    sync_id: str | None,
    statuses: list[str] | None,
    job_types: list[str] | None,
) -> tuple[int, list[dict[str, Any]]]:
    """A page of runs, oldest first, and how many match."""
    where = "org_id = $1 AND ($2::text IS NULL OR sync_id = $2) AND ($3::text[] IS NULL OR status = ANY($3))"
    where += " AND ($4::text[] IS NULL OR job_type = ANY($4))"
    args: list[Any] = [org_id, sync_id, statuses, job_types]
    total: int = await conn.fetchval(f"SELECT count(*) FROM scheduler_read.runs WHERE {where}", *args)
    rows = await conn.fetch(
        f"SELECT * FROM scheduler_read.runs WHERE {where} ORDER BY created_at, id OFFSET $5 LIMIT $6",
        *args,
        offset,
        limit,
    )
    return total, [dict(r) for r in rows]
