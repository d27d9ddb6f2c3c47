"""SQL of run execution: guarded transitions on `scheduler.runs` (the single home of run status).

The executor writes runs only through these guarded UPDATEs, each of which moves a run only from a status the
transition table allows, so the scheduler and any number of executors agree without further locks.
"""

from dataclasses import dataclass
from typing import Any

from syncline_contracts.runs import RunCounters
from syncline_contracts.status import RunStatus, sources_of
from syncline_executor.errors import RunGoneError
from syncline_platform.db import Conn


async def claim(conn: Conn, *, run_id: str, worker: str) -> dict[str, Any] | None:
    """pending (or suspended, a run re-queued after its executor stopped) → in_progress for this worker; None
    when the run cannot be claimed."""
    row = await conn.fetchrow(
        """
        UPDATE scheduler.runs SET status = 'in_progress', worker_hostname = $2,
            started_at = COALESCE(started_at, now()), last_seen = now()
        WHERE id = $1 AND status = ANY($3::text[]) RETURNING *
        """,
        run_id,
        worker,
        list(sources_of(RunStatus.IN_PROGRESS)),
    )
    return dict(row) if row else None


@dataclass(frozen=True)
class CheckIn:
    """What a check-in learns: the run's status (a cancel request shows here) and the objects whose work was
    cancelled on their own."""

    status: RunStatus
    canceled_objects: frozenset[str]


async def check_in(conn: Conn, *, run_id: str, counters: RunCounters) -> CheckIn:
    """Record liveness and counters."""
    row = await conn.fetchrow(
        """
        UPDATE scheduler.runs SET last_seen = now(), rows_read = $2, indexed_document_count = $3,
            deleted_document_count = $4, indexed_document_volume = $5, metadata = metadata || $6::jsonb
        WHERE id = $1 RETURNING status, canceled_objects
        """,
        run_id,
        counters.rows_read,
        counters.indexed_document_count,
        counters.deleted_document_count,
        counters.indexed_document_volume_bytes,
        _stats(counters),
    )
    if row is None:
        raise RunGoneError(run_id)
    return CheckIn(status=RunStatus(row["status"]), canceled_objects=frozenset(row["canceled_objects"]))


async def finish(
    conn: Conn, *, run_id: str, target: RunStatus, counters: RunCounters, error: str | None
) -> RunStatus | None:
    """Move the run to a terminal status with its final counters; None when the table forbids it."""
    stamp = "canceled_at" if target is RunStatus.CANCELED else "completed_at"
    status: str | None = await conn.fetchval(
        f"""
        UPDATE scheduler.runs SET status = $2, {stamp} = now(), last_seen = now(), error = $3, rows_read = $4,
            indexed_document_count = $5, deleted_document_count = $6, indexed_document_volume = $7,
            total_document_count = $8, metadata = metadata || $10::jsonb
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
        _stats(counters),
    )
    return RunStatus(status) if status else None


def _stats(counters: RunCounters) -> dict[str, Any]:
    """The run's stored stats beyond its counter columns (merged into its metadata): a change stream's lag."""
    if counters.replication_lag is None:
        return {}
    return {"replication_lag": counters.replication_lag.model_dump(mode="json")}


async def current_status(conn: Conn, *, run_id: str) -> RunStatus:
    """The run's status now."""
    return RunStatus(await conn.fetchval("SELECT status FROM scheduler.runs WHERE id = $1", run_id))


@dataclass(frozen=True)
class ObjectCheckpoint:
    """Where one object of a run stands."""

    position: dict[str, Any] | None
    done: bool
    rows_read: int
    rows_written: int
    rows_deleted: int
    bytes: int
    outcome: str | None = None
    """`failed` or `canceled` when the object ended so (see `ObjectOutcome`); None while it moves or once done."""
    error: str | None = None
    """Why it failed."""


async def checkpoints(conn: Conn, *, run_id: str) -> dict[str, ObjectCheckpoint]:
    """The run's checkpoints by object (empty for a first attempt)."""
    rows = await conn.fetch(
        "SELECT object, position, done, rows_read, rows_written, rows_deleted, bytes, outcome, error"
        " FROM executor.checkpoints WHERE run_id = $1",
        run_id,
    )
    return {r["object"]: ObjectCheckpoint(**{k: v for k, v in dict(r).items() if k != "object"}) for r in rows}


async def save_checkpoint(conn: Conn, *, run_id: str, object_key: str, checkpoint: ObjectCheckpoint) -> None:
    """Record an object's position and counters (call in the transaction that also moves any sync state)."""
    await conn.execute(
        """
        INSERT INTO executor.checkpoints
            (run_id, object, position, done, rows_read, rows_written, rows_deleted, bytes, outcome, error)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (run_id, object) DO UPDATE SET position = EXCLUDED.position, done = EXCLUDED.done,
            rows_read = EXCLUDED.rows_read, rows_written = EXCLUDED.rows_written,
            rows_deleted = EXCLUDED.rows_deleted, bytes = EXCLUDED.bytes, outcome = EXCLUDED.outcome,
            error = EXCLUDED.error, updated_at = now()
        """,
        run_id,
        object_key,
        checkpoint.position,
        checkpoint.done,
        checkpoint.rows_read,
        checkpoint.rows_written,
        checkpoint.rows_deleted,
        checkpoint.bytes,
        checkpoint.outcome,
        checkpoint.error,
    )


async def sync_state(conn: Conn, *, sync_id: str, object_key: str) -> dict[str, Any] | None:
    """State a sync keeps across runs for one object (or for its change stream)."""
    state: dict[str, Any] | None = await conn.fetchval(
        "SELECT state FROM executor.sync_state WHERE sync_id = $1 AND object = $2", sync_id, object_key
    )
    return state


async def set_sync_state(conn: Conn, *, sync_id: str, object_key: str, state: dict[str, Any] | None) -> None:
    """Replace (or, with None, forget) a sync's state for one object."""
    if state is None:
        await conn.execute("DELETE FROM executor.sync_state WHERE sync_id = $1 AND object = $2", sync_id, object_key)
        return
    await conn.execute(
        """
        INSERT INTO executor.sync_state (sync_id, object, state) VALUES ($1, $2, $3)
        ON CONFLICT (sync_id, object) DO UPDATE SET state = EXCLUDED.state, updated_at = now()
        """,
        sync_id,
        object_key,
        state,
    )


async def retry_root(conn: Conn, *, run: dict[str, Any], max_depth: int = 50) -> str:
    """The first run of `run`'s retry chain: retries resume from its checkpoints and reuse its staging."""
    root = str(run["id"])
    parent = run.get("retry_of")
    while parent and max_depth > 0:
        root = str(parent)
        parent = await conn.fetchval("SELECT retry_of FROM scheduler.runs WHERE id = $1", root)
        max_depth -= 1
    return root


async def has_running_run(conn: Conn, *, org_id: str, sync_id: str) -> bool:
    """Does a run of the sync still move data (in progress, or stopping)?"""
    found = await conn.fetchval(
        "SELECT 1 FROM scheduler.runs WHERE org_id = $1 AND sync_id = $2 AND status IN ('in_progress', 'canceling')"
        " LIMIT 1",
        org_id,
        sync_id,
    )
    return found is not None
