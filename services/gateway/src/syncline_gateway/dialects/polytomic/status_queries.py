"""SQL of the many-syncs status (`GET /api/bulk/syncs/status`): reads of policy's syncs and selections and the
scheduler's runs and schedules (read-only), a few rows per sync whatever the length of its history. A sync's runs
and schedules are those of its organisation with its id (other organisations' connectors may carry the same id).

`org_id=None` reads across organisations (partner keys)."""

from datetime import datetime
from typing import Any

from syncline_gateway.dialects.polytomic.execution_queries import ACTIVE
from syncline_gateway.dialects.polytomic.queries import run_covers
from syncline_platform.db import Conn


async def syncs(
    conn: Conn, *, org_id: str | None, sync_ids: list[str] | None, active_only: bool
) -> list[dict[str, Any]]:
    """The bulk syncs in scope (all of them when `sync_ids` is None), by name."""
    rows = await conn.fetch(
        """
        SELECT id, org_id, name, active FROM policy_read.syncs
        WHERE ($1::text IS NULL OR org_id = $1) AND dialect = 'polytomic'
          AND ($2::text[] IS NULL OR id = ANY($2)) AND ($3::boolean IS NOT TRUE OR active)
        ORDER BY name, id
        """,
        org_id,
        sync_ids,
        active_only,
    )
    return [dict(r) for r in rows]


async def latest_runs_by_object(conn: Conn, *, sync_ids: list[str]) -> list[dict[str, Any]]:
    """Each enabled object of the syncs (in selection order) with the id of the newest run that moves it, a run
    still going first (None when no run ever did)."""
    rows = await conn.fetch(
        f"""
        SELECT o.sync_id, o.id AS object, latest.id AS run_id
        FROM policy_read.sync_objects o JOIN policy_read.syncs s ON s.id = o.sync_id
        LEFT JOIN LATERAL (
            SELECT r.id FROM scheduler_read.runs r
            WHERE r.org_id = s.org_id AND r.sync_id = o.sync_id AND {run_covers(run="r", obj="o.id")}
            ORDER BY r.status = ANY($2::text[]) DESC, r.created_at DESC, r.id DESC
            LIMIT 1
        ) latest ON true
        WHERE o.sync_id = ANY($1::text[]) AND o.enabled
        ORDER BY o.sync_id, o.position, o.id
        """,
        sync_ids,
        list(ACTIVE),
    )
    return [dict(r) for r in rows]


async def current_runs(conn: Conn, *, sync_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per sync: its run still going (the newest), else its most recently finished one; syncs never run are
    left out."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT ON (sync_id) * FROM scheduler_read.runs
        WHERE (org_id, sync_id) IN (SELECT org_id, id FROM policy_read.syncs WHERE id = ANY($1::text[]))
        ORDER BY sync_id, status = ANY($2::text[]) DESC, coalesce(completed_at, canceled_at, created_at) DESC,
                 id DESC
        """,
        sync_ids,
        list(ACTIVE),
    )
    return {r["sync_id"]: dict(r) for r in rows}


async def runs(conn: Conn, *, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Some runs, by id."""
    rows = await conn.fetch("SELECT * FROM scheduler_read.runs WHERE id = ANY($1::text[])", run_ids)
    return {r["id"]: dict(r) for r in rows}


async def next_fires(conn: Conn, *, sync_ids: list[str]) -> dict[str, datetime]:
    """Per sync, when its schedules fire next (syncs with none armed, or inactive, are left out)."""
    rows = await conn.fetch(
        """
        SELECT s.sync_id, min(s.next_fire_at) AS next_fire_at
        FROM scheduler_read.schedules s JOIN scheduler_read.syncs y USING (org_id, sync_id)
        WHERE (s.org_id, s.sync_id) IN (SELECT org_id, id FROM policy_read.syncs WHERE id = ANY($1::text[]))
          AND y.active AND s.next_fire_at IS NOT NULL
        GROUP BY s.sync_id
        """,
        sync_ids,
    )
    return {r["sync_id"]: r["next_fire_at"] for r in rows}
