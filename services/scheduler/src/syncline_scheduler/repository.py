"""SQL of the scheduler schema (and the read of syncs' compiled forms from policy's read model `sync_specs`).

Every run status change goes through the run ledger (`syncline_platform.run_ledger`), whose guarded UPDATE moves a
run only from a status the transition table allows; due schedules and retries are claimed with `FOR UPDATE SKIP
LOCKED`, so replicas never fire one twice.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from syncline_connectors.spec import run_snapshot
from syncline_contracts.status import JobType, RunStatus, TriggerMethod
from syncline_platform import run_ledger
from syncline_platform.db import Conn
from syncline_platform.retention import Purge, RetentionSettings, by_age

SyncKey = tuple[str, str]
"""(org_id, sync_id)."""

ACTIVE_STATUSES = [RunStatus.PENDING, RunStatus.IN_PROGRESS, RunStatus.CANCELING, RunStatus.SUSPENDED]
"""A run in one of these keeps its sync busy: a tick that comes meanwhile is skipped."""
TERMINAL_STATUSES = [s for s in RunStatus if s.terminal]


@dataclass(frozen=True)
class NewRun:
    """A run to record as pending."""

    run_id: str
    sync_id: str
    job_type: JobType
    trigger_method: TriggerMethod
    requested_at: datetime
    attempt: int = 1
    retry_of: str | None = None
    schedule_id: str | None = None
    due_at: datetime | None = None
    catch_up: bool = False
    options: dict[str, Any] = field(default_factory=dict)


def _pairs(keys: Iterable[SyncKey]) -> tuple[list[str], list[str]]:
    orgs, ids = [], []
    for org_id, sync_id in keys:
        orgs.append(org_id)
        ids.append(sync_id)
    return orgs, ids


# --- compiled syncs (policy's schema, read only) ------------------------------------------------------------


async def connector_snapshots(conn: Conn, *, keys: Iterable[SyncKey]) -> dict[SyncKey, dict[str, Any]]:
    """The syncs' compiled forms, by (org_id, sync id), whatever their dialect (`definition`, `sealed_secrets`,
    `specs` by job type, `error`), read from policy's `sync_specs`; missing ones are absent. A new run keeps
    `spec.run_snapshot` of one."""
    orgs, ids = _pairs(keys)
    rows = await conn.fetch(
        """
        SELECT s.org_id, s.sync_id, s.definition, s.sealed_secrets, s.specs, s.error
        FROM policy_read.sync_specs s
        JOIN unnest($1::text[], $2::text[]) AS k(org_id, id) ON k.org_id = s.org_id AND k.id = s.sync_id
        """,
        orgs,
        ids,
    )
    return {(r["org_id"], r["sync_id"]): dict(r) for r in rows}


async def connector_snapshot(conn: Conn, *, org_id: str, connector_id: str) -> dict[str, Any] | None:
    """One sync's compiled form (read from the policy schema), or None."""
    return (await connector_snapshots(conn, keys=[(org_id, connector_id)])).get((org_id, connector_id))


# --- runs ---------------------------------------------------------------------------------------------------


_INSERT_RUN = """
    INSERT INTO runs (id, org_id, sync_id, job_type, trigger_method, connector, sealed_secrets, attempt,
                      retry_of, schedule_id, due_at, catch_up, options, requested_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
    ON CONFLICT (id) DO NOTHING
"""


def _run_args(org_id: str, run: NewRun, compiled: dict[str, Any]) -> tuple[Any, ...]:
    return (
        run.run_id,
        org_id,
        run.sync_id,
        run.job_type,
        run.trigger_method,
        run_snapshot(compiled, job_type=run.job_type),
        compiled["sealed_secrets"],
        run.attempt,
        run.retry_of,
        run.schedule_id,
        run.due_at,
        run.catch_up,
        run.options,
        run.requested_at,
    )


async def insert_run(conn: Conn, *, org_id: str, run: NewRun, connector: dict[str, Any]) -> bool:
    """Record a pending run with its snapshot of the sync's compiled form `connector` (the spec of its job type);
    False when a run with this id already exists."""
    inserted = await conn.fetchval(_INSERT_RUN + " RETURNING 1", *_run_args(org_id, run, connector))
    return inserted is not None


