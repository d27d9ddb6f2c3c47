"""Commands, requests and events of the run aggregate (sync jobs, executions)."""

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from syncline_contracts.base import Message
from syncline_contracts.connectors import CommandRejected
from syncline_contracts.status import JobType, TriggerMethod


class ReplicationLag(BaseModel):
    """How far a change stream's destination is behind its source, as of the last batch it applied."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)

    source_lsn: str
    """The source's flushed end of the log when the stream read it."""
    applied_lsn: str
    """The position the destination holds everything up to."""
    bytes: int
    """Log bytes between the two: what is still to apply."""
    seconds: float
    """From the commit of the last transaction applied to when it became durable at the destination (0 when the
    batch held no transaction)."""
    last_commit_at: datetime | None = None
    """When that transaction committed at the source."""


class RunCounters(BaseModel):
    """What a run moved so far."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)

    rows_read: int = 0
    """Rows read from the source."""
    indexed_document_count: int = 0
    """Documents (rows) written to the destination."""
    deleted_document_count: int = 0
    """Documents deleted from the destination."""
    indexed_document_volume_bytes: int = 0
    """Bytes written to the destination."""
    total_document_count: int | None = None
    """Documents in the destination after the run (set at the end)."""
    replication_lag: ReplicationLag | None = None
    """A change stream's lag behind its source (runs that apply changes)."""


class CreateSyncJob(Message):
    """Create an on-demand (or externally scheduled) run of a connector."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.create"] = "syncline.run.create"
    """Wire type."""
    run_id: str
    """The new run's id, chosen by the gateway so a retried command creates nothing twice."""
    sync_id: str
    """The connector (sync) to run."""
    job_type: JobType = JobType.FULL
    """Full or incremental."""
    trigger_method: TriggerMethod = TriggerMethod.ON_DEMAND
    """Why the run exists."""
    options: dict[str, Any] | None = None
    """How to run it, kept on the run (Polytomic's start options: `fetch_mode`, `resync_mode`, `schemas` (a
    subset of the sync's objects), `test`)."""
    exclusive: bool | None = None
    """Refuse the run (`conflict`) while another run of the sync is still going (Polytomic's 409 on start)."""


class CancelRun(Message):
    """Cancel a run: a pending one at once, a running one cooperatively."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.cancel"] = "syncline.run.cancel"
    """Wire type."""
    run_id: str
    """The run to cancel."""


class CancelRunObject(Message):
    """Stop one object of a run (Polytomic's per-schema cancel); the run's other objects go on."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.cancel_object"] = "syncline.run.cancel_object"
    """Wire type."""
    run_id: str
    """The run whose object stops."""
    object: str
    """The object (Polytomic schema id: `schema.table`, or the name) whose work stops; the run's other objects
    go on."""


class DeleteRun(Message):
    """Delete a run and its record."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.delete"] = "syncline.run.delete"
    """Wire type."""
    run_id: str
    """The run to delete."""


class ClaimRun(Message):
    """An external worker takes a pending run (Elastic's `_claim`)."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.claim"] = "syncline.run.claim"
    """Wire type."""
    run_id: str
    """The run to claim."""
    worker: str
    """The claiming worker's host name."""
    sync_cursor: Any = None
    """Where the worker starts from, when it says so."""


class CheckInRun(Message):
    """A worker says it is still moving the run (Elastic's `_check_in`)."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.check_in"] = "syncline.run.check_in"
    """Wire type."""
    run_id: str
    """The run."""


class ReportRunStats(Message):
    """A worker reports a run's counters (Elastic's `_stats`)."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.report_stats"] = "syncline.run.report_stats"
    """Wire type."""
    run_id: str
    """The run."""
    indexed_document_count: int
    """Documents written so far."""
    deleted_document_count: int
    """Documents deleted so far."""
    indexed_document_volume_bytes: int
    """Bytes written so far."""
    total_document_count: int | None = None
    """Documents in the destination, when known."""
    metadata: dict[str, Any] | None = None
    """Connector-specific facts to keep on the run."""


