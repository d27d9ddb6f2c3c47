"""Per-run log lines (`executor.run_logs`, read by others through `executor_read.run_logs`).

The run's task binds its `RunLog` (`bound`); whatever runs inside it (the pipeline's movers too: tasks copy the
context) writes with `info` / `warning` / `error`, which do nothing outside a run. A line is one INSERT on the
pool, outside the run's checkpoint transactions; a line that cannot be written is dropped with a warning in the
service log, never failing the run. At most `LIMIT` lines are kept per run; the line that ends it is always
written. A run's lines go with the run: once it is deleted (and its lines are older than checkpoints are kept),
the retention loop purges them.
"""

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any, Literal

import asyncpg
import structlog

from syncline_platform.retention import Purge, RetentionSettings, by_age

log = structlog.get_logger(__name__)

Level = Literal["info", "warning", "error"]
LIMIT = 1000
"""Lines kept per run (a run following a change stream for days must not grow its log without bound)."""

_INSERT = """
    INSERT INTO run_logs (run_id, org_id, sync_id, level, message, object, counts)
    SELECT $1, $2, $3, $4, $5, $6, $7
    WHERE $8 OR (SELECT count(*) FROM run_logs WHERE run_id = $1) < $9
"""


class RunLog:
    """The log of one run."""

    def __init__(self, *, pool: asyncpg.Pool, run: Mapping[str, Any], limit: int = LIMIT) -> None:
        self.pool = pool
        self.run_id: str = run["id"]
        self.org_id: str = run["org_id"]
        self.sync_id: str = run["sync_id"]
        self.limit = limit

    async def write(
        self,
        level: Level,
        message: str,
        *,
        object_key: str | None = None,
        counts: Mapping[str, int] | None = None,
        last: bool = False,
    ) -> None:
        """One line; `last` writes it even when the run's log is full."""
        try:
            async with self.pool.acquire() as conn:
                await conn.execute(
                    _INSERT,
                    self.run_id,
                    self.org_id,
                    self.sync_id,
                    level,
                    message,
                    object_key,
                    dict(counts or {}),
                    last,
                    self.limit,
                )
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            log.warning("run_log.write_failed", error=repr(exc))


_CURRENT: contextvars.ContextVar[RunLog | None] = contextvars.ContextVar("syncline_run_log", default=None)


@contextlib.contextmanager
def bound(journal: RunLog) -> Iterator[RunLog]:
    """Make `journal` the current run's log for the block (and the tasks it starts)."""
    token = _CURRENT.set(journal)
    try:
        yield journal
    finally:
        _CURRENT.reset(token)


async def note(
    level: Level, message: str, *, object_key: str | None = None, counts: Mapping[str, int] | None = None
) -> None:
    """A line in the current run's log (nothing outside a run)."""
    journal = _CURRENT.get()
    if journal is not None:
        await journal.write(level, message, object_key=object_key, counts=counts)


def object_counts(counters: Any) -> dict[str, int]:
    """An object's counters (`pipeline.ObjectCounters`) as a log line's counts."""
    return {
        "rows_read": counters.rows_read,
        "rows_written": counters.rows_written,
        "rows_deleted": counters.rows_deleted,
        "bytes": counters.bytes,
    }


async def ended(journal: RunLog, *, status: str, counts: Mapping[str, int], error: str | None) -> None:
    """The line that ends a run (written even when its log is full)."""
    moved = f"{counts.get('rows_written', 0)} rows written, {counts.get('rows_deleted', 0)} deleted"
    level: Level = "error" if status == "error" else "warning" if status == "canceled" or error else "info"
    message = f"run {status}: {moved}" + (f" ({error})" if error else "")
    await journal.write(level, message, counts=counts, last=True)


def purge(settings: RetentionSettings) -> Purge:
    """Retention of run logs: the lines of runs that no longer exist, once as old as checkpoints are kept."""
    gone = "EXISTS (SELECT 1 FROM scheduler_read.runs r WHERE r.id = t.run_id)"
    keep = timedelta(days=settings.checkpoints_days)
    return by_age("run_logs", table="executor.run_logs", column="at", keep=keep, needed=gone)
