"""Run logs for every dialect (and the web console): the lines the executor writes as a run works, read through
`executor_read.run_logs`, always for a run of the caller's organisation, and their text form for downloads.

`lines(conn, org_id=..., run_id=...)` answers up to `limit` lines in order: the first ones, those after the
cursor `after` (a line's `seq`), or with `newest` the last ones. The executor keeps at most 1000 lines a run.
"""

import io
import json
import zipfile
from datetime import datetime
from typing import Any

from syncline_platform.db import Conn

MAX_LINES = 1000
"""The most lines one read answers (all a run keeps)."""


async def lines(
    conn: Conn, *, org_id: str, run_id: str, after: int | None = None, limit: int = MAX_LINES, newest: bool = False
) -> list[dict[str, Any]]:
    """A run's log lines (`seq`, `at`, `level`, `message`, `object`, `counts`), oldest first."""
    order = "DESC" if newest else "ASC"
    rows = await conn.fetch(
        f"""
        SELECT seq, at, level, message, object, counts FROM executor_read.run_logs
        WHERE org_id = $1 AND run_id = $2 AND ($3::bigint IS NULL OR seq > $3)
        ORDER BY seq {order} LIMIT $4
        """,
        org_id,
        run_id,
        after,
        min(limit, MAX_LINES),
    )
    found = [dict(r) for r in rows]
    return found[::-1] if newest else found


def as_text(found: list[dict[str, Any]]) -> str:
    """Log lines as a text file: one line each, time, level, object, message, counts."""
    return "".join(_text_line(line) + "\n" for line in found)


def _text_line(line: dict[str, Any]) -> str:
    at: datetime = line["at"]
    parts = [at.isoformat(timespec="milliseconds"), line["level"].upper()]
    if line["object"]:
        parts.append(f"[{line['object']}]")
    parts.append(line["message"])
    if line["counts"]:
        parts.append(json.dumps(line["counts"], sort_keys=True))
    return " ".join(parts)


def as_zip(found: list[dict[str, Any]], *, name: str) -> bytes:
    """The log as a zip archive holding `<name>.log`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}.log", as_text(found))
    return buffer.getvalue()
