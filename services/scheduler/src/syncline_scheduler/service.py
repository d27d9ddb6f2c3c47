"""Run rules: creating and cancelling runs, and accounting for finished ones (failures, retries, deactivation).

No broker imports: each function returns the events to publish, which the caller writes to the outbox in the
same transaction.
"""

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from syncline_connectors.config import executable
from syncline_connectors.spec import run_snapshot
from syncline_contracts.base import Message
from syncline_contracts.envelope import Envelope
from syncline_contracts.runs import (
    CancelRun,
    CancelRunObject,
    CreateSyncJob,
    RunCanceled,
    RunCancelRequested,
    RunCounters,
    RunCreated,
    RunFailed,
    RunObjectCancelRequested,
    RunRequested,
)
from syncline_contracts.schedules import (
    RetryPolicy,
    RunRetryScheduled,
    SyncDeactivated,
    SyncDeactivationWarned,
    SyncRunsDeleted,
)
from syncline_contracts.status import JobType, RunStatus
from syncline_contracts.topics import RUN_EVENTS, RUN_REQUESTS, SYNC_EVENTS, Topic
from syncline_platform import outbox
from syncline_platform.db import Conn
from syncline_platform.errors import IllegalTransitionError
from syncline_platform.schedules import retry_delay, warning_threshold
from syncline_scheduler import repository
from syncline_scheduler.errors import (
    ConnectorNotFoundError,
    RunAlreadyActiveError,
    RunNotFoundError,
    UnsupportedJobTypeError,
)
from syncline_scheduler.repository import NewRun
from syncline_scheduler.settings import SchedulerSettings

SOURCE = "/syncline/scheduler"

Clock = Callable[[], datetime]
"""Where the scheduler reads the time; tests pass one they control."""


def utc_now() -> datetime:
    """The real time, in UTC."""
    return datetime.now(UTC)


def new_run_id() -> str:
    """A 20-character URL-safe id, like the ids the gateway gives runs."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes[:15]).decode()


@dataclass(frozen=True)
class Emit:
    """An event to write to the outbox."""

    topic: Topic
    message: Message
    envelope: Envelope


async def publish(conn: Conn, emitted: list[Emit]) -> None:
    """Write events to the outbox, inside the caller's transaction."""
    await outbox.enqueue_many(conn, items=[(e.topic, e.message, e.envelope) for e in emitted])


@dataclass
class Emits:
    """Events produced by one transaction, each caused by `root` when given (else a chain of its own)."""

    org_id: str
    root: Envelope | None = None
    items: list[Emit] = field(default_factory=list)

    def add(self, topic: Topic, message: Message) -> Envelope:
        """Queue `message`; returns its envelope."""
        if self.root is None:
            envelope = Envelope(ce_type=message.wire_type(), ce_source=SOURCE, org_id=self.org_id)
        else:
            envelope = self.root.caused(ce_type=message.wire_type(), ce_source=SOURCE)
        self.items.append(Emit(topic=topic, message=message, envelope=envelope))
        return envelope


@dataclass(frozen=True)
class Settled:
    """What accounting for a finished run produced: events, and when something it armed comes due."""

    emits: list[Emit] = field(default_factory=list)
    due_at: datetime | None = None


@dataclass(frozen=True)
class Outcome:
    """What a command produced: the event answering it, the request for executors (if any), and events of their
    own chains to publish before the answer (the runs a deletion stopped)."""

    event: Message
    request: RunRequested | None = None
    before: list[Emit] = field(default_factory=list)


def request_for(run: NewRun, connector: dict[str, Any]) -> RunRequested | None:
    """The request that sends a new run of a sync's compiled form `connector` to Syncline's executors, or None when
    an external worker must claim it (an Elastic connector of a service type Syncline has no source for)."""
    if not executable(run_snapshot(connector, job_type=run.job_type)):
        return None
    return RunRequested(run_id=run.run_id, sync_id=run.sync_id, job_type=run.job_type)


def check_job_type(*, sync_id: str, job_type: JobType) -> None:
    """Connectors here have no document level security, so access-control runs cannot run."""
    if job_type is JobType.ACCESS_CONTROL:
        raise UnsupportedJobTypeError(connector_id=sync_id, job_type=job_type)


