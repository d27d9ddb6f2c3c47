"""SQL of the Polytomic dialect: reads of policy's connections and syncs and of the scheduler's runs (read-only),
and the organisation's webhook, which the gateway owns (`gateway.webhooks`).

`org_id=None` reads across organisations (partner keys)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from syncline_platform.db import Conn

_IN_ORG = "($1::text IS NULL OR org_id = $1)"


async def connection(conn: Conn, *, org_id: str | None, connection_id: str) -> dict[str, Any] | None:
    """A connection."""
    row = await conn.fetchrow(
        f"SELECT * FROM policy_read.connections WHERE {_IN_ORG} AND id = $2", org_id, connection_id
    )
    return dict(row) if row else None


async def connections(conn: Conn, *, org_id: str | None) -> list[dict[str, Any]]:
    """Every connection, by name."""
    rows = await conn.fetch(f"SELECT * FROM policy_read.connections WHERE {_IN_ORG} ORDER BY name, id", org_id)
    return [dict(r) for r in rows]


async def sync(conn: Conn, *, org_id: str | None, sync_id: str) -> dict[str, Any] | None:
    """A bulk sync."""
    row = await conn.fetchrow(
        f"SELECT * FROM policy_read.syncs WHERE {_IN_ORG} AND id = $2 AND dialect = 'polytomic'", org_id, sync_id
    )
    return dict(row) if row else None


async def syncs_page(
    conn: Conn, *, org_id: str | None, active: bool | None, after: tuple[datetime, str] | None, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` bulk syncs, most recently updated first (id breaks ties), after a page token's position."""
    rows = await conn.fetch(
        f"""
        SELECT * FROM policy_read.syncs
        WHERE {_IN_ORG} AND dialect = 'polytomic' AND ($2::boolean IS NULL OR active = $2)
          AND ($3::timestamptz IS NULL OR updated_at < $3 OR (updated_at = $3 AND id > $4))
        ORDER BY updated_at DESC, id
        LIMIT $5
        """,
        org_id,
        active,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [dict(r) for r in rows]


async def schedules(conn: Conn, *, sync_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The schedules of some syncs, default first, by sync id."""
    rows = await conn.fetch(
        "SELECT * FROM policy_read.sync_schedules WHERE sync_id = ANY($1)"
        " ORDER BY sync_id, is_default DESC, position, id",
        sync_ids,
    )
    by_sync: dict[str, list[dict[str, Any]]] = {s: [] for s in sync_ids}
    for row in rows:
        by_sync[row["sync_id"]].append(dict(row))
    return by_sync


async def objects(conn: Conn, *, sync_id: str, enabled: bool | None = None) -> list[dict[str, Any]]:
    """A sync's objects (schemas) in selection order."""
    rows = await conn.fetch(
        "SELECT * FROM policy_read.sync_objects WHERE sync_id = $1 AND ($2::boolean IS NULL OR enabled = $2)"
        " ORDER BY position, id",
        sync_id,
        enabled,
    )
    return [dict(r) for r in rows]


def run_covers(*, run: str, obj: str) -> str:
    """SQL: whether run `run` (an alias of `scheduler_read.runs`) moves object `obj` (an SQL expression of its id): the
    run's `schemas` subset names it, or the run has no subset and its spec snapshot holds the object (an object
    enabled after a full run started is not part of it)."""
    return f"""
    ({run}.options->'schemas' ? {obj}
     OR (coalesce({run}.options->'schemas', '[]') IN ('[]'::jsonb, 'null'::jsonb)
         AND EXISTS (
             SELECT 1 FROM jsonb_array_elements(coalesce({run}.connector->'spec'->'objects', '[]')) x
             WHERE concat_ws('.', nullif(x->>'schema_name', ''), x->>'name') = {obj})))
    """


async def runs_with_object(
    conn: Conn, *, org_id: str, sync_id: str, obj: str, statuses: Sequence[str]
) -> list[dict[str, Any]]:
    """The sync's runs in one of `statuses` (read from the scheduler's runs) that move an object (`run_covers`);
    newest first."""
    rows = await conn.fetch(
        f"""
        SELECT * FROM scheduler_read.runs r
        WHERE org_id = $1 AND sync_id = $2 AND status = ANY($3::text[]) AND {run_covers(run="r", obj="$4::text")}
        ORDER BY created_at DESC, id
        """,
        org_id,
        sync_id,
        list(statuses),
        obj,
    )
    return [dict(r) for r in rows]


async def webhooks(conn: Conn, *, org_id: str | None) -> list[dict[str, Any]]:
    """The webhooks in scope (one per organisation)."""
    rows = await conn.fetch(f"SELECT * FROM webhooks WHERE {_IN_ORG} ORDER BY created_at, id", org_id)
    return [dict(r) for r in rows]


async def webhook(conn: Conn, *, org_id: str | None, webhook_id: str) -> dict[str, Any] | None:
    """A webhook."""
    row = await conn.fetchrow(f"SELECT * FROM webhooks WHERE {_IN_ORG} AND id = $2", org_id, webhook_id)
    return dict(row) if row else None


async def create_webhook(
    conn: Conn, *, org_id: str, webhook_id: str, endpoint: str, sealed_secret: str
) -> dict[str, Any] | None:
    """Insert the organisation's webhook; None when it already has one."""
    row = await conn.fetchrow(
        """
        INSERT INTO webhooks (id, org_id, endpoint, sealed_secret) VALUES ($1, $2, $3, $4)
        ON CONFLICT (org_id) DO NOTHING RETURNING *
        """,
        webhook_id,
        org_id,
        endpoint,
        sealed_secret,
    )
    return dict(row) if row else None


async def update_webhook(conn: Conn, *, webhook_id: str, endpoint: str, sealed_secret: str) -> dict[str, Any]:
    """Replace a webhook's endpoint and secret."""
    row = await conn.fetchrow(
        "UPDATE webhooks SET endpoint = $2, sealed_secret = $3, updated_at = now() WHERE id = $1 RETURNING *",
        webhook_id,
        endpoint,
        sealed_secret,
    )
    assert row is not None  # noqa: S101 - read in the same request
    return dict(row)


async def set_webhook_disabled(conn: Conn, *, webhook_id: str, disabled: bool, reason: str) -> dict[str, Any]:
    """Disable or enable a webhook."""
    row = await conn.fetchrow(
        """
        UPDATE webhooks SET disabled = $2, disabled_reason = $3,
            disabled_at = CASE WHEN $2 THEN now() ELSE NULL END, updated_at = now()
        WHERE id = $1 RETURNING *
        """,
        webhook_id,
        disabled,
        reason,
    )
    assert row is not None  # noqa: S101 - read in the same request
    return dict(row)


async def delete_webhook(conn: Conn, *, webhook_id: str) -> None:
    """Delete a webhook."""
    await conn.execute("DELETE FROM webhooks WHERE id = $1", webhook_id)
