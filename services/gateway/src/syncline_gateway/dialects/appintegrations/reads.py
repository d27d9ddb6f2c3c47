"""Reads of the AppIntegrations dialect: data integrations and associations from policy's read models
(`policy_read.*`), their runs from the scheduler's (`scheduler_read.runs`), and the gateway's own AWS account ids
(`aws_accounts`, made on first use)."""

import secrets
from typing import Any

import asyncpg

from syncline_platform.db import Conn


async def account_of(conn: Conn, *, org_id: str) -> str:
    """The organisation's stable 12-digit AWS account id (drawn at random the first time it is needed)."""
    found: str | None = await conn.fetchval("SELECT account_id FROM aws_accounts WHERE org_id = $1", org_id)
    while found is None:
        drawn = f"{secrets.randbelow(9 * 10**11) + 10**11}"  # 12 digits, no leading zero
        try:
            await conn.execute(
                "INSERT INTO aws_accounts (org_id, account_id) VALUES ($1, $2) ON CONFLICT (org_id) DO NOTHING",
                org_id,
                drawn,
            )
        except asyncpg.UniqueViolationError:  # another organisation drew it: draw again
            continue
        found = await conn.fetchval("SELECT account_id FROM aws_accounts WHERE org_id = $1", org_id)
    return found


async def integration(conn: Conn, *, org_id: str, region: str, integration_id: str) -> dict[str, Any] | None:
    """A data integration of the organisation's region."""
    row = await conn.fetchrow(
        "SELECT * FROM policy_read.data_integrations WHERE org_id = $1 AND region = $2 AND id = $3",
        org_id,
        region,
        integration_id,
    )
    return dict(row) if row else None


async def integrations(conn: Conn, *, org_id: str, region: str, offset: int, limit: int) -> list[dict[str, Any]]:
    """A page of the region's data integrations, oldest first; one more than `limit` when more follow."""
    rows = await conn.fetch(
        "SELECT * FROM policy_read.data_integrations WHERE org_id = $1 AND region = $2"
        " ORDER BY created_at, id OFFSET $3 LIMIT $4",
        org_id,
        region,
        offset,
        limit + 1,
    )
    return [dict(r) for r in rows]


async def association(conn: Conn, *, org_id: str, integration_id: str) -> dict[str, Any] | None:
    """The association of a data integration, if it has one."""
    row = await conn.fetchrow(
        "SELECT * FROM policy_read.data_integration_associations WHERE org_id = $1 AND data_integration_id = $2",
        org_id,
        integration_id,
    )
    return dict(row) if row else None


async def newest_run(conn: Conn, *, org_id: str, sync_id: str) -> dict[str, Any] | None:
    """The newest run of an association (its sync id is the association's id)."""
    row = await conn.fetchrow(
        "SELECT status, error, created_at FROM scheduler_read.runs WHERE org_id = $1 AND sync_id = $2"
        " ORDER BY created_at DESC, id DESC LIMIT 1",
        org_id,
        sync_id,
    )
    return dict(row) if row else None


async def run_queued(conn: Conn, *, org_id: str, association_id: str) -> bool:
    """Whether an on-demand run of the association waits for its running one."""
    found = await conn.fetchval(
        "SELECT 1 FROM aws_queued_runs WHERE org_id = $1 AND association_id = $2", org_id, association_id
    )
    return found is not None
