"""Schedule rules: storing a sync's schedules, firing due ticks exactly once, firing due retries.

No broker imports: each function returns the events to publish, which the caller writes to the outbox in the
same transaction as the state change.
"""

import functools
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog

from syncline_contracts.runs import RunCreated
from syncline_contracts.schedules import Schedule, ScheduleFired, ScheduleKind, SchedulesConfigured, ScheduleSkipped
from syncline_contracts.status import JobType, TriggerMethod
from syncline_contracts.topics import RUN_EVENTS, RUN_REQUESTS, SYNC_EVENTS
from syncline_platform.db import Conn
from syncline_platform.errors import InvalidError
from syncline_platform.schedules import Timetable, compile_schedule, count_missed, first_fire
from syncline_scheduler import repository
from syncline_scheduler.repository import NewRun, SyncKey, Tick
from syncline_scheduler.service import Emit, Emits, new_run_id, request_for
from syncline_scheduler.settings import SchedulerSettings

log = structlog.get_logger(__name__)


def fingerprint(schedule: Schedule) -> str:
    """Identifies a schedule's definition: unchanged definitions keep their fire state on reconfiguration."""
    return hashlib.sha256(schedule.model_dump_json().encode()).hexdigest()[:32]


@functools.lru_cache(maxsize=65536)
def _compiled(definition: str, configured_at: datetime) -> tuple[Schedule, Timetable]:
    schedule = Schedule.model_validate_json(definition)
    return schedule, compile_schedule(schedule, configured_at=configured_at)


def timetable_of(definition: dict[str, Any], *, configured_at: datetime) -> tuple[Schedule, Timetable]:
    """A stored schedule and its fire times (compiled once per definition)."""
    return _compiled(json.dumps(definition, sort_keys=True), configured_at)


# --- configuration ------------------------------------------------------------------------------------------


async def configure(conn: Conn, *, org_id: str, event: SchedulesConfigured, now: datetime) -> datetime | None:
    """Store a sync's schedules and policy. An unchanged schedule keeps its next fire time; a new or changed one
    gets its first; switching the sync off disarms every schedule and waiting retry. Returns the earliest new
    fire time."""
    configured_at = event.configured_at or now
    previous = await repository.lock_sync(conn, org_id=org_id, sync_id=event.sync_id)
    was_active = previous is not None and previous["active"]
    await repository.upsert_sync(
        conn,
        org_id=org_id,
        sync_id=event.sync_id,
        active=event.active,
        retry=event.retry.model_dump(mode="json"),
        now=configured_at,
        reset=event.active and not was_active,
    )
    stored = await repository.schedules_of(conn, org_id=org_id, sync_id=event.sync_id)
    await repository.delete_schedules_except(
        conn, org_id=org_id, sync_id=event.sync_id, keep=[s.schedule_id for s in event.schedules]
    )
    firsts = []
    for schedule in event.schedules:
        kept = stored.get(schedule.schedule_id)
        if kept is not None and kept["fingerprint"] == fingerprint(schedule) and was_active and event.active:
            continue  # unchanged: keeps its next fire time (and a continuous one stays waiting for its run)
        first = await _store(conn, org_id=org_id, sync_id=event.sync_id, schedule=schedule, at=configured_at, now=now)
        firsts += [first] if first is not None else []
    if not event.active:
        await repository.disarm(conn, org_id=org_id, sync_id=event.sync_id)
        return None
    return min(firsts, default=None)


async def _store(
    conn: Conn, *, org_id: str, sync_id: str, schedule: Schedule, at: datetime, now: datetime
) -> datetime | None:
    error = None
    try:
        first = first_fire(schedule, compile_schedule(schedule, configured_at=at), now=now)
    except InvalidError as exc:  # policy validates first; a schedule that slipped through never fires
        log.error("schedule.invalid", sync_id=sync_id, schedule_id=schedule.schedule_id, error=str(exc))
        first, error = None, str(exc)
    await repository.upsert_schedule(
        conn,
        org_id=org_id,
        sync_id=sync_id,
        schedule_id=schedule.schedule_id,
        kind=schedule.kind,
        definition=schedule.model_dump(mode="json"),
        fingerprint=fingerprint(schedule),
        configured_at=at,
        next_fire_at=first,
        error=error,
    )
    return first


# --- firing -------------------------------------------------------------------------------------------------


@dataclass
class _Decision:
    """One due tick and what it does: fire `run`, or (without a run) be skipped for `tick.reason`."""

    tick: Tick
    schedule: Schedule
    next_fire_at: datetime | None
    run: NewRun | None
    active_run_id: str | None = None


