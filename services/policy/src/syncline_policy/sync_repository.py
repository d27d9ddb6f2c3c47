"""SQL of connections and syncs (`policy.connections`, `policy.syncs`, `policy.sync_schedules`,
`policy.sync_objects`) and of every sync's compiled form (`policy.sync_specs`, whatever its dialect). Column names
come from this module, never from input."""

from datetime import datetime
from typing import Any

from syncline_platform.db import Conn


async def name_taken(conn: Conn, *, table: str, org_id: str, name: str, except_id: str) -> bool:
    """Whether another row of the organisation in `table` (`connections` or `syncs`) has `name`."""
    found = await conn.fetchval(
        f"SELECT 1 FROM {table} WHERE org_id = $1 AND name = $2 AND id <> $3", org_id, name, except_id
    )
    return found is not None


async def get_connection(conn: Conn, *, org_id: str, connection_id: str) -> dict[str, Any] | None:
    """A connection of the organisation, locked for the rest of the transaction."""
    row = await conn.fetchrow(
        "SELECT * FROM connections WHERE org_id = $1 AND id = $2 FOR UPDATE", org_id, connection_id
    )
    return dict(row) if row else None


async def save_connection(conn: Conn, *, org_id: str, connection_id: str, values: dict[str, Any]) -> bool:
    """Insert or replace a connection from column → value; True when it was created."""
    columns = sorted(values)
    placeholders = ", ".join(f"${i + 3}" for i in range(len(columns)))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in ("created_at", "created_by"))
    created: bool = await conn.fetchval(
        f"""
        INSERT INTO connections (org_id, id, {", ".join(columns)}) VALUES ($1, $2, {placeholders})
        ON CONFLICT (id) DO UPDATE SET {updates}, updated_at = now() WHERE connections.org_id = EXCLUDED.org_id
        RETURNING (xmax = 0)
        """,
        org_id,
        connection_id,
        *(values[c] for c in columns),
    )
    return created


async def delete_connection(conn: Conn, *, org_id: str, connection_id: str) -> bool:
    """Delete a connection; False when it did not exist."""
    deleted = await conn.fetchval(
        "DELETE FROM connections WHERE org_id = $1 AND id = $2 RETURNING 1", org_id, connection_id
    )
    return deleted is not None


async def syncs_using(conn: Conn, *, connection_id: str) -> list[str]:
    """The syncs reading from or writing to a connection."""
    rows = await conn.fetch(
        "SELECT id FROM syncs WHERE source_connection_id = $1 OR destination_connection_id = $1 ORDER BY id",
        connection_id,
    )
    return [r["id"] for r in rows]


async def get_sync(conn: Conn, *, org_id: str, sync_id: str) -> dict[str, Any] | None:
    """A sync of the organisation, locked for the rest of the transaction."""
    row = await conn.fetchrow("SELECT * FROM syncs WHERE org_id = $1 AND id = $2 FOR UPDATE", org_id, sync_id)
    return dict(row) if row else None


async def save_sync(conn: Conn, *, org_id: str, sync_id: str, values: dict[str, Any]) -> bool:
    """Insert or replace a sync from column → value; True when it was created."""
    columns = sorted(values)
    placeholders = ", ".join(f"${i + 3}" for i in range(len(columns)))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in ("created_at", "created_by"))
    created: bool = await conn.fetchval(
        f"""
        INSERT INTO syncs (org_id, id, {", ".join(columns)}) VALUES ($1, $2, {placeholders})
        ON CONFLICT (id) DO UPDATE SET {updates}, updated_at = clock_timestamp() WHERE syncs.org_id = EXCLUDED.org_id
        RETURNING (xmax = 0)
        """,
        org_id,
        sync_id,
        *(values[c] for c in columns),
    )
    return created


async def touch_sync(conn: Conn, *, sync_id: str, actor: str, active: bool | None = None) -> None:
    """Stamp a change of the sync (and set `active` when given)."""
    await conn.execute(
        "UPDATE syncs SET updated_at = clock_timestamp(), updated_by = $2, active = COALESCE($3, active) WHERE id = $1",
        sync_id,
        actor,
        active,
    )


async def delete_sync(conn: Conn, *, sync_id: str) -> None:
    """Delete a sync with its schedules, objects and compiled specs."""
    await conn.execute(
        """
        WITH gone AS (DELETE FROM syncs WHERE id = $1 RETURNING org_id, id, dialect)
        DELETE FROM sync_specs c USING gone
        WHERE c.org_id = gone.org_id AND c.sync_id = gone.id AND c.dialect = gone.dialect
        """,
        sync_id,
    )