class FailRun(Message):
    """A worker ends a run in error (Elastic's `_error`)."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.fail"] = "syncline.run.fail"
    """Wire type."""
    run_id: str
    """The run."""
    error: str
    """Why it failed."""


class RunRequested(Message):
    """A pending run is ready for an executor to claim."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.requested"] = "syncline.run.requested"
    """Wire type."""
    run_id: str
    """The run to execute."""
    sync_id: str
    """The connector (sync) it belongs to."""
    job_type: JobType
    """Full or incremental."""


class RunCreated(Message):
    """A run was recorded as pending."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.created"] = "syncline.run.created"
    """Wire type."""
    run_id: str
    """The run."""
    sync_id: str
    """Its connector (sync)."""
    job_type: JobType
    """Full or incremental."""
    trigger_method: TriggerMethod
    """Why the run exists."""


class RunUpdated(Message):
    """A worker checked in or reported counters."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.updated"] = "syncline.run.updated"
    """Wire type."""
    run_id: str
    """The run."""
    sync_id: str
    """Its sync."""
    counters: RunCounters
    """The run's counters now."""


class RunDeleted(Message):
    """A run and its record are gone."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.deleted"] = "syncline.run.deleted"
    """Wire type."""
    run_id: str
    """The run."""
    sync_id: str
    """Its sync."""


class RunCancelRequested(Message):
    """A running run was asked to stop; it is `canceling` until its executor ends it."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.cancel_requested"] = "syncline.run.cancel_requested"
    """Wire type."""
    run_id: str
    """The run."""
    sync_id: str
    """Its connector (sync)."""


class RunObjectCancelRequested(Message):
    """One object of a run was asked to stop; its executor stops that object's work and goes on with the others."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.object_cancel_requested"] = "syncline.run.object_cancel_requested"
    """Wire type."""
    run_id: str
    """The run."""
    sync_id: str
    """Its connector (sync)."""
    object: str
    """The object (Polytomic schema id: `schema.table`, or the name) asked to stop."""


class RunStarted(Message):
    """An executor claimed the run and began moving data."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.started"] = "syncline.run.started"
    """Wire type."""
    run_id: str
    """The run."""
    sync_id: str
    """Its connector (sync)."""
    worker: str
    """The executor that claimed it."""


class RunProgressed(Message):
    """Counters so far; at most one a second per run."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.progress"] = "syncline.run.progress"
    """Wire type."""
    run_id: str
    """The run."""
    sync_id: str
    """Its connector (sync)."""
    counters: RunCounters
    """What moved so far."""


class RunCompleted(Message):
    """The run finished and its data is in place."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.completed"] = "syncline.run.completed"
    """Wire type."""
    run_id: str
    """The run."""
    sync_id: str
    """Its connector (sync)."""
    counters: RunCounters
    """What it moved."""
    object_errors: dict[str, str] | None = None
    """Objects that failed while the others moved (a sync that isolates failures per object), each with its
    error: the run completed with errors (Polytomic's `errors` status, `bulk_sync.completed_with_error`)."""


class RunFailed(Message):
    """The run ended in error."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.failed"] = "syncline.run.failed"
    """Wire type."""
    run_id: str
    """The run."""
    sync_id: str
    """Its connector (sync)."""
    error: str
    """Why it failed."""
    counters: RunCounters
    """What it moved before failing."""


class RunCanceled(Message):
    """The run was canceled; counters are what it moved before stopping."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.canceled"] = "syncline.run.canceled"
    """Wire type."""
    run_id: str
    """The run."""
    sync_id: str
    """Its connector (sync)."""
    counters: RunCounters
    """What it moved before stopping."""


RunCommand = Annotated[
    CreateSyncJob | CancelRun | CancelRunObject | DeleteRun | ClaimRun | CheckInRun | ReportRunStats | FailRun,
    Field(discriminator="type"),
]
"""Everything on the run commands topic."""

RunRequest = Annotated[RunRequested, Field(discriminator="type")]
"""Everything on the run requests topic."""

RunEvent = Annotated[
    RunCreated
    | RunUpdated
    | RunDeleted
    | RunCancelRequested
    | RunObjectCancelRequested
    | RunStarted
    | RunProgressed
    | RunCompleted
    | RunFailed
    | RunCanceled
    | CommandRejected,
    Field(discriminator="type"),
]
"""Everything on the run events topic."""

TERMINAL_RUN_EVENTS: tuple[type[Message], ...] = (RunCompleted, RunFailed, RunCanceled)
"""Exactly one of these ends every run."""
