"""SQL of bulk-sync executions: reads of the scheduler's runs and schedules and the executor's per-object
checkpoints (read-only).

A bulk sync's runs are those of its organisation with its id: other organisations' connectors may carry the same
id (Elastic connector ids are the client's), so every read by sync id also filters by the sync's organisation."""

from datetime import datetime
from typing import Any

from syncline_platform.db import Conn

ACTIVE = ("pending", "in_progress", "canceling", "suspended")
"""Run statuses of an execution still going."""
TERMINAL = ("completed", "canceled", "error")
"""Run statuses of a finished execution."""
OF_SYNC = "org_id = (SELECT s.org_id FROM policy_read.syncs s WHERE s.id = $1)"
"""SQL: the row (of `scheduler_read.runs` or `scheduler_read.schedules`, sync id in `$1`) is of the bulk sync's
organisation."""


async def run(conn: Conn, *, sync_id: str, run_id: str) -> dict[str, Any] | None:
    """One run of a sync."""
    row = await conn.fetchrow(
        f"SELECT * FROM scheduler_read.runs WHERE sync_id = $1 AND {OF_SYNC} AND id = $2", sync_id, run_id
    )
    return dict(row) if row else None


async def active_run(conn: Conn, *, sync_id: str) -> dict[str, Any] | None:
    """The sync's run still going (the newest), or None."""
    row = await conn.fetchrow(
        f"""
        SELECT * FROM scheduler_read.runs WHERE sync_id = $1 AND {OF_SYNC} AND status = ANY($2::text[])
        ORDER BY created_at DESC LIMIT 1
        """,
        sync_id,
        list(ACTIVE),
    )
    return dict(row) if row else None


async def last_terminal_run(conn: Conn, *, sync_id: str) -> dict[str, Any] | None:
    """The sync's most recently finished run, or None."""
    row = await conn.fetchrow(
        f"""
        SELECT * FROM scheduler_read.runs WHERE sync_id = $1 AND {OF_SYNC} AND status = ANY($2::text[])
        ORDER BY coalesce(completed_at, canceled_at, created_at) DESC, id DESC LIMIT 1
        """,
        sync_id,
        list(TERMINAL),
    )
    return dict(row) if row else None


async def runs_page(
    conn: Conn,
    *,
    sync_id: str,
    only_terminal: bool,
    ascending: bool,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """A page of the sync's runs, newest first (or oldest with `ascending`), after a page token's position."""
    order = "ASC" if ascending else "DESC"
    compare = ">" if ascending else "<"
    rows = await conn.fetch(
        f"""
        SELECT * FROM scheduler_read.runs
        WHERE sync_id = $1 AND {OF_SYNC} AND ($2::boolean IS NOT TRUE OR status = ANY($3::text[]))
          AND ($4::timestamptz IS NULL OR (created_at, id) {compare} ($4, $5))
        ORDER BY created_at {order}, id {order}
        LIMIT $6
        """,
        sync_id,
        only_terminal,
        list(TERMINAL),
        after[0] if after else None,
        after[1] if after else "",
        limit,
    )
    return [dict(r) for r in rows]


async def checkpoints(conn: Conn, *, run_id: str) -> dict[str, dict[str, Any]]:
    """Per object, what the run (the first run of its retry chain, whose checkpoints it continues) moved."""
    rows = await conn.fetch(
        """
        WITH RECURSIVE chain AS (
            SELECT id, retry_of FROM scheduler_read.runs WHERE id = $1
            UNION ALL
            SELECT r.id, r.retry_of FROM scheduler_read.runs r JOIN chain c ON r.id = c.retry_of
        )
        SELECT object, done, rows_read, rows_written, rows_deleted, outcome, error, updated_at
        FROM executor_read.checkpoints
        WHERE run_id = (SELECT id FROM chain WHERE retry_of IS NULL LIMIT 1)
        """,
        run_id,
    )
    return {r["object"]: dict(r) for r in rows}


async def next_fire(conn: Conn, *, sync_id: str) -> datetime | None:
    """When the sync's schedules fire next (None when none is armed or the sync is inactive)."""
    when: datetime | None = await conn.fetchval(
        f"""
        SELECT min(next_fire_at) FROM scheduler_read.schedules JOIN scheduler_read.syncs y USING (org_id, sync_id)
        WHERE sync_id = $1 AND {OF_SYNC} AND y.active
        """,
        sync_id,
    )
    return when


async def run_in_scope(conn: Conn, *, org_id: str | None, run_id: str) -> dict[str, Any] | None:
    """A run of the organisation (any organisation's when `org_id` is None: a partner key's scope)."""
    row = await conn.fetchrow(
        "SELECT * FROM scheduler_read.runs WHERE id = $1 AND ($2::text IS NULL OR org_id = $2)", run_id, org_id
    )
    return dict(row) if row else None