def counters_of(run: dict[str, Any]) -> RunCounters:
    """A run row's counters."""
    return RunCounters(
        rows_read=run["rows_read"],
        indexed_document_count=run["indexed_document_count"],
        deleted_document_count=run["deleted_document_count"],
        indexed_document_volume_bytes=run["indexed_document_volume"],
        total_document_count=run["total_document_count"],
    )


async def _check_exclusive(conn: Conn, *, org_id: str, cmd: CreateSyncJob) -> None:
    """An exclusive run starts only when no other run of its sync is going (checked under the sync's lock, so
    two simultaneous starts cannot both pass)."""
    key = (org_id, cmd.sync_id)
    await repository.lock_runs_of(conn, keys=[key])
    running = (await repository.active_runs(conn, keys=[key])).get(key)
    if running is not None and running != cmd.run_id:
        raise RunAlreadyActiveError(sync_id=cmd.sync_id, run_id=running)


async def create_run(conn: Conn, *, org_id: str, cmd: CreateSyncJob, now: datetime) -> Outcome:
    """Record a pending run with a snapshot of its sync's compiled form, and request its execution."""
    connector = await repository.connector_snapshot(conn, org_id=org_id, connector_id=cmd.sync_id)
    if connector is None:
        raise ConnectorNotFoundError(cmd.sync_id)
    check_job_type(sync_id=cmd.sync_id, job_type=cmd.job_type)
    if cmd.exclusive:
        await _check_exclusive(conn, org_id=org_id, cmd=cmd)
    created = RunCreated(
        run_id=cmd.run_id, sync_id=cmd.sync_id, job_type=cmd.job_type, trigger_method=cmd.trigger_method
    )
    run = NewRun(
        run_id=cmd.run_id,
        sync_id=cmd.sync_id,
        job_type=cmd.job_type,
        trigger_method=cmd.trigger_method,
        requested_at=now,
        options=dict(cmd.options or {}),
    )
    if not await repository.insert_run(conn, org_id=org_id, run=run, connector=connector):
        return Outcome(event=created)  # the same command again: answer it, request nothing twice
    return Outcome(event=created, request=request_for(run, connector))


async def cancel_run(conn: Conn, *, org_id: str, cmd: CancelRun, now: datetime) -> Outcome:
    """A pending run ends canceled at once; a running one becomes canceling and its executor stops it."""
    run = await repository.lock_run(conn, org_id=org_id, run_id=cmd.run_id)
    if run is None:
        raise RunNotFoundError(cmd.run_id)
    current = RunStatus(run["status"])
    if current in (RunStatus.PENDING, RunStatus.SUSPENDED):
        await repository.move(conn, run_id=cmd.run_id, target=RunStatus.CANCELED, now=now)
        return Outcome(event=RunCanceled(run_id=cmd.run_id, sync_id=run["sync_id"], counters=counters_of(run)))
    if current is RunStatus.IN_PROGRESS:
        await repository.move(conn, run_id=cmd.run_id, target=RunStatus.CANCELING, now=now)
        return Outcome(event=RunCancelRequested(run_id=cmd.run_id, sync_id=run["sync_id"]))
    raise IllegalTransitionError(resource_id=cmd.run_id, current=current, target=RunStatus.CANCELED)


OBJECT_CANCELABLE = frozenset({RunStatus.PENDING, RunStatus.SUSPENDED, RunStatus.IN_PROGRESS})
"""A run in one of these can have one of its objects stopped (a canceling run is stopping them all)."""


async def cancel_run_object(conn: Conn, *, org_id: str, cmd: CancelRunObject, now: datetime) -> Outcome:
    """One object of a waiting or running run stops, the others go on: the object joins the run's
    `canceled_objects`, which its executor reads when it claims the run and at each check-in."""
    del now  # no time to stamp: the object stops when its executor next reads the run
    run = await repository.lock_run(conn, org_id=org_id, run_id=cmd.run_id)
    if run is None:
        raise RunNotFoundError(cmd.run_id)
    current = RunStatus(run["status"])
    if current not in OBJECT_CANCELABLE:
        raise IllegalTransitionError(
            resource_id=f"{cmd.run_id}/{cmd.object}", current=current, target=RunStatus.CANCELED
        )
    await repository.add_canceled_object(conn, run_id=cmd.run_id, obj=cmd.object)
    return Outcome(event=RunObjectCancelRequested(run_id=cmd.run_id, sync_id=run["sync_id"], object=cmd.object))


