"""Commands, requests and events of the run aggregate (sync jobs, executions)."""

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from syncline_contracts.base import Message
from syncline_contracts.connectors import CommandRejected
from syncline_contracts.status import JobType, TriggerMethod


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


class CancelRun(Message):
    """Cancel a run: a pending one at once, a running one cooperatively."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.cancel"] = "syncline.run.cancel"
    """Wire type."""
    run_id: str
    """The run to cancel."""


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


class RunCancelRequested(Message):
    """A running run was asked to stop; it is `canceling` until its executor ends it."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.cancel_requested"] = "syncline.run.cancel_requested"
    """Wire type."""
    run_id: str
    """The run."""
    sync_id: str
    """Its connector (sync)."""


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


RunCommand = Annotated[CreateSyncJob | CancelRun, Field(discriminator="type")]
"""Everything on the run commands topic."""

RunRequest = Annotated[RunRequested, Field(discriminator="type")]
"""Everything on the run requests topic."""

RunEvent = Annotated[
    RunCreated
    | RunCancelRequested
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
