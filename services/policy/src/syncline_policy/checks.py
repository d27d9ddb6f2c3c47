"""Connection checks: does a connector's configuration reach a working source? Decides `connected` vs `error`."""

from typing import Any

import asyncpg
import structlog

log = structlog.get_logger(__name__)
CHECK_TIMEOUT_S = 5.0


async def check_postgresql(values: dict[str, Any], *, password: str) -> str | None:
    """None when the database answers and the configured tables exist; otherwise why not."""
    try:
        conn = await asyncpg.connect(
            host=values["host"],
            port=int(values["port"]),
            user=values["username"],
            password=password or None,
            database=values["database"],
            timeout=CHECK_TIMEOUT_S,
        )
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        return f"cannot connect to {values['host']}:{values['port']}/{values['database']}: {exc}"
    try:
        tables = values.get("tables") or "*"
        if tables in ("*", ["*"]):
            return None
        found = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name = ANY($2)",
            values.get("schema") or "public",
            list(tables),
        )
        missing = sorted(set(tables) - {r["table_name"] for r in found})
        return f"tables not found: {', '.join(missing)}" if missing else None
    finally:
        await conn.close()
