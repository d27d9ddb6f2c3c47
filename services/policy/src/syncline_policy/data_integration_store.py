"""SQL of data integrations and their associations (`policy.data_integrations`,
`policy.data_integration_associations`), and the connection lookups their URIs need. Column names come from this
module, never from input."""

from typing import Any

from syncline_platform.db import Conn

_INTEGRATION_COLUMNS = (
    "region",
    "name",
    "description",
    "kms_key",
    "source_uri",
    "source_connection_id",
    "schedule_config",
    "file_configuration",
    "object_configuration",
    "tags",
    "client_token",
    "request_print",
    "created_by",
)
_ASSOCIATION_COLUMNS = (
    "data_integration_id",
    "client_id",
    "destination_uri",
    "destination_connection_id",
    "object_configuration",
    "client_association_metadata",
    "execution_configuration",
    "client_token",
    "request_print",
    "created_by",
)


async def get_integration(conn: Conn, *, org_id: str, integration_id: str) -> dict[str, Any] | None:
    """A data integration of the organisation, locked for the rest of the transaction."""
    row = await conn.fetchrow(
        "SELECT * FROM data_integrations WHERE org_id = $1 AND id = $2 FOR UPDATE", org_id, integration_id
    )
    return dict(row) if row else None


async def name_taken(conn: Conn, *, org_id: str, region: str, name: str, except_id: str) -> bool:
    """Whether another integration of the organisation's region has `name`."""
    found = await conn.fetchval(
        "SELECT 1 FROM data_integrations WHERE org_id = $1 AND region = $2 AND name = $3 AND id <> $4",
        org_id,
        region,
        name,
        except_id,
    )
    return found is not None


async def insert_integration(conn: Conn, *, org_id: str, integration_id: str, values: dict[str, Any]) -> None:
    """Store a new integration."""
    placeholders = ", ".join(f"${i + 3}" for i in range(len(_INTEGRATION_COLUMNS)))
    await conn.execute(
        f"INSERT INTO data_integrations (org_id, id, {', '.join(_INTEGRATION_COLUMNS)})"
        f" VALUES ($1, $2, {placeholders})",
        org_id,
        integration_id,
        *(values.get(c) for c in _INTEGRATION_COLUMNS),
    )


async def update_integration(conn: Conn, *, integration_id: str, name: str, description: str | None) -> None:
    """Rename an integration or change its description."""
    await conn.execute(
        "UPDATE data_integrations SET name = $2, description = $3, updated_at = now() WHERE id = $1",
        integration_id,
        name,
        description,
    )


async def set_tags(conn: Conn, *, integration_id: str, tags: dict[str, str]) -> None:
    """Replace an integration's tags."""
    await conn.execute("UPDATE data_integrations SET tags = $2, updated_at = now() WHERE id = $1", integration_id, tags)


async def delete_integration(conn: Conn, *, integration_id: str) -> None:
    """Delete an integration (it has no association)."""
    await conn.execute("DELETE FROM data_integrations WHERE id = $1", integration_id)


async def association_of(conn: Conn, *, integration_id: str) -> dict[str, Any] | None:
    """The association of an integration (there is at most one), locked."""
    row = await conn.fetchrow(
        "SELECT * FROM data_integration_associations WHERE data_integration_id = $1 FOR UPDATE", integration_id
    )
    return dict(row) if row else None


async def insert_association(conn: Conn, *, org_id: str, association_id: str, values: dict[str, Any]) -> None:
    """Store a new association."""
    placeholders = ", ".join(f"${i + 3}" for i in range(len(_ASSOCIATION_COLUMNS)))
    await conn.execute(
        f"INSERT INTO data_integration_associations (org_id, id, {', '.join(_ASSOCIATION_COLUMNS)})"
        f" VALUES ($1, $2, {placeholders})",
        org_id,
        association_id,
        *(values.get(c) for c in _ASSOCIATION_COLUMNS),
    )


async def set_execution(conn: Conn, *, association_id: str, execution: dict[str, Any]) -> None:
    """Change how an association runs."""
    await conn.execute(
        "UPDATE data_integration_associations SET execution_configuration = $2, updated_at = now() WHERE id = $1",
        association_id,
        execution,
    )


async def find_connection(conn: Conn, *, org_id: str, name_or_id: str) -> dict[str, Any] | None:
    """A connection of the organisation by id, else by name."""
    row = await conn.fetchrow(
        "SELECT * FROM connections WHERE org_id = $1 AND (id = $2 OR name = $2) ORDER BY (id = $2) DESC LIMIT 1",
        org_id,
        name_or_id,
    )
    return dict(row) if row else None


async def get_association(conn: Conn, *, association_id: str) -> dict[str, Any] | None:
    """An association by id, locked."""
    row = await conn.fetchrow("SELECT * FROM data_integration_associations WHERE id = $1 FOR UPDATE", association_id)
    return dict(row) if row else None


async def associations_using(conn: Conn, *, connection_id: str) -> list[str]:
    """The associations whose integration reads from the connection, or which write to it."""
    rows = await conn.fetch(
        "SELECT a.id FROM data_integration_associations a JOIN data_integrations d ON d.id = a.data_integration_id"
        " WHERE d.source_connection_id = $1 OR a.destination_connection_id = $1 ORDER BY a.id",
        connection_id,
    )
    return [r["id"] for r in rows]


async def users_of(conn: Conn, *, connection_id: str) -> list[str]:
    """The ids of the integrations and associations that name the connection."""
    rows = await conn.fetch(
        "SELECT id FROM data_integrations WHERE source_connection_id = $1"
        " UNION SELECT id FROM data_integration_associations WHERE destination_connection_id = $1 ORDER BY id",
        connection_id,
    )
    return [r["id"] for r in rows]