# --- finished runs ------------------------------------------------------------------------------------------


async def settle_run(
    conn: Conn, *, run_id: str, now: datetime, settings: SchedulerSettings, cause: Envelope | None = None
) -> Settled:
    """Account for a finished run once: its sync's run of failures, a retry with backoff, a warning and then
    deactivation after too many failures in a row, and re-arming continuous schedules. `cause` is the
    envelope of the terminal event, when one is being handled."""
    run = await repository.settle(conn, run_id=run_id, now=now)
    if run is None:
        return Settled()
    if run["delete_on_end"]:  # deleted while it moved: now that it ended (its terminal event sent), it goes
        await repository.delete_ended(conn, run_id=run_id)
        return Settled()
    org_id, sync_id = run["org_id"], run["sync_id"]
    sync = await repository.lock_sync(conn, org_id=org_id, sync_id=sync_id)
    if sync is None:
        return Settled()  # a sync without schedules or retry policy (e.g. an Elastic connector run on demand)
    emits = Emits(org_id=org_id, root=cause)
    status = RunStatus(run["status"])
    active, retry_at = bool(sync["active"]), None
    if status is not RunStatus.CANCELED:
        failures = await repository.count_failure(
            conn, org_id=org_id, sync_id=sync_id, failed=status is RunStatus.ERROR
        )
        if status is RunStatus.ERROR and active:
            active, retry_at = await _after_failure(conn, run=run, sync=sync, failures=failures, now=now, emits=emits)
    if not active:
        return Settled(emits=emits.items)
    rearmed = await repository.rearm_continuous(
        conn, org_id=org_id, sync_id=sync_id, now=now, default_spacing_s=settings.continuous_min_interval_s
    )
    return Settled(emits=emits.items, due_at=min((t for t in (retry_at, rearmed) if t is not None), default=None))


async def _after_failure(
    conn: Conn, *, run: dict[str, Any], sync: dict[str, Any], failures: int, now: datetime, emits: Emits
) -> tuple[bool, datetime | None]:
    """Warn, deactivate or schedule a retry; returns whether the sync is still active, and when it retries."""
    policy = RetryPolicy.model_validate(sync["retry"])
    org_id, sync_id = run["org_id"], run["sync_id"]
    if failures == warning_threshold(policy):
        emits.add(
            SYNC_EVENTS,
            SyncDeactivationWarned(
                sync_id=sync_id,
                consecutive_failures=failures,
                deactivate_after_failures=policy.deactivate_after_failures,
                last_run_id=run["id"],
            ),
        )
    if failures >= policy.deactivate_after_failures:
        await repository.deactivate(conn, org_id=org_id, sync_id=sync_id, now=now)
        reason = f"{failures} consecutive failed runs; the last one ({run['id']}) failed with: {run['error']}"
        emits.add(
            SYNC_EVENTS,
            SyncDeactivated(sync_id=sync_id, reason=reason, consecutive_failures=failures, last_run_id=run["id"]),
        )
        return False, None
    delay = retry_delay(policy, failed_attempt=run["attempt"])
    if delay is None:
        return True, None
    retry_at = now + timedelta(seconds=delay)
    attempt = run["attempt"] + 1
    added = await repository.add_retry(
        conn, failed_run_id=run["id"], org_id=org_id, sync_id=sync_id, attempt=attempt, due_at=retry_at
    )
    if added:
        emits.add(
            RUN_EVENTS,
            RunRetryScheduled(run_id=run["id"], sync_id=sync_id, attempt=attempt, retry_at=retry_at, delay_s=delay),
        )
    return True, retry_at


# --- the sweep ----------------------------------------------------------------------------------------------


