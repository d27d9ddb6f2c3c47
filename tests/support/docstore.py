"""Reading indexes straight from the document store, as the executor wrote them: each organisation's indexes are
tables in its own schema."""

import json
from typing import Any

import asyncpg

from syncline_connectors.docstore import index_schema
from syncline_connectors.pgcopy import quote_ident


async def documents(docstore_url: str, *, org_id: str, index: str) -> dict[str, dict[str, Any]]:
    """`_id` → `_source` of every document of the organisation's index (empty when it has no such index)."""
    table = f"{quote_ident(index_schema(org_id))}.{quote_ident(index)}"
    conn = await asyncpg.connect(docstore_url)
    try:
        if await conn.fetchval("SELECT to_regclass($1)", table) is None:
            return {}
        rows = await conn.fetch(f"SELECT _id, _source::text AS source FROM {table}")
    finally:
        await conn.close()
    return {r["_id"]: json.loads(r["source"]) for r in rows}
