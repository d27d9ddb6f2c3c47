"""Elastic connectors written straight into policy's tables, as policy stores them: the definition and its
compiled form (`policy.sync_specs`, through policy's own Elastic compiler), for tests and benches that run the
scheduler without policy."""

import json
from collections.abc import Sequence

import asyncpg

from syncline_policy.compilers.elastic import compile_connector


async def insert_connectors(conn: asyncpg.Connection, *, org_id: str, ids: Sequence[str], status: str) -> None:
    """PostgreSQL connectors named after their index, each compiled for its runs."""
    await conn.executemany(
        """
        INSERT INTO policy.connectors (org_id, id, name, index_name, service_type, status)
        VALUES ($1, $2, $2, $2, 'postgresql', $3)
        """,
        [(org_id, i, status) for i in ids],
    )
    rows = await conn.fetch(
        "SELECT * FROM policy.connectors WHERE org_id = $1 AND id = ANY($2::text[])", org_id, list(ids)
    )
    compiled = [(r["id"], compile_connector(_decoded(dict(r)), org_id=org_id)) for r in rows]
    await conn.executemany(
        """
        INSERT INTO policy.sync_specs (org_id, sync_id, dialect, definition, sealed_secrets, specs, error)
        VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb, $7)
        """,
        [
            (
                org_id,
                sync_id,
                c.dialect,
                json.dumps(c.definition),
                json.dumps(c.sealed_secrets),
                json.dumps({job_type: spec.model_dump(mode="json") for job_type, spec in c.specs.items()}),
                c.error,
            )
            for sync_id, c in compiled
        ],
    )


def _decoded(row: dict[str, object]) -> dict[str, object]:
    """A row read without JSON codecs: its jsonb columns decoded."""
    return {k: json.loads(v) if isinstance(v, str) and k in _JSON else v for k, v in row.items()}


_JSON = frozenset(
    {"configuration", "sealed_secrets", "scheduling", "filtering", "sync_cursor", "pipeline", "features", "last_sync"}
)
