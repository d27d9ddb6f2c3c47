"""Commands and events of Huawei DRS jobs (one data replication job each, scoped to a project).

A DRS call is a batch: the gateway sends `ApplyDrsBatch` (one action, its items in order) on
`syncline.drs.commands.v1`; policy applies every item on its own (one failing item changes nothing of the others)
and answers `DrsBatchApplied` with one result per item on `syncline.drs.events.v1`. A job that gives its resources
back (terminate) is announced with `DrsJobReleased` on `syncline.syncs.events.v1`, where the executor drops the
replication slot and publication it made. Job statuses are DRS's own (`DrsJobStatus`).
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from syncline_contracts.base import Message
from syncline_contracts.connectors import CommandRejected


class DrsAction(StrEnum):
    """What a batch does to each of its jobs (one DRS API each)."""

    CREATE = "create"
    TEST_CONNECTION = "test_connection"
    MODIFY = "modify"
    SELECT_OBJECTS = "select_objects"
    SET_POLICY = "set_policy"
    PRECHECK = "precheck"
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    DELETE = "delete"


class DrsJobStatus(StrEnum):
    """A DRS job's status as DRS names it. Policy keeps the configured ones; the running ones come from the run."""

    CREATING = "CREATING"
    CREATE_FAILED = "CREATE_FAILED"
    CONFIGURATION = "CONFIGURATION"
    STARTJOBING = "STARTJOBING"
    WAITING_FOR_START = "WAITING_FOR_START"
    START_JOB_FAILED = "START_JOB_FAILED"
    PAUSING = "PAUSING"
    FULL_TRANSFER_STARTED = "FULL_TRANSFER_STARTED"
    FULL_TRANSFER_FAILED = "FULL_TRANSFER_FAILED"
    FULL_TRANSFER_COMPLETE = "FULL_TRANSFER_COMPLETE"
    INCRE_TRANSFER_STARTED = "INCRE_TRANSFER_STARTED"
    INCRE_TRANSFER_FAILED = "INCRE_TRANSFER_FAILED"
    RELEASE_RESOURCE_STARTED = "RELEASE_RESOURCE_STARTED"
    RELEASE_RESOURCE_FAILED = "RELEASE_RESOURCE_FAILED"
    RELEASE_RESOURCE_COMPLETE = "RELEASE_RESOURCE_COMPLETE"
    DELETED = "DELETED"


_RUNNING = frozenset(
    {
        DrsJobStatus.STARTJOBING,
        DrsJobStatus.WAITING_FOR_START,
        DrsJobStatus.FULL_TRANSFER_STARTED,
        DrsJobStatus.FULL_TRANSFER_COMPLETE,
        DrsJobStatus.FULL_TRANSFER_FAILED,
        DrsJobStatus.INCRE_TRANSFER_STARTED,
        DrsJobStatus.INCRE_TRANSFER_FAILED,
        DrsJobStatus.START_JOB_FAILED,
    }
)
_ENDING = frozenset({DrsJobStatus.RELEASE_RESOURCE_STARTED, DrsJobStatus.DELETED})

DRS_TRANSITIONS: dict[DrsJobStatus, frozenset[DrsJobStatus]] = {
    DrsJobStatus.CREATING: frozenset({DrsJobStatus.CONFIGURATION, DrsJobStatus.CREATE_FAILED}),
    DrsJobStatus.CREATE_FAILED: frozenset({DrsJobStatus.DELETED}),
    DrsJobStatus.CONFIGURATION: frozenset({DrsJobStatus.STARTJOBING, DrsJobStatus.WAITING_FOR_START, *_ENDING}),
    DrsJobStatus.STARTJOBING: frozenset({DrsJobStatus.PAUSING, *_RUNNING, *_ENDING}),
    DrsJobStatus.WAITING_FOR_START: frozenset({DrsJobStatus.PAUSING, *_RUNNING, *_ENDING}),
    DrsJobStatus.START_JOB_FAILED: frozenset({DrsJobStatus.STARTJOBING, *_ENDING}),
    DrsJobStatus.PAUSING: frozenset({DrsJobStatus.STARTJOBING, *_ENDING}),
    DrsJobStatus.FULL_TRANSFER_STARTED: frozenset({DrsJobStatus.PAUSING, *_RUNNING, *_ENDING}),
    DrsJobStatus.FULL_TRANSFER_FAILED: frozenset({DrsJobStatus.STARTJOBING, *_ENDING}),
    DrsJobStatus.FULL_TRANSFER_COMPLETE: frozenset(_ENDING),
    DrsJobStatus.INCRE_TRANSFER_STARTED: frozenset({DrsJobStatus.PAUSING, *_RUNNING, *_ENDING}),
    DrsJobStatus.INCRE_TRANSFER_FAILED: frozenset({DrsJobStatus.STARTJOBING, *_ENDING}),
    DrsJobStatus.RELEASE_RESOURCE_STARTED: frozenset(
        {DrsJobStatus.RELEASE_RESOURCE_COMPLETE, DrsJobStatus.RELEASE_RESOURCE_FAILED, DrsJobStatus.DELETED}
    ),
    DrsJobStatus.RELEASE_RESOURCE_FAILED: frozenset({DrsJobStatus.RELEASE_RESOURCE_STARTED, DrsJobStatus.DELETED}),
    DrsJobStatus.RELEASE_RESOURCE_COMPLETE: frozenset({DrsJobStatus.DELETED}),
    DrsJobStatus.DELETED: frozenset(),
}
"""What may follow what: the stored lifecycle (configuration, start, pause, release, delete) and the statuses a
job's run reports."""


