"""Elastic's worker protocol: an external worker claims a pending run, checks in, reports counters and errors.

Every change goes through the transition table; the events answer the gateway and tell subscribers.
"""

from datetime import datetime

from syncline_contracts.runs import (
    CheckInRun,
    ClaimRun,
    DeleteRun,
    FailRun,
    ReportRunStats,
    RunDeleted,
    RunFailed,
    RunStarted,
    RunUpdated,
)
from syncline_contracts.status import RunStatus
from syncline_platform.db import Conn
from syncline_platform.errors import IllegalTransitionError
from syncline_scheduler import repository
from syncline_scheduler.errors import RunNotFoundError
from syncline_scheduler.service import Outcome, counters_of, retired_events


async def _locked(conn: Conn, *, org_id: str, run_id: str) -> dict[str, object]:
    run = await repository.lock_run(conn, org_id=org_id, run_id=run_id)
    if run is None:
        raise RunNotFoundError(run_id)
    return run


async def delete_run(conn: Conn, *, org_id: str, cmd: DeleteRun) -> Outcome:
    """Delete the run's record, canceling it first: a waiting run ends canceled (its terminal event) and goes, a
    moving one is asked to stop and goes once it ended (its executor sends its terminal event)."""
    retired = await repository.retire_runs(conn, org_id=org_id, run_id=cmd.run_id)
    if not retired.found:
        raise RunNotFoundError(cmd.run_id)
    sync_id = str(retired.found[0]["sync_id"])
    return Outcome(event=RunDeleted(run_id=cmd.run_id, sync_id=sync_id), before=retired_events(org_id, retired))


async def claim_run(conn: Conn, *, org_id: str, cmd: ClaimRun, now: datetime) -> Outcome:
    """pending → in_progress for the claiming worker."""
    run = await _locked(conn, org_id=org_id, run_id=cmd.run_id)
    claimed = await repository.claim_for(conn, run_id=cmd.run_id, worker=cmd.worker, now=now)
    if claimed is None:
        raise IllegalTransitionError(resource_id=cmd.run_id, current=str(run["status"]), target=RunStatus.IN_PROGRESS)
    return Outcome(event=RunStarted(run_id=cmd.run_id, sync_id=claimed["sync_id"], worker=cmd.worker))


async def check_in_run(conn: Conn, *, org_id: str, cmd: CheckInRun, now: datetime) -> Outcome:
    """Record that the worker is alive."""
    await _locked(conn, org_id=org_id, run_id=cmd.run_id)
    run = await repository.touch(conn, run_id=cmd.run_id, now=now)
    return Outcome(event=RunUpdated(run_id=cmd.run_id, sync_id=run["sync_id"], counters=counters_of(run)))


async def report_stats(conn: Conn, *, org_id: str, cmd: ReportRunStats, now: datetime) -> Outcome:
    """Store the worker's counters."""
    await _locked(conn, org_id=org_id, run_id=cmd.run_id)
    run = await repository.set_stats(conn, run_id=cmd.run_id, stats=cmd.model_dump(), now=now)
    return Outcome(event=RunUpdated(run_id=cmd.run_id, sync_id=run["sync_id"], counters=counters_of(run)))


async def fail_run(conn: Conn, *, org_id: str, cmd: FailRun, now: datetime) -> Outcome:
    """End the run in error with the worker's reason (the terminal event of the run)."""
    run = await _locked(conn, org_id=org_id, run_id=cmd.run_id)
    if not await repository.fail(conn, run_id=cmd.run_id, error=cmd.error, now=now):
        raise IllegalTransitionError(resource_id=cmd.run_id, current=str(run["status"]), target=RunStatus.ERROR)
    failed = await repository.lock_run(conn, org_id=org_id, run_id=cmd.run_id)
    assert failed is not None  # noqa: S101 - just moved in this transaction
    return Outcome(
        event=RunFailed(run_id=cmd.run_id, sync_id=failed["sync_id"], error=cmd.error, counters=counters_of(failed))
    )
