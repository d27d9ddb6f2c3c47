"""SQL of run execution: guarded transitions on `scheduler.runs` (the single home of run status).

The executor writes runs only through these guarded UPDATEs, each of which moves a run only from a status the
transition table allows, so the scheduler and any number of executors agree without further locks.
"""

from typing import Any

from syncline_contracts.runs import RunCounters
from syncline_contracts.status import RunStatus, sources_of
from syncline_platform.db import Conn


async def claim(conn: Conn, *, run_id: str, worker: str) -> dict[str, Any] | None:
    """pending → in_progress for this worker; None when the run is not pending any more."""
    row = await conn.fetchrow(
        """
        UPDATE scheduler.runs SET status = 'in_progress', worker_hostname = $2, started_at = now(), last_seen = now()
        WHERE id = $1 AND status = 'pending' RETURNING *
        """,
        run_id,
        worker,
    )
    return dict(row) if row else None


async def check_in(conn: Conn, *, run_id: str, counters: RunCounters) -> RunStatus:
    """Record liveness and counters; returns the run's status (a cancel request shows here)."""
    status: str = await conn.fetchval(
        """
        UPDATE scheduler.runs SET last_seen = now(), rows_read = $2, indexed_document_count = $3,
            deleted_document_count = $4, indexed_document_volume = $5
        WHERE id = $1 RETURNING status
        """,
        run_id,
        counters.rows_read,
        counters.indexed_document_count,
        counters.deleted_document_count,
        counters.indexed_document_volume_bytes,
    )
    return RunStatus(status)


async def finish(
    conn: Conn, *, run_id: str, target: RunStatus, counters: RunCounters, error: str | None
) -> RunStatus | None:
    """Move the run to a terminal status with its final counters; None when the table forbids it."""
    stamp = "canceled_at" if target is RunStatus.CANCELED else "completed_at"
    status: str | None = await conn.fetchval(
        f"""
        UPDATE scheduler.runs SET status = $2, {stamp} = now(), last_seen = now(), error = $3, rows_read = $4,
            indexed_document_count = $5, deleted_document_count = $6, indexed_document_volume = $7,
            total_document_count = $8
        WHERE id = $1 AND status = ANY($9::text[]) RETURNING status
        """,
        run_id,
        target,
        error,
        counters.rows_read,
        counters.indexed_document_count,
        counters.deleted_document_count,
        counters.indexed_document_volume_bytes,
        counters.total_document_count,
        list(sources_of(target)),
    )
    return RunStatus(status) if status else None


async def current_status(conn: Conn, *, run_id: str) -> RunStatus:
    """The run's status now."""
    return RunStatus(await conn.fetchval("SELECT status FROM scheduler.runs WHERE id = $1", run_id))