async def insert_runs(conn: Conn, *, runs: Sequence[tuple[str, NewRun, dict[str, Any]]]) -> None:
    """Record pending runs (org_id, run, the sync's compiled form) in one round trip."""
    if runs:
        await conn.executemany(_INSERT_RUN, [_run_args(*run) for run in runs])


async def lock_run(conn: Conn, *, org_id: str, run_id: str) -> dict[str, Any] | None:
    """The run, locked for a status change, or None."""
    row = await conn.fetchrow("SELECT * FROM runs WHERE id = $1 AND org_id = $2 FOR UPDATE", run_id, org_id)
    return dict(row) if row else None


async def add_canceled_object(conn: Conn, *, run_id: str, obj: str) -> bool:
    """Add an object to the run's canceled objects, once; False when it was already there."""
    added = await conn.fetchval(
        """
        UPDATE runs SET canceled_objects = array_append(canceled_objects, $2)
        WHERE id = $1 AND NOT ($2 = ANY(canceled_objects)) RETURNING 1
        """,
        run_id,
        obj,
    )
    return added is not None


async def get_run(conn: Conn, *, run_id: str) -> dict[str, Any] | None:
    """The run, or None."""
    row = await conn.fetchrow("SELECT * FROM runs WHERE id = $1", run_id)
    return dict(row) if row else None


async def move(conn: Conn, *, run_id: str, target: RunStatus, now: datetime) -> bool:
    """Move a run to `target` when the transition table allows it (through the run ledger)."""
    return await run_ledger.move(conn, run_id=run_id, target=target, now=now) is not None


async def lock_runs_of(conn: Conn, *, keys: Iterable[SyncKey]) -> None:
    """Serialise, until the transaction ends, every decision to start a run of these syncs (exclusive starts,
    schedule fires, retries): whoever checks for a run still going and inserts one holds the sync's lock. Keys
    are locked in one order so two batches cannot deadlock."""
    ordered = sorted({f"{org_id}/{sync_id}" for org_id, sync_id in keys})
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('runs:' || k, 0)) FROM unnest($1::text[]) AS k", ordered
    )


async def active_runs(conn: Conn, *, keys: Iterable[SyncKey]) -> dict[SyncKey, str]:
    """For each sync with a run still going, one such run's id."""
    orgs, ids = _pairs(keys)
    rows = await conn.fetch(
        """
        SELECT DISTINCT ON (r.org_id, r.sync_id) r.org_id, r.sync_id, r.id
        FROM runs r JOIN unnest($1::text[], $2::text[]) AS k(org_id, sync_id) USING (org_id, sync_id)
        WHERE r.status = ANY($3::text[])
        """,
        orgs,
        ids,
        ACTIVE_STATUSES,
    )
    return {(r["org_id"], r["sync_id"]): r["id"] for r in rows}


async def settle(conn: Conn, *, run_id: str, now: datetime) -> dict[str, Any] | None:
    """Mark a finished run as accounted for (failures, retries); None when it is not finished or already was."""
    row = await conn.fetchrow(
        """
        UPDATE runs SET settled_at = $2
        WHERE id = $1 AND settled_at IS NULL AND status = ANY($3::text[]) RETURNING *
        """,
        run_id,
        now,
        TERMINAL_STATUSES,
    )
    return dict(row) if row else None


