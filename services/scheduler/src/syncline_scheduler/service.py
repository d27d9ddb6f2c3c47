"""Run rules: creating and cancelling runs. No broker imports; returns the events to publish."""

from dataclasses import dataclass

from syncline_contracts.base import Message
from syncline_contracts.runs import (
    CancelRun,
    CreateSyncJob,
    RunCanceled,
    RunCancelRequested,
    RunCounters,
    RunCreated,
    RunRequested,
)
from syncline_contracts.status import JobType, RunStatus
from syncline_platform.db import Conn
from syncline_platform.errors import IllegalTransitionError
from syncline_scheduler import repository
from syncline_scheduler.errors import ConnectorNotFoundError, RunNotFoundError, UnsupportedJobTypeError


@dataclass(frozen=True)
class Outcome:
    """What a command produced: the event answering it, and the request for executors (if any)."""

    event: Message
    request: RunRequested | None = None


async def create_run(conn: Conn, *, org_id: str, cmd: CreateSyncJob) -> Outcome:
    """Record a pending run with a snapshot of its connector, and request its execution."""
    connector = await repository.connector_snapshot(conn, org_id=org_id, connector_id=cmd.sync_id)
    if connector is None:
        raise ConnectorNotFoundError(cmd.sync_id)
    if cmd.job_type is JobType.ACCESS_CONTROL:
        raise UnsupportedJobTypeError(connector_id=cmd.sync_id, job_type=cmd.job_type)
    created = RunCreated(
        run_id=cmd.run_id, sync_id=cmd.sync_id, job_type=cmd.job_type, trigger_method=cmd.trigger_method
    )
    if not await repository.insert_run(conn, org_id=org_id, cmd=cmd, connector=connector):
        return Outcome(event=created)  # the same command again: answer it, request nothing twice
    return Outcome(event=created, request=RunRequested(run_id=cmd.run_id, sync_id=cmd.sync_id, job_type=cmd.job_type))


async def cancel_run(conn: Conn, *, org_id: str, cmd: CancelRun) -> Outcome:
    """A pending run ends canceled at once; a running one becomes canceling and its executor stops it."""
    run = await repository.lock_run(conn, org_id=org_id, run_id=cmd.run_id)
    if run is None:
        raise RunNotFoundError(cmd.run_id)
    current = RunStatus(run["status"])
    if current in (RunStatus.PENDING, RunStatus.SUSPENDED):
        await repository.move(conn, run_id=cmd.run_id, target=RunStatus.CANCELED, stamp="canceled_at")
        counters = RunCounters(
            rows_read=run["rows_read"],
            indexed_document_count=run["indexed_document_count"],
            deleted_document_count=run["deleted_document_count"],
        )
        return Outcome(event=RunCanceled(run_id=cmd.run_id, sync_id=run["sync_id"], counters=counters))
    if current is RunStatus.IN_PROGRESS:
        await repository.move(conn, run_id=cmd.run_id, target=RunStatus.CANCELING, stamp="cancelation_requested_at")
        return Outcome(event=RunCancelRequested(run_id=cmd.run_id, sync_id=run["sync_id"]))
    raise IllegalTransitionError(resource_id=cmd.run_id, current=current, target=RunStatus.CANCELED)