async def fire_due(conn: Conn, *, now: datetime, settings: SchedulerSettings) -> tuple[int, list[Emit]]:
    """Claim up to a batch of due schedules and decide each tick: fire one pending run, or record it skipped.
    Set-based: a handful of statements per batch. Returns how many schedules were claimed and the events."""
    rows = await repository.claim_due(conn, now=now, limit=settings.fire_batch_size)
    if not rows:
        return 0, []
    keys = {(r["org_id"], r["sync_id"]) for r in rows}
    await repository.lock_runs_of(conn, keys=keys)
    active = await repository.active_runs(conn, keys=keys)
    connectors = await repository.connector_snapshots(conn, keys=keys)
    decisions = [_decide(row, now=now, settings=settings, active=active, connectors=connectors) for row in rows]
    recorded = await repository.record_ticks(conn, ticks=[d.tick for d in decisions])
    decisions = [d if d.tick.key in recorded else _already_decided(d) for d in decisions]
    fired = [d.run for d in decisions if d.run is not None]
    await repository.insert_runs(
        conn, runs=[(d.tick.org_id, d.run, connectors[d.tick.sync_key]) for d in decisions if d.run is not None]
    )
    await repository.after_ticks(
        conn, moves=[(d.tick, d.next_fire_at, d.run.run_id if d.run else None) for d in decisions]
    )
    log.info("schedules.due", claimed=len(rows), fired=len(fired), skipped=len(rows) - len(fired))
    return len(rows), [emit for d in decisions for emit in _events(d, now=now, connectors=connectors)]


def _decide(
    row: asyncpg.Record,
    *,
    now: datetime,
    settings: SchedulerSettings,
    active: dict[SyncKey, str],
    connectors: dict[SyncKey, dict[str, Any]],
) -> _Decision:
    schedule, timetable = timetable_of(row["definition"], configured_at=row["configured_at"])
    key: SyncKey = (row["org_id"], row["sync_id"])
    due: datetime = row["next_fire_at"]
    following, missed = timetable.next_after(due), 0
    if following is not None and following <= now:  # late: more ticks came due meanwhile (one cron step otherwise)
        missed, following = count_missed(timetable, due=due, now=now), timetable.next_after(now)
    reason = _skip_reason(key=key, schedule=schedule, active=active, connectors=connectors)
    active_run_id = active.get(key)
    run = None
    if reason is None:
        run = NewRun(
            run_id=new_run_id(),
            sync_id=key[1],
            job_type=schedule.job_type,
            trigger_method=TriggerMethod.SCHEDULED,
            requested_at=now,
            schedule_id=schedule.schedule_id,
            due_at=due,
            catch_up=missed > 0 or (now - due) > timedelta(seconds=settings.misfire_grace_s),
            options=_options(schedule),
        )
        active[key] = run.run_id  # a second schedule of the sync due in this batch is skipped
    tick = Tick(
        org_id=key[0],
        sync_id=key[1],
        schedule_id=schedule.schedule_id,
        due_at=due,
        decided_at=now,
        decided_by=settings.instance_id,
        outcome="fired" if run else "skipped",
        reason=reason,
        catch_up=missed > 0 or (now - due) > timedelta(seconds=settings.misfire_grace_s),
        missed_ticks=missed,
        run_id=run.run_id if run else None,
    )
    if schedule.kind is ScheduleKind.CONTINUOUS:
        following = None  # it waits for its run to end (or, when skipped, for the run going on to end)
    return _Decision(tick=tick, schedule=schedule, next_fire_at=following, run=run, active_run_id=active_run_id)


def _skip_reason(
    *, key: SyncKey, schedule: Schedule, active: dict[SyncKey, str], connectors: dict[SyncKey, dict[str, Any]]
) -> str | None:
    if key in active:
        return "run_active"
    if key not in connectors:
        return "definition_missing"
    if schedule.job_type is JobType.ACCESS_CONTROL:
        return "unsupported_job_type"
    return None


def _already_decided(decision: _Decision) -> _Decision:
    """A tick some earlier pass already decided (its row exists): it fires nothing now."""
    tick = replace(decision.tick, outcome="skipped", reason="already_fired", run_id=None)
    return replace(decision, tick=tick, run=None)


