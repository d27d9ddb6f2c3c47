"""SQL of the scheduler schema (and the read of connector definitions from policy's)."""

from typing import Any

from syncline_contracts.runs import CreateSyncJob
from syncline_contracts.status import RunStatus, sources_of
from syncline_platform.db import Conn


async def connector_snapshot(conn: Conn, *, org_id: str, connector_id: str) -> dict[str, Any] | None:
    """The connector as a new run sees it (read from the policy schema)."""
    row = await conn.fetchrow(
        """
        SELECT id, configuration, sealed_secrets, filtering, index_name, language, service_type, sync_cursor
        FROM policy.connectors WHERE org_id = $1 AND id = $2
        """,
        org_id,
        connector_id,
    )
    return dict(row) if row else None


async def insert_run(conn: Conn, *, org_id: str, cmd: CreateSyncJob, connector: dict[str, Any]) -> bool:
    """Record a pending run; False when a run with this id already exists."""
    secrets = connector.pop("sealed_secrets")
    inserted = await conn.fetchval(
        """
        INSERT INTO runs (id, org_id, sync_id, job_type, trigger_method, connector, sealed_secrets)
        VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING RETURNING 1
        """,
        cmd.run_id,
        org_id,
        cmd.sync_id,
        cmd.job_type,
        cmd.trigger_method,
        connector,
        secrets,
    )
    return inserted is not None


async def lock_run(conn: Conn, *, org_id: str, run_id: str) -> dict[str, Any] | None:
    """The run, locked for a status change, or None."""
    row = await conn.fetchrow("SELECT * FROM runs WHERE id = $1 AND org_id = $2 FOR UPDATE", run_id, org_id)
    return dict(row) if row else None


async def move(conn: Conn, *, run_id: str, target: RunStatus, stamp: str) -> bool:
    """Move a run to `target` when the transition table allows it; `stamp` is the timestamp column to set."""
    moved = await conn.fetchval(
        f"UPDATE runs SET status = $2, {stamp} = now() WHERE id = $1 AND status = ANY($3::text[]) RETURNING 1",
        run_id,
        target,
        list(sources_of(target)),
    )
    return moved is not None