async def sweep(conn: Conn, *, now: datetime, settings: SchedulerSettings, limit: int = 100) -> list[Emit]:
    """End runs whose executor went silent (in error, or canceled when they were being canceled) and request
    again the pending (or suspended) runs no executor claimed."""
    emitted: list[Emit] = []
    cutoff = now - timedelta(seconds=settings.reaper_after_s)
    for run in await repository.reap_silent(conn, cutoff=cutoff, now=now, limit=limit):
        emits = Emits(org_id=run["org_id"])
        emits.add(
            RUN_EVENTS,
            RunFailed(run_id=run["id"], sync_id=run["sync_id"], error=run["error"], counters=counters_of(run)),
        )
        emitted += emits.items + (await settle_run(conn, run_id=run["id"], now=now, settings=settings)).emits
    for run in await repository.reap_canceling(conn, cutoff=cutoff, now=now, limit=limit):
        emits = Emits(org_id=run["org_id"])
        emits.add(RUN_EVENTS, RunCanceled(run_id=run["id"], sync_id=run["sync_id"], counters=counters_of(run)))
        emitted += emits.items + (await settle_run(conn, run_id=run["id"], now=now, settings=settings)).emits
    stale = now - timedelta(seconds=settings.republish_after_s)
    for row in await repository.rerequest_unclaimed(conn, cutoff=stale, now=now, limit=limit):
        emits = Emits(org_id=row["org_id"])  # a fresh message id: the executor's inbox must not drop it
        emits.add(RUN_REQUESTS, RunRequested(run_id=row["id"], sync_id=row["sync_id"], job_type=row["job_type"]))
        emitted += emits.items
    return emitted


async def stop_runs(conn: Conn, *, org_id: str, sync_id: str, now: datetime) -> list[Emit]:
    """A sync's waiting runs end canceled and running ones are asked to stop; returns the events to publish."""
    emits = Emits(org_id=org_id)
    for run in await repository.stop_runs_of(conn, org_id=org_id, sync_id=sync_id, now=now):
        if run["status"] == RunStatus.CANCELED:
            emits.add(RUN_EVENTS, RunCanceled(run_id=run["id"], sync_id=sync_id, counters=counters_of(run)))
        else:
            emits.add(RUN_EVENTS, RunCancelRequested(run_id=run["id"], sync_id=sync_id))
    return emits.items


async def sync_deleted(conn: Conn, *, org_id: str, sync_id: str, now: datetime, cause: Envelope) -> list[Emit]:
    """Stop a deleted sync's runs and delete its finished history; returns the events to publish, the last one
    `SyncRunsDeleted` caused by `cause` (the deletion), which the gateway waits for before it answers."""
    retired = await repository.retire_runs(conn, org_id=org_id, sync_id=sync_id, now=now)
    answer = Emits(org_id=org_id, root=cause)
    answer.add(SYNC_EVENTS, SyncRunsDeleted(sync_id=sync_id, deleted=retired.deleted, stopping=len(retired.stopping)))
    return [*retired_events(org_id, retired), *answer.items]


def retired_events(org_id: str, retired: repository.Retired) -> list[Emit]:
    """The events of the runs a deletion stopped, each in a chain of its own (not an answer to the deletion): the
    terminal event of each waiting run it ended, a cancel request for each moving one."""
    emits = Emits(org_id=org_id)
    for run in retired.canceled:
        emits.add(RUN_EVENTS, RunCanceled(run_id=run["id"], sync_id=run["sync_id"], counters=counters_of(run)))
    for run in retired.stopping:
        emits.add(RUN_EVENTS, RunCancelRequested(run_id=run["id"], sync_id=run["sync_id"]))
    return emits.items


async def connector_runs_deleted(conn: Conn, *, org_id: str, connector_id: str, cause: Envelope) -> list[Emit]:
    """Delete every run of a deleted connector (Elastic deletes a connector's sync jobs whatever their status),
    canceling those still waiting or moving first (a moving one's record goes once it ended); returns their
    events and `SyncRunsDeleted` caused by `cause`, which the gateway waits for before it answers."""
    retired = await repository.retire_runs(conn, org_id=org_id, sync_id=connector_id)
    answer = Emits(org_id=org_id, root=cause)
    answer.add(
        SYNC_EVENTS,
        SyncRunsDeleted(sync_id=connector_id, deleted=retired.deleted, stopping=len(retired.stopping)),
    )
    return [*retired_events(org_id, retired), *answer.items]