def can_transition_drs(current: DrsJobStatus, target: DrsJobStatus) -> bool:
    """Whether `target` may follow `current`."""
    return target in DRS_TRANSITIONS[current]


_SETTLED = frozenset(
    {
        DrsJobStatus.CREATING,
        DrsJobStatus.CREATE_FAILED,
        DrsJobStatus.CONFIGURATION,
        DrsJobStatus.PAUSING,
        DrsJobStatus.RELEASE_RESOURCE_COMPLETE,
        DrsJobStatus.RELEASE_RESOURCE_FAILED,
        DrsJobStatus.DELETED,
    }
)
_ACTIVE_RUN = frozenset({"pending", "in_progress", "canceling", "suspended"})


def effective_status(  # noqa: PLR0911 - one answer per run status
    *,
    stored: str,
    task_type: str,
    start_at: datetime | None,
    now: datetime,
    run_status: str | None,
    streaming: bool,
    released: bool,
) -> DrsJobStatus:
    """A job's status now: the stored one, or for a started job what its latest run (made since the last start)
    says. `streaming`: that run applies changes (its stored lag is set); `released`: no slot of the job is left."""
    status = DrsJobStatus(stored)
    if status in _SETTLED:
        return status
    if status is DrsJobStatus.RELEASE_RESOURCE_STARTED:
        done = released and run_status not in _ACTIVE_RUN
        return DrsJobStatus.RELEASE_RESOURCE_COMPLETE if done else status
    incremental = streaming or task_type == "INCR_TRANS"
    match run_status:
        case None:
            waiting = start_at is not None and start_at > now
            return DrsJobStatus.WAITING_FOR_START if waiting else DrsJobStatus.STARTJOBING
        case "pending" | "suspended":
            return DrsJobStatus.STARTJOBING
        case "in_progress" | "canceling":
            return DrsJobStatus.INCRE_TRANSFER_STARTED if incremental else DrsJobStatus.FULL_TRANSFER_STARTED
        case "completed":
            full_only = task_type == "FULL_TRANS"
            return DrsJobStatus.FULL_TRANSFER_COMPLETE if full_only else DrsJobStatus.INCRE_TRANSFER_FAILED
        case "error":
            return DrsJobStatus.INCRE_TRANSFER_FAILED if incremental else DrsJobStatus.FULL_TRANSFER_FAILED
        case _:
            return DrsJobStatus.PAUSING


class DrsItemResult(BaseModel):
    """What became of one item of a batch."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)

    id: str
    """The job the item addressed (the new job's id for a create)."""
    status: Literal["success", "failed"]
    """Whether the item took effect."""
    error_code: str | None = None
    """DRS's error code when it failed (`DRS.M00201`, …)."""
    error_msg: str | None = None
    """Why it failed, for people."""
    details: dict[str, Any] | None = None
    """What the action's answer shows beside the outcome (a create's name, status and time; a precheck's id)."""


class ApplyDrsBatch(Message):
    """Apply one DRS action to each item of a batch, each on its own."""

    key_field: ClassVar[str] = "project_id"
    type: Literal["syncline.drs.apply_batch"] = "syncline.drs.apply_batch"
    """Wire type."""
    project_id: str
    """The project (32 hex) the jobs belong to."""
    action: DrsAction
    """What to do to each item's job."""
    items: tuple[dict[str, Any], ...]
    """The items as the SDK sent them, checked for shape by the gateway; passwords sealed (`db_password_sealed`)."""
    received_at_ms: int | None = None
    """When the gateway received the batch (epoch ms): a start without `start_time` starts from here."""


class DrsBatchApplied(Message):
    """The outcome of `ApplyDrsBatch`: one result per item, in the order of the items."""

    key_field: ClassVar[str] = "project_id"
    type: Literal["syncline.drs.batch_applied"] = "syncline.drs.batch_applied"
    """Wire type."""
    project_id: str
    """The project the jobs belong to."""
    action: DrsAction
    """The action applied."""
    results: tuple[DrsItemResult, ...]
    """One per item."""


class DrsJobReleased(Message):
    """A DRS job was terminated: its runs stop, and the replication slot and publication Syncline made for it go."""

    key_field: ClassVar[str] = "sync_id"
    type: Literal["syncline.drs.job_released"] = "syncline.drs.job_released"
    """Wire type."""
    sync_id: str
    """The job id (the sync its runs belong to)."""
    project_id: str
    """Its project."""


DrsCommand = Annotated[ApplyDrsBatch, Field(discriminator="type")]
"""Everything on the DRS commands topic."""

DrsEvent = Annotated[DrsBatchApplied | CommandRejected, Field(discriminator="type")]
"""Everything on the DRS events topic."""