async def _silent(conn: Conn, *, status: RunStatus, cutoff: datetime, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT id, worker_hostname, last_seen FROM runs WHERE status = $1 AND last_seen < $2
        ORDER BY last_seen LIMIT $3 FOR UPDATE SKIP LOCKED
        """,
        status,
        cutoff,
        limit,
    )


async def reap_silent(conn: Conn, *, cutoff: datetime, now: datetime, limit: int) -> list[dict[str, Any]]:
    """in_progress runs whose executor last checked in before `cutoff` end in error, saying why."""
    reaped = []
    for row in await _silent(conn, status=RunStatus.IN_PROGRESS, cutoff=cutoff, limit=limit):
        seen = row["last_seen"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        error = f"no check-in from worker {row['worker_hostname'] or 'unknown'} since {seen}"
        moved = await run_ledger.move(conn, run_id=row["id"], target=RunStatus.ERROR, now=now, values={"error": error})
        reaped += [moved] if moved else []
    return reaped


async def reap_canceling(conn: Conn, *, cutoff: datetime, now: datetime, limit: int) -> list[dict[str, Any]]:
    """canceling runs whose executor went silent end canceled, keeping their counters."""
    silent = await _silent(conn, status=RunStatus.CANCELING, cutoff=cutoff, limit=limit)
    return await run_ledger.transition(conn, run_ids=[r["id"] for r in silent], target=RunStatus.CANCELED, now=now)


async def rerequest_unclaimed(conn: Conn, *, cutoff: datetime, now: datetime, limit: int) -> list[asyncpg.Record]:
    """Pending (and suspended) runs Syncline's executors can run, last requested before `cutoff`, stamped as
    requested again now (runs waiting for an external worker are left alone)."""
    return await conn.fetch(
        """
        UPDATE runs SET requested_at = $2
        WHERE id IN (
            SELECT id FROM runs WHERE status IN ('pending', 'suspended') AND requested_at < $1
              AND (connector ? 'spec' OR connector ? 'spec_error')
            ORDER BY requested_at LIMIT $3 FOR UPDATE SKIP LOCKED
        )
        RETURNING id, org_id, sync_id, job_type
        """,
        cutoff,
        now,
        limit,
    )


# --- syncs and schedules ------------------------------------------------------------------------------------


async def lock_sync(conn: Conn, *, org_id: str, sync_id: str) -> dict[str, Any] | None:
    """The sync's scheduling state, locked, or None when it has never been configured."""
    row = await conn.fetchrow("SELECT * FROM syncs WHERE org_id = $1 AND sync_id = $2 FOR UPDATE", org_id, sync_id)
    return dict(row) if row else None


async def upsert_sync(
    conn: Conn, *, org_id: str, sync_id: str, active: bool, retry: dict[str, Any], now: datetime, reset: bool
) -> None:
    """Store the sync's policy; `reset` clears its run of failures (it was switched on again)."""
    await conn.execute(
        """
        INSERT INTO syncs (org_id, sync_id, active, retry, configured_at) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (org_id, sync_id) DO UPDATE SET active = $3, retry = $4, configured_at = $5,
            consecutive_failures = CASE WHEN $6 THEN 0 ELSE syncs.consecutive_failures END,
            deactivated_at = CASE WHEN $3 THEN NULL ELSE syncs.deactivated_at END
        """,
        org_id,
        sync_id,
        active,
        retry,
        now,
        reset,
    )


async def schedules_of(conn: Conn, *, org_id: str, sync_id: str) -> dict[str, dict[str, Any]]:
    """The sync's stored schedules by id."""
    rows = await conn.fetch("SELECT * FROM schedules WHERE org_id = $1 AND sync_id = $2", org_id, sync_id)
    return {r["schedule_id"]: dict(r) for r in rows}


async def delete_schedules_except(conn: Conn, *, org_id: str, sync_id: str, keep: Sequence[str]) -> None:
    """Remove the sync's schedules that are no longer configured."""
    await conn.execute(
        "DELETE FROM schedules WHERE org_id = $1 AND sync_id = $2 AND NOT (schedule_id = ANY($3::text[]))",
        org_id,
        sync_id,
        list(keep),
    )


async def upsert_schedule(
    conn: Conn,
    *,
    org_id: str,
    sync_id: str,
    schedule_id: str,
    kind: str,
    definition: dict[str, Any],
    fingerprint: str,
    configured_at: datetime,
    next_fire_at: datetime | None,
    error: str | None,
) -> None:
    """Store a (new or changed) schedule with its first fire time."""
    await conn.execute(
        """
        INSERT INTO schedules (org_id, sync_id, schedule_id, kind, definition, fingerprint, configured_at,
                               next_fire_at, error)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (org_id, sync_id, schedule_id) DO UPDATE SET kind = $4, definition = $5, fingerprint = $6,
            configured_at = $7, next_fire_at = $8, error = $9
        """,
        org_id,
        sync_id,
        schedule_id,
        kind,
        definition,
        fingerprint,
        configured_at,
        next_fire_at,
        error,
    )


async def set_next_fire(
    conn: Conn, *, org_id: str, sync_id: str, schedule_id: str, next_fire_at: datetime | None
) -> None:
    """Re-arm (or disarm) one schedule."""
    await conn.execute(
        "UPDATE schedules SET next_fire_at = $4 WHERE org_id = $1 AND sync_id = $2 AND schedule_id = $3",
        org_id,
        sync_id,
        schedule_id,
        next_fire_at,
    )


async def disarm(conn: Conn, *, org_id: str, sync_id: str) -> None:
    """Stop a sync's schedules from firing and drop its waiting retries."""
    await conn.execute("UPDATE schedules SET next_fire_at = NULL WHERE org_id = $1 AND sync_id = $2", org_id, sync_id)
    await conn.execute("DELETE FROM retries WHERE org_id = $1 AND sync_id = $2", org_id, sync_id)


async def claim_due(conn: Conn, *, now: datetime, limit: int) -> list[asyncpg.Record]:
    """Due schedules of active syncs, locked (with their syncs) so no other replica fires them."""
    return await conn.fetch(
        """
        SELECT s.org_id, s.sync_id, s.schedule_id, s.definition, s.fingerprint, s.configured_at, s.next_fire_at
        FROM schedules s JOIN syncs y USING (org_id, sync_id)
        WHERE s.next_fire_at <= $1 AND y.active
        ORDER BY s.next_fire_at
        LIMIT $2
        FOR UPDATE OF s, y SKIP LOCKED
        """,
        now,
        limit,
    )


@dataclass(frozen=True)
class Tick:
    """What one due tick did."""

    org_id: str
    sync_id: str
    schedule_id: str
    due_at: datetime
    decided_at: datetime
    decided_by: str
    outcome: str
    reason: str | None = None
    catch_up: bool = False
    missed_ticks: int = 0
    run_id: str | None = None

    @property
    def key(self) -> tuple[str, str, str, datetime]:
        """What makes a tick unique."""
        return (self.org_id, self.sync_id, self.schedule_id, self.due_at)

    @property
    def sync_key(self) -> SyncKey:
        """Its sync."""
        return (self.org_id, self.sync_id)


async def record_ticks(conn: Conn, *, ticks: Sequence[Tick]) -> set[tuple[str, str, str, datetime]]:
    """Record ticks' outcomes; returns the keys of those recorded now (a tick already decided is left as it
    was, so it never fires twice)."""
    columns = list(zip(*(tuple(getattr(t, f.name) for f in fields(Tick)) for t in ticks), strict=True))
    rows = await conn.fetch(
        """
        INSERT INTO ticks (org_id, sync_id, schedule_id, due_at, decided_at, decided_by, outcome, reason,
                           catch_up, missed_ticks, run_id)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[],
                             $7::text[], $8::text[], $9::boolean[], $10::integer[], $11::text[])
        ON CONFLICT (org_id, sync_id, schedule_id, due_at) DO NOTHING
        RETURNING org_id, sync_id, schedule_id, due_at
        """,
        *(list(c) for c in columns),
    )
    return {(r["org_id"], r["sync_id"], r["schedule_id"], r["due_at"]) for r in rows}


async def after_ticks(conn: Conn, *, moves: Sequence[tuple[Tick, datetime | None, str | None]]) -> None:
    """Move schedules past their due ticks: (tick, next fire time, the run it fired)."""
    await conn.executemany(
        """
        UPDATE schedules SET next_fire_at = $4, last_due_at = $5,
            last_fired_at = CASE WHEN $7::text IS NULL THEN last_fired_at ELSE $6 END,
            last_run_id = coalesce($7, last_run_id)
        WHERE org_id = $1 AND sync_id = $2 AND schedule_id = $3
        """,
        [
            (t.org_id, t.sync_id, t.schedule_id, following, t.due_at, t.decided_at, run_id)
            for t, following, run_id in moves
        ],
    )


async def next_due(conn: Conn) -> datetime | None:
    """The earliest due time of an active schedule or a waiting retry."""
    due: datetime | None = await conn.fetchval(
        """
        SELECT least(
            (SELECT min(s.next_fire_at) FROM schedules s JOIN syncs y USING (org_id, sync_id) WHERE y.active),
            (SELECT min(due_at) FROM retries))
        """
    )
    return due


# --- failures and retries -----------------------------------------------------------------------------------


async def count_failure(conn: Conn, *, org_id: str, sync_id: str, failed: bool) -> int:
    """Add a failed run to the sync's run of failures, or end the run of failures; returns the new count."""
    count: int = await conn.fetchval(
        """
        UPDATE syncs SET consecutive_failures = CASE WHEN $3 THEN consecutive_failures + 1 ELSE 0 END
        WHERE org_id = $1 AND sync_id = $2 RETURNING consecutive_failures
        """,
        org_id,
        sync_id,
        failed,
    )
    return count


async def deactivate(conn: Conn, *, org_id: str, sync_id: str, now: datetime) -> None:
    """Switch the sync off: no schedule fires, no retry waits."""
    await conn.execute(
        "UPDATE syncs SET active = false, deactivated_at = $3 WHERE org_id = $1 AND sync_id = $2",
        org_id,
        sync_id,
        now,
    )
    await disarm(conn, org_id=org_id, sync_id=sync_id)


async def add_retry(
    conn: Conn, *, failed_run_id: str, org_id: str, sync_id: str, attempt: int, due_at: datetime
) -> bool:
    """Wait for a retry of a failed run; False when one is already waiting."""
    inserted = await conn.fetchval(
        """
        INSERT INTO retries (failed_run_id, org_id, sync_id, attempt, due_at) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (failed_run_id) DO NOTHING RETURNING 1
        """,
        failed_run_id,
        org_id,
        sync_id,
        attempt,
        due_at,
    )
    return inserted is not None


async def claim_due_retries(conn: Conn, *, now: datetime, limit: int) -> list[asyncpg.Record]:
    """Retries whose backoff is over, removed from the waiting list (inside the caller's transaction) and
    returned with the failed run they retry."""
    return await conn.fetch(
        """
        WITH due AS (
            DELETE FROM retries WHERE failed_run_id IN (
                SELECT failed_run_id FROM retries WHERE due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED
            ) RETURNING *
        )
        SELECT due.attempt, due.due_at, r.id AS failed_run_id, r.org_id, r.sync_id, r.job_type, r.trigger_method,
               r.schedule_id, r.options
        FROM due JOIN runs r ON r.id = due.failed_run_id
        """,
        now,
        limit,
    )


async def rearm_continuous(
    conn: Conn, *, org_id: str, sync_id: str, now: datetime, default_spacing_s: float
) -> datetime | None:
    """Arm the sync's continuous schedules again: at once, but no sooner than their spacing after the last
    start. Returns the earliest time armed."""
    due: datetime | None = await conn.fetchval(
        """
        WITH armed AS (
            UPDATE schedules SET next_fire_at = greatest(
                $3, coalesce(last_fired_at, $3)
                    + make_interval(secs => coalesce((definition->>'every_minutes')::float * 60, $4)))
            WHERE org_id = $1 AND sync_id = $2 AND kind = 'continuous' AND next_fire_at IS NULL AND error IS NULL
            RETURNING next_fire_at
        )
        SELECT min(next_fire_at) FROM armed
        """,
        org_id,
        sync_id,
        now,
        default_spacing_s,
    )
    return due


# --- external workers (Elastic's worker protocol) -----------------------------------------------------------


@dataclass(frozen=True)
class Retired:
    """What deleting runs did: the waiting ones it ended canceled, the moving ones it asked to stop (their records
    go once they ended), and how many finished records it deleted."""

    found: list[dict[str, Any]]
    canceled: list[dict[str, Any]]
    stopping: list[dict[str, Any]]
    deleted: int


async def retire_runs(
    conn: Conn, *, org_id: str, sync_id: str | None = None, run_id: str | None = None, now: datetime | None = None
) -> Retired:
    """Delete a run (`run_id`) or every run of a sync, canceling first: a waiting run ends canceled and its record
    goes, a moving one becomes canceling and keeps its record until it ended (`delete_on_end`), so every run
    sends its one terminal event before it disappears."""
    found = [
        dict(r)
        for r in await conn.fetch(
            "SELECT id, sync_id, status FROM runs WHERE org_id = $1 AND ($2::text IS NULL OR sync_id = $2)"
            " AND ($3::text IS NULL OR id = $3) FOR UPDATE",
            org_id,
            sync_id,
            run_id,
        )
    ]
    waiting = [r["id"] for r in found if r["status"] in (RunStatus.PENDING, RunStatus.SUSPENDED)]
    moving = [r["id"] for r in found if r["status"] in (RunStatus.IN_PROGRESS, RunStatus.CANCELING)]
    canceled = await run_ledger.transition(conn, run_ids=waiting, target=RunStatus.CANCELED, now=now)
    stopping = await run_ledger.transition(
        conn, run_ids=moving, target=RunStatus.CANCELING, now=now, only_from=[RunStatus.IN_PROGRESS]
    )
    await conn.execute("UPDATE runs SET delete_on_end = true WHERE id = ANY($1::text[])", moving)
    status: str = await conn.execute(
        "DELETE FROM runs WHERE id = ANY($1::text[]) AND status = ANY($2::text[])",
        [r["id"] for r in found],
        TERMINAL_STATUSES,
    )
    return Retired(found=found, canceled=canceled, stopping=stopping, deleted=int(status.rsplit(maxsplit=1)[-1]))


async def delete_ended(conn: Conn, *, run_id: str) -> bool:
    """Delete a run that was deleted while it moved, now that it ended."""
    deleted = await conn.fetchval(
        "DELETE FROM runs WHERE id = $1 AND delete_on_end AND status = ANY($2::text[]) RETURNING 1",
        run_id,
        TERMINAL_STATUSES,
    )
    return deleted is not None


async def claim_for(conn: Conn, *, run_id: str, worker: str, now: datetime) -> dict[str, Any] | None:
    """pending → in_progress for an external worker; None when the run is not pending."""
    return await run_ledger.move(
        conn,
        run_id=run_id,
        target=RunStatus.IN_PROGRESS,
        now=now,
        only_from=[RunStatus.PENDING],
        values={"worker_hostname": worker},
        seen=True,
    )


async def touch(conn: Conn, *, run_id: str, now: datetime) -> dict[str, Any]:
    """Record a check-in."""
    return await run_ledger.check_in(conn, run_id=run_id, now=now) or {}


async def set_stats(conn: Conn, *, run_id: str, stats: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Store a worker's counters (and metadata, merged)."""
    values = {
        "indexed_document_count": stats["indexed_document_count"],
        "deleted_document_count": stats["deleted_document_count"],
        "indexed_document_volume": stats["indexed_document_volume_bytes"],
    }
    if stats["total_document_count"] is not None:
        values["total_document_count"] = stats["total_document_count"]
    return await run_ledger.check_in(conn, run_id=run_id, now=now, values=values, metadata=stats["metadata"]) or {}


async def fail(conn: Conn, *, run_id: str, error: str, now: datetime) -> bool:
    """Move a run to `error` with its reason, when the transition table allows it."""
    failed = await run_ledger.move(
        conn, run_id=run_id, target=RunStatus.ERROR, now=now, values={"error": error}, seen=True
    )
    return failed is not None


async def stop_runs_of(conn: Conn, *, org_id: str, sync_id: str, now: datetime) -> list[dict[str, Any]]:
    """Waiting runs of a sync end canceled, running ones become canceling; returns the runs it moved."""
    rows = await conn.fetch(
        "SELECT id, status FROM runs WHERE org_id = $1 AND sync_id = $2 AND status = ANY($3::text[]) FOR UPDATE",
        org_id,
        sync_id,
        [RunStatus.PENDING, RunStatus.SUSPENDED, RunStatus.IN_PROGRESS],
    )
    waiting = [r["id"] for r in rows if r["status"] != RunStatus.IN_PROGRESS]
    running = [r["id"] for r in rows if r["status"] == RunStatus.IN_PROGRESS]
    return [
        *await run_ledger.transition(conn, run_ids=waiting, target=RunStatus.CANCELED, now=now),
        *await run_ledger.transition(conn, run_ids=running, target=RunStatus.CANCELING, now=now),
    ]


def ticks_purge(settings: RetentionSettings) -> Purge:
    """Retention of decided ticks, by age."""
    return by_age("ticks", table="ticks", column="decided_at", keep=timedelta(days=settings.ticks_days))