async def list_schedules(conn: Conn, *, org_id: str, sync_id: str) -> list[dict[str, Any]]:
    """A sync's schedules, default first."""
    rows = await conn.fetch(
        "SELECT * FROM sync_schedules WHERE org_id = $1 AND sync_id = $2 ORDER BY is_default DESC, position, id",
        org_id,
        sync_id,
    )
    return [dict(r) for r in rows]


async def save_schedule(
    conn: Conn, *, org_id: str, sync_id: str, row: dict[str, Any], actor: str, created_at: datetime | None = None
) -> None:
    """Insert or replace one schedule (`row`: id, position, is_default, spec, compiled). Schedule ids are the
    client's: they are unique within the sync only."""
    await conn.execute(
        """
        INSERT INTO sync_schedules (org_id, sync_id, id, position, is_default, spec, compiled, created_by,
                                    updated_by, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, COALESCE($9, now()))
        ON CONFLICT (org_id, sync_id, id) DO UPDATE SET position = EXCLUDED.position,
            is_default = EXCLUDED.is_default, spec = EXCLUDED.spec, compiled = EXCLUDED.compiled,
            updated_by = EXCLUDED.updated_by, updated_at = now()
        """,
        org_id,
        sync_id,
        row["id"],
        row["position"],
        row["is_default"],
        row["spec"],
        row["compiled"],
        actor,
        created_at,
    )


async def delete_schedules(conn: Conn, *, org_id: str, sync_id: str, keep: list[str]) -> None:
    """Delete a sync's schedules except those in `keep`."""
    await conn.execute(
        "DELETE FROM sync_schedules WHERE org_id = $1 AND sync_id = $2 AND NOT (id = ANY($3))", org_id, sync_id, keep
    )


async def list_objects(conn: Conn, *, sync_id: str) -> list[dict[str, Any]]:
    """A sync's objects in selection order."""
    rows = await conn.fetch("SELECT * FROM sync_objects WHERE sync_id = $1 ORDER BY position, id", sync_id)
    return [dict(r) for r in rows]


_OBJECT_COLUMNS = (
    "position",
    "enabled",
    "output_name",
    "user_output_name",
    "partition_key",
    "tracking_field",
    "data_cutoff_timestamp",
    "disable_data_cutoff",
    "history_enabled",
    "fields",
    "filters",
)


async def replace_objects(conn: Conn, *, sync_id: str, objects: list[dict[str, Any]]) -> None:
    """Replace a sync's objects with `objects` (each: id plus the object columns)."""
    await conn.execute("DELETE FROM sync_objects WHERE sync_id = $1", sync_id)
    columns = ", ".join(_OBJECT_COLUMNS)
    placeholders = ", ".join(f"${i + 3}" for i in range(len(_OBJECT_COLUMNS)))
    await conn.executemany(
        f"INSERT INTO sync_objects (sync_id, id, {columns}) VALUES ($1, $2, {placeholders})",
        [(sync_id, o["id"], *(o[c] for c in _OBJECT_COLUMNS)) for o in objects],
    )


async def deactivate_sync(conn: Conn, *, org_id: str, sync_id: str) -> None:
    """Turn a sync off (the scheduler gave up on it); nothing when it is not one of ours."""
    await conn.execute(
        "UPDATE syncs SET active = false, updated_at = clock_timestamp() WHERE org_id = $1 AND id = $2 AND active",
        org_id,
        sync_id,
    )


async def save_compiled(
    conn: Conn,
    *,
    org_id: str,
    sync_id: str,
    dialect: str,
    definition: dict[str, Any],
    sealed_secrets: dict[str, str],
    specs: dict[str, Any],
    error: str | None,
) -> bool:
    """Keep a sync's compiled form (`sync_specs`), replacing the one before; False (and nothing written) when the
    organisation has a sync of another dialect under this id."""
    stored = await conn.fetchval(
        """
        INSERT INTO sync_specs (org_id, sync_id, dialect, definition, sealed_secrets, specs, error)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (org_id, sync_id) DO UPDATE SET definition = EXCLUDED.definition,
            sealed_secrets = EXCLUDED.sealed_secrets, specs = EXCLUDED.specs, error = EXCLUDED.error,
            compiled_at = clock_timestamp()
        WHERE sync_specs.dialect = EXCLUDED.dialect
        RETURNING 1
        """,
        org_id,
        sync_id,
        dialect,
        definition,
        sealed_secrets,
        specs,
        error,
    )
    return stored is not None


async def delete_compiled(conn: Conn, *, org_id: str, sync_id: str, dialect: str) -> None:
    """Forget a sync's compiled form."""
    await conn.execute(
        "DELETE FROM sync_specs WHERE org_id = $1 AND sync_id = $2 AND dialect = $3", org_id, sync_id, dialect
    )
