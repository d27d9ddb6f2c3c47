"""SQL of run execution: the executor's checkpoints and sync state (its own tables), and its moves of runs.

Runs change status only through the run ledger (`syncline_platform.run_ledger`), whose guarded UPDATEs move a run
only from a status the transition table allows, so the scheduler and any number of executors agree without
further locks; the executor reads runs through the scheduler's read model (`scheduler_read.runs`).
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from syncline_contracts.runs import RunCounters
from syncline_contracts.status import RunStatus
from syncline_executor.errors import RunEndedElsewhereError, RunGoneError
from syncline_platform import run_ledger
from syncline_platform.db import Conn
from syncline_platform.retention import Purge, RetentionSettings, by_age


async def claim(conn: Conn, *, run_id: str, worker: str) -> dict[str, Any] | None:
    """pending (or suspended, a run re-queued after its executor stopped) → in_progress for this worker; None
    when the run cannot be claimed."""
    return await run_ledger.move(
        conn, run_id=run_id, target=RunStatus.IN_PROGRESS, values={"worker_hostname": worker}, seen=True
    )


@dataclass(frozen=True)
class CheckIn:
    """What a check-in learns: the run's status (a cancel request shows here) and the objects whose work was
    cancelled on their own."""

    status: RunStatus
    canceled_objects: frozenset[str]
    worker: str | None
    """The executor the run belongs to now (another one's after a re-claim)."""


def _counters(counters: RunCounters) -> dict[str, Any]:
    return {
        "rows_read": counters.rows_read,
        "indexed_document_count": counters.indexed_document_count,
        "deleted_document_count": counters.deleted_document_count,
        "indexed_document_volume": counters.indexed_document_volume_bytes,
    }


async def check_in(conn: Conn, *, run_id: str, claim: int, counters: RunCounters) -> CheckIn:
    """Record liveness and counters, while `claim` holds the run (else `RunEndedElsewhereError`)."""
    row = await run_ledger.check_in(
        conn, run_id=run_id, claim=claim, values=_counters(counters), metadata=_stats(counters)
    )
    if row is None:
        raise await _lost(conn, run_id=run_id)
    return CheckIn(
        status=RunStatus(row["status"]),
        canceled_objects=frozenset(row["canceled_objects"]),
        worker=row["worker_hostname"],
    )


async def _lost(conn: Conn, *, run_id: str) -> RunGoneError | RunEndedElsewhereError:
    """Why a claim no longer holds its run: the record is gone, or the run ended or moved on elsewhere."""
    row = await conn.fetchrow("SELECT status, worker_hostname FROM scheduler_read.runs WHERE id = $1", run_id)
    if row is None:
        return RunGoneError(run_id)
    return RunEndedElsewhereError(run_id=run_id, status=row["status"], worker=row["worker_hostname"])


async def fence(conn: Conn, *, run_id: str, claim: int) -> None:
    """Raise `RunEndedElsewhereError` (or `RunGoneError`) unless `claim` still holds the run; in a transaction,
    the run stays locked against the sweep and re-claims until it commits."""
    if not await run_ledger.holds(conn, run_id=run_id, claim=claim):
        raise await _lost(conn, run_id=run_id)


async def suspend(conn: Conn, *, run_id: str, claim: int) -> bool:
    """in_progress → suspended, while this executor's claim still holds the run (it stops; another resumes it)."""
    moved = await run_ledger.move(
        conn, run_id=run_id, target=RunStatus.SUSPENDED, only_from=[RunStatus.IN_PROGRESS], claim=claim
    )
    return moved is not None


async def finish(
    conn: Conn, *, run_id: str, claim: int, target: RunStatus, counters: RunCounters, error: str | None
) -> RunStatus | None:
    """Move the run to a terminal status with its final counters; None when the table forbids it or `claim` no
    longer holds the run."""
    values = {**_counters(counters), "total_document_count": counters.total_document_count, "error": error}
    row = await run_ledger.move(
        conn, run_id=run_id, target=target, values=values, metadata=_stats(counters), seen=True, claim=claim
    )
    return RunStatus(row["status"]) if row else None


def _stats(counters: RunCounters) -> dict[str, Any]:
    """The run's stored stats beyond its counter columns (merged into its metadata): a change stream's lag."""
    if counters.replication_lag is None:
        return {}
    return {"replication_lag": counters.replication_lag.model_dump(mode="json")}


async def current_status(conn: Conn, *, run_id: str) -> RunStatus | None:
    """The run's status now; None when its record is gone (the job was deleted while it ran)."""
    status = await conn.fetchval("SELECT status FROM scheduler_read.runs WHERE id = $1", run_id)
    return RunStatus(status) if status else None


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
        parent = await conn.fetchval("SELECT retry_of FROM scheduler_read.runs WHERE id = $1", root)
        max_depth -= 1
    return root


async def has_running_run(conn: Conn, *, org_id: str, sync_id: str) -> bool:
    """Does a run of the sync still move data (in progress, or stopping)?"""
    found = await conn.fetchval(
        "SELECT 1 FROM scheduler_read.runs WHERE org_id = $1 AND sync_id = $2"
        " AND status IN ('in_progress', 'canceling') LIMIT 1",
        org_id,
        sync_id,
    )
    return found is not None


def checkpoints_purge(settings: RetentionSettings) -> Purge:
    """Retention of checkpoints: old ones go unless a run of their sync still waits or moves (a retry resumes
    from its chain's checkpoints)."""
    needed = (
        "EXISTS (SELECT 1 FROM scheduler_read.runs root JOIN scheduler_read.runs live"
        " ON live.org_id = root.org_id AND live.sync_id = root.sync_id"
        " WHERE root.id = t.run_id AND live.status IN ('pending', 'in_progress', 'canceling', 'suspended'))"
    )
    keep = timedelta(days=settings.checkpoints_days)
    return by_age("checkpoints", table="executor.checkpoints", column="updated_at", keep=keep, needed=needed)


async def request_release(conn: Conn, *, org_id: str, sync_id: str, run_sync_id: str) -> None:
    """Record that a deleted sync's stream (kept under `sync_id`) must be given back once the last run of
    `run_sync_id` stopped; a repeated deletion asks for an attempt at once."""
    await conn.execute(
        """
        INSERT INTO executor.stream_releases (sync_id, org_id, run_sync_id) VALUES ($1, $2, $3)
        ON CONFLICT (sync_id) DO UPDATE SET next_attempt_at = now()
        """,
        sync_id,
        org_id,
        run_sync_id,
    )


async def due_releases(conn: Conn, *, limit: int) -> list[dict[str, Any]]:
    """Releases due for an attempt, locked (other replicas skip them) until the caller's transaction ends."""
    rows = await conn.fetch(
        "SELECT * FROM executor.stream_releases WHERE next_attempt_at <= now()"
        " ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit,
    )
    return [dict(r) for r in rows]


async def release_done(conn: Conn, *, sync_id: str) -> None:
    """The stream was given back."""
    await conn.execute("DELETE FROM executor.stream_releases WHERE sync_id = $1", sync_id)


async def release_failed(conn: Conn, *, sync_id: str, error: str, retry_in_s: float) -> None:
    """An attempt failed (or had to wait): count it, keep why, and when to try again."""
    await conn.execute(
        """
        UPDATE executor.stream_releases SET attempts = attempts + 1, last_error = $2, last_attempt_at = now(),
            next_attempt_at = now() + make_interval(secs => $3)
        WHERE sync_id = $1
        """,
        sync_id,
        error,
        retry_in_s,
    )