def _options(schedule: Schedule) -> dict[str, Any]:
    """What the schedule asks of its runs beyond the job type."""
    options: dict[str, Any] = {"resync_mode": schedule.resync_mode, "selective_mode": schedule.selective_mode}
    if schedule.schemas is not None:
        options["schemas"] = list(schedule.schemas)
    return {k: v for k, v in options.items() if v is not None}


def _events(decision: _Decision, *, now: datetime, connectors: dict[SyncKey, dict[str, Any]]) -> list[Emit]:
    tick, run = decision.tick, decision.run
    emits = Emits(org_id=tick.org_id)
    if run is None:
        skipped = ScheduleSkipped.model_validate(
            {
                "sync_id": tick.sync_id,
                "schedule_id": tick.schedule_id,
                "due_at": tick.due_at,
                "reason": tick.reason,
                "active_run_id": decision.active_run_id,
                "next_fire_at": decision.next_fire_at,
            }
        )
        emits.add(SYNC_EVENTS, skipped)
        log.debug("schedule.skipped", sync_id=tick.sync_id, schedule_id=tick.schedule_id, reason=tick.reason)
        return emits.items
    fired = ScheduleFired(
        run_id=run.run_id,
        sync_id=tick.sync_id,
        schedule_id=tick.schedule_id,
        due_at=tick.due_at,
        fired_at=now,
        catch_up=tick.catch_up,
        missed_ticks=tick.missed_ticks,
    )
    emits.root = emits.add(RUN_EVENTS, fired)
    created = RunCreated(
        run_id=run.run_id, sync_id=run.sync_id, job_type=run.job_type, trigger_method=run.trigger_method
    )
    emits.add(RUN_EVENTS, created)
    request = request_for(run, connectors[tick.sync_key])
    if request is not None:
        emits.add(RUN_REQUESTS, request)
    log.debug("schedule.fired", sync_id=tick.sync_id, schedule_id=tick.schedule_id, run_id=run.run_id)
    return emits.items


# --- retries ------------------------------------------------------------------------------------------------


async def fire_retries(conn: Conn, *, now: datetime, settings: SchedulerSettings) -> tuple[int, list[Emit]]:
    """Create the runs of retries whose backoff is over; a retry that comes while another run of its sync is
    going is dropped (that run does the work) and recorded as skipped."""
    rows = await repository.claim_due_retries(conn, now=now, limit=settings.fire_batch_size)
    if not rows:
        return 0, []
    keys = {(r["org_id"], r["sync_id"]) for r in rows}
    await repository.lock_runs_of(conn, keys=keys)
    active = await repository.active_runs(conn, keys=keys)
    connectors = await repository.connector_snapshots(conn, keys=keys)
    emitted: list[Emit] = []
    for row in rows:
        key: SyncKey = (row["org_id"], row["sync_id"])
        emits = Emits(org_id=key[0])
        reason = "run_active" if key in active else None if key in connectors else "definition_missing"
        if reason is not None:
            emits.add(
                SYNC_EVENTS,
                ScheduleSkipped.model_validate(
                    {
                        "sync_id": key[1],
                        "schedule_id": None,
                        "due_at": row["due_at"],
                        "reason": reason,
                        "active_run_id": active.get(key),
                    }
                ),
            )
            log.info("retry.skipped", failed_run_id=row["failed_run_id"], reason=reason)
        else:
            active[key] = await _retry(conn, row=row, connector=connectors[key], now=now, emits=emits)
        emitted += emits.items
    return len(rows), emitted


async def _retry(conn: Conn, *, row: asyncpg.Record, connector: dict[str, Any], now: datetime, emits: Emits) -> str:
    run = NewRun(
        run_id=new_run_id(),
        sync_id=row["sync_id"],
        job_type=JobType(row["job_type"]),
        trigger_method=TriggerMethod(row["trigger_method"]),
        requested_at=now,
        attempt=row["attempt"],
        retry_of=row["failed_run_id"],
        schedule_id=row["schedule_id"],
        due_at=row["due_at"],
        options=row["options"],
    )
    await repository.insert_run(conn, org_id=row["org_id"], run=run, connector=connector)
    emits.root = emits.add(
        RUN_EVENTS,
        RunCreated(run_id=run.run_id, sync_id=run.sync_id, job_type=run.job_type, trigger_method=run.trigger_method),
    )
    request = request_for(run, connector)
    if request is not None:
        emits.add(RUN_REQUESTS, request)
    log.info("retry.fired", run_id=run.run_id, failed_run_id=row["failed_run_id"], attempt=run.attempt)
    return run.run_id
