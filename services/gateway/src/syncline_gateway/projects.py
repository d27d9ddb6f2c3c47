"""Projects: Huawei Cloud's project ids (32 hex) of an organisation. Every organisation has at least one, made
with it; a DRS call acts in one project of its key's organisation."""

import uuid
from typing import Any

from syncline_platform.db import Conn


def new_project_id() -> str:
    """A fresh project id: 32 lower-case hex digits."""
    return uuid.uuid4().hex


async def create_project(conn: Conn, *, org_id: str, name: str) -> dict[str, Any]:
    """Add a project to the organisation."""
    row = await conn.fetchrow(
        "INSERT INTO gateway.projects (id, org_id, name) VALUES ($1, $2, $3) RETURNING id, org_id, name",
        new_project_id(),
        org_id,
        name,
    )
    return dict(row) if row else {}


async def list_projects(conn: Conn, *, org_id: str) -> list[dict[str, Any]]:
    """The organisation's projects, oldest first."""
    rows = await conn.fetch(
        "SELECT id, org_id, name FROM gateway.projects WHERE org_id = $1 ORDER BY created_at, id", org_id
    )
    return [dict(r) for r in rows]


async def org_of(conn: Conn, *, project_id: str) -> str | None:
    """The organisation a project belongs to; None for an unknown project."""
    org_id: str | None = await conn.fetchval("SELECT org_id FROM gateway.projects WHERE id = $1", project_id)
    return org_id
