"""SQL of the native API: the gateway's own keys, and reads of the read models the owning services publish
(`policy_read.sync_specs`, `policy_read.connectors`, `policy_read.connections`, `scheduler_read.runs`,
`executor_read.checkpoints`), always within the caller's organisation."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syncline_platform.db import Conn

_SYNCS = """
    SELECT s.sync_id AS id, coalesce(s.definition->>'name', c.name, s.sync_id) AS name, s.dialect,
           ARRAY(SELECT jsonb_object_keys(s.specs) ORDER BY 1) AS job_types, s.error, s.compiled_at
    FROM policy_read.sync_specs s
    LEFT JOIN policy_read.connectors c ON c.org_id = s.org_id AND c.id = s.sync_id
    WHERE s.org_id = $1 AND ($2::text IS NULL OR s.dialect = $2) AND ($3::text IS NULL OR s.sync_id = $3)
    ORDER BY s.dialect, name, s.sync_id
"""


async def syncs(
    conn: Conn, *, org_id: str, dialect: str | None = None, sync_id: str | None = None
) -> list[dict[str, Any]]:
    """The organisation's syncs of every dialect (or one dialect's, or one sync)."""
    return [dict(r) for r in await conn.fetch(_SYNCS, org_id, dialect, sync_id)]


@dataclass(frozen=True, kw_only=True)
class RunFilter:
    """Which runs a list shows."""

    dialect: str | None = None
    statuses: list[str] | None = None
    sync_id: str | None = None
    since: datetime | None = None
    """Created at or after."""
    before: datetime | None = None
    """Created before."""


_RUNS = """
    SELECT r.*, s.dialect FROM scheduler_read.runs r
    LEFT JOIN policy_read.sync_specs s ON s.org_id = r.org_id AND s.sync_id = r.sync_id
    WHERE r.org_id = $1
"""


async def runs(conn: Conn, *, org_id: str, where: RunFilter, limit: int) -> list[dict[str, Any]]:
    """A page of the organisation's runs, newest first."""
    rows = await conn.fetch(
        _RUNS
        + """
          AND ($2::text IS NULL OR s.dialect = $2) AND ($3::text[] IS NULL OR r.status = ANY($3))
          AND ($4::text IS NULL OR r.sync_id = $4) AND ($5::timestamptz IS NULL OR r.created_at >= $5)
          AND ($6::timestamptz IS NULL OR r.created_at < $6)
        ORDER BY r.created_at DESC, r.id DESC LIMIT $7
        """,
        org_id,
        where.dialect,
        where.statuses,
        where.sync_id,
        where.since,
        where.before,
        limit,
    )
    return [dict(r) for r in rows]


async def run(conn: Conn, *, org_id: str, run_id: str) -> dict[str, Any] | None:
    """One run of the organisation."""
    row = await conn.fetchrow(_RUNS + " AND r.id = $2", org_id, run_id)
    return dict(row) if row else None


async def checkpoints(conn: Conn, *, run_id: str) -> list[dict[str, Any]]:
    """Per object, what the run moved: the checkpoints of the first run of its retry chain, which a retry
    continues."""
    rows = await conn.fetch(
        """
        WITH RECURSIVE chain AS (
            SELECT id, retry_of FROM scheduler_read.runs WHERE id = $1
            UNION ALL
            SELECT r.id, r.retry_of FROM scheduler_read.runs r JOIN chain c ON r.id = c.retry_of
        )
        SELECT object, done, rows_read, rows_written, rows_deleted, bytes, outcome, error, updated_at
        FROM executor_read.checkpoints
        WHERE run_id = (SELECT id FROM chain WHERE retry_of IS NULL LIMIT 1)
        ORDER BY object
        """,
        run_id,
    )
    return [dict(r) for r in rows]


async def org_of_run(conn: Conn, *, run_id: str) -> str | None:
    """The organisation of a run (for run events published without one)."""
    org_id: str | None = await conn.fetchval("SELECT org_id FROM scheduler_read.runs WHERE id = $1", run_id)
    return org_id


_KEY_COLUMNS = "id, org_id, partner, created_at, revoked_at"


async def keys(conn: Conn, *, org_id: str) -> list[dict[str, Any]]:
    """The organisation's key pairs (revoked ones too), newest first; never their secrets."""
    rows = await conn.fetch(
        f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE org_id = $1 ORDER BY created_at DESC, id", org_id
    )
    return [dict(r) for r in rows]


async def key(conn: Conn, *, org_id: str, key_id: str) -> dict[str, Any] | None:
    """One key pair of the organisation."""
    row = await conn.fetchrow(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE org_id = $1 AND id = $2", org_id, key_id)
    return dict(row) if row else None


async def revoke_key(conn: Conn, *, org_id: str, key_id: str) -> dict[str, Any] | None:
    """Revoke a key pair of the organisation (once: a revoked key keeps its first revocation time)."""
    row = await conn.fetchrow(
        f"""
        UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE org_id = $1 AND id = $2
        RETURNING {_KEY_COLUMNS}
        """,
        org_id,
        key_id,
    )
    return dict(row) if row else None


async def connections(conn: Conn, *, org_id: str) -> list[dict[str, Any]]:
    """The organisation's connections, by name, with their secrets still sealed (the caller leaves them out)."""
    rows = await conn.fetch(
        """
        SELECT id, name, type, configuration, sealed_secrets, status, status_error, created_at, updated_at
        FROM policy_read.connections WHERE org_id = $1 ORDER BY name, id
        """,
        org_id,
    )
    return [dict(r) for r in rows]
