"""DRS reads over the read models policy, scheduler and executor publish: a job (`policy_read.drs_jobs`), its
latest run since its last start (`scheduler_read.runs`: status, counters, the stream's lag), whether its
change stream still holds a slot (`executor_read.sync_state`) and, for progress, what the run read of each table
(`executor_read.checkpoints`). Statuses come from the run
(`syncline_contracts.drs_jobs.effective_status`), never from a clock."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from syncline_contracts.drs_jobs import DrsJobStatus, effective_status
from syncline_platform.db import Conn

STREAM = "__stream__"


@dataclass(frozen=True)
class JobView:
    """A job with what its run says now."""

    job: dict[str, Any]
    run: dict[str, Any] | None
    status: DrsJobStatus
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The run's checkpoints by object (`schema.table`, and the change stream's), when asked for."""

    @property
    def task_type(self) -> str:
        """FULL_TRANS, FULL_INCR_TRANS or INCR_TRANS."""
        return str(self.job["definition"].get("task_type") or "FULL_INCR_TRANS")

    @property
    def lag(self) -> dict[str, Any] | None:
        """The run's stream lag, when it applies changes."""
        lag: dict[str, Any] | None = ((self.run or {}).get("metadata") or {}).get("replication_lag")
        return lag


async def _objects(conn: Conn, *, run_id: str) -> dict[str, dict[str, Any]]:
    """Per object, what the run moved: the checkpoints of the first run of its retry chain (which a retry
    continues), with when each last moved."""
    rows = await conn.fetch(
        """
        WITH RECURSIVE chain AS (
            SELECT id, retry_of FROM scheduler_read.runs WHERE id = $1
            UNION ALL
            SELECT r.id, r.retry_of FROM scheduler_read.runs r JOIN chain c ON r.id = c.retry_of
        )
        SELECT object, done, rows_read, rows_written, outcome, updated_at FROM executor_read.checkpoints
        WHERE run_id = (SELECT id FROM chain WHERE retry_of IS NULL LIMIT 1)
        """,
        run_id,
    )
    return {r["object"]: dict(r) for r in rows}


async def _view(conn: Conn, job: dict[str, Any], *, now: datetime, objects: bool = False) -> JobView:
    run = None
    if job.get("last_start_at") is not None:
        row = await conn.fetchrow(
            "SELECT * FROM scheduler_read.runs WHERE org_id = $1 AND sync_id = $2 AND created_at >= $3"
            " ORDER BY created_at DESC LIMIT 1",
            job["org_id"],
            job["id"],
            job["last_start_at"],
        )
        run = dict(row) if row else None
    stream = await conn.fetchval(
        "SELECT count(*) FROM executor_read.sync_state WHERE sync_id = $1 AND object = $2", job["id"], STREAM
    )
    status = effective_status(
        stored=job["status"],
        task_type=str(job["definition"].get("task_type") or "FULL_INCR_TRANS"),
        start_at=job.get("start_time"),
        now=now,
        run_status=run["status"] if run else None,
        streaming=bool(run and (run.get("metadata") or {}).get("replication_lag")),
        released=not stream,
    )
    moved = await _objects(conn, run_id=run["id"]) if objects and run else {}
    return JobView(job=job, run=run, status=status, objects=moved)


async def jobs(
    conn: Conn, *, org_id: str, project_id: str, ids: list[str], objects: bool = False
) -> dict[str, JobView]:
    """The project's jobs among `ids`, by id, with their status now (and their run's checkpoints with
    `objects`)."""
    rows = await conn.fetch(
        "SELECT * FROM policy_read.drs_jobs WHERE org_id = $1 AND project_id = $2 AND id = ANY($3::text[])",
        org_id,
        project_id,
        ids,
    )
    now = datetime.now(UTC)
    return {r["id"]: await _view(conn, dict(r), now=now, objects=objects) for r in rows}


async def list_jobs(conn: Conn, *, org_id: str, project_id: str, filters: dict[str, str | None]) -> list[JobView]:
    """The project's jobs (newest first, deleted ones left out) that match `filters`: `name` (a part of it),
    `db_use_type`, `engine_type`, `net_type` and `status` (the status now)."""
    rows = await conn.fetch(
        """
        SELECT * FROM policy_read.drs_jobs
        WHERE org_id = $1 AND project_id = $2 AND status <> 'DELETED'
            AND ($3::text IS NULL OR name ILIKE '%' || $3 || '%')
            AND ($4::text IS NULL OR definition ->> 'db_use_type' = $4)
            AND ($5::text IS NULL OR definition ->> 'engine_type' = $5)
            AND ($6::text IS NULL OR definition ->> 'net_type' = $6)
        ORDER BY created_at DESC, id
        """,
        org_id,
        project_id,
        filters.get("name"),
        filters.get("db_use_type"),
        filters.get("engine_type"),
        filters.get("net_type"),
    )
    now = datetime.now(UTC)
    views = [await _view(conn, dict(r), now=now) for r in rows]
    wanted = filters.get("status")
    return [v for v in views if wanted is None or v.status.value == wanted]
