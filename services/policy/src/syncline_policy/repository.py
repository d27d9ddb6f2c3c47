"""SQL of the policy schema."""

from typing import Any

from syncline_contracts.connectors import UpsertConnector
from syncline_platform.db import Conn


async def upsert_connector(conn: Conn, *, org_id: str, cmd: UpsertConnector, status: str) -> bool:
    """Insert or update the descriptive fields; True when the row was created."""
    created: bool = await conn.fetchval(
        """
        INSERT INTO connectors (org_id, id, name, description, index_name, service_type, language, is_native, status)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (org_id, id) DO UPDATE SET
            name = COALESCE(EXCLUDED.name, connectors.name),
            description = COALESCE(EXCLUDED.description, connectors.description),
            index_name = COALESCE(EXCLUDED.index_name, connectors.index_name),
            service_type = COALESCE(EXCLUDED.service_type, connectors.service_type),
            language = COALESCE(EXCLUDED.language, connectors.language),
            is_native = EXCLUDED.is_native,
            updated_at = now()
        RETURNING (xmax = 0)
        """,
        org_id,
        cmd.connector_id,
        cmd.name,
        cmd.description,
        cmd.index_name,
        cmd.service_type,
        cmd.language,
        cmd.is_native,
        status,
    )
    return created


async def get_connector(conn: Conn, *, org_id: str, connector_id: str) -> dict[str, Any] | None:
    """The connector row, locked for update, or None."""
    row = await conn.fetchrow("SELECT * FROM connectors WHERE org_id = $1 AND id = $2 FOR UPDATE", org_id, connector_id)
    return dict(row) if row else None


async def set_configuration(
    conn: Conn,
    *,
    org_id: str,
    connector_id: str,
    values: dict[str, Any],
    sealed_secrets: dict[str, str],
    status: str,
    error: str | None,
) -> None:
    """Replace the configuration and record the check's outcome."""
    await conn.execute(
        """
        UPDATE connectors SET configuration = $3, sealed_secrets = $4, status = $5, error = $6, updated_at = now()
        WHERE org_id = $1 AND id = $2
        """,
        org_id,
        connector_id,
        values,
        sealed_secrets,
        status,
        error,
    )


_JSON_FIELDS = frozenset({"pipeline", "features", "filtering", "last_sync", "sync_cursor"})


async def update_connector(
    conn: Conn, *, org_id: str, connector_id: str, changes: dict[str, Any], check_in: bool
) -> dict[str, Any] | None:
    """Apply validated changes (column names come from the rules table, never from input); None when missing."""
    sets = ["updated_at = now()"]
    args: list[Any] = [org_id, connector_id]
    for field, value in changes.items():
        args.append(value)
        if field == "scheduling":  # kinds left out keep their value
            sets.append(f"scheduling = scheduling || ${len(args)}::jsonb")
        elif field in _JSON_FIELDS:
            sets.append(f"{field} = ${len(args)}::jsonb")
        else:
            sets.append(f"{field} = ${len(args)}")
    if check_in:
        sets.append("last_seen = now()")
    row = await conn.fetchrow(
        f"UPDATE connectors SET {', '.join(sets)} WHERE org_id = $1 AND id = $2 RETURNING *", *args
    )
    return dict(row) if row else None


async def delete_connector(conn: Conn, *, org_id: str, connector_id: str) -> bool:
    """Delete the connector; False when it did not exist."""
    deleted = await conn.fetchval(
        "DELETE FROM connectors WHERE org_id = $1 AND id = $2 RETURNING 1", org_id, connector_id
    )
    return deleted is not None


async def uncompiled_connectors(conn: Conn) -> list[dict[str, Any]]:
    """Connectors without a compiled form in `sync_specs` (stored before policy compiled connectors)."""
    rows = await conn.fetch(
        """
        SELECT c.* FROM connectors c
        WHERE NOT EXISTS (SELECT 1 FROM sync_specs s WHERE s.org_id = c.org_id AND s.sync_id = c.id)
        ORDER BY c.org_id, c.id
        """
    )
    return [dict(r) for r in rows]
