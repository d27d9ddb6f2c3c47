"""The schedule model every dialect compiles to, and the messages of schedules and syncs.

Policy validates a sync's schedules (with `syncline_platform.schedules`) and announces them with
`SchedulesConfigured`; the scheduler fires them and reports `ScheduleFired`, `ScheduleSkipped`,
`RunRetryScheduled`, `SyncDeactivationWarned` and `SyncDeactivated`. All times are UTC.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from syncline_contracts.base import Message
from syncline_contracts.connectors import CommandRejected
from syncline_contracts.status import JobType
from syncline_contracts.syncs import BulkSyncConfigured, BulkSyncDeleted


class ScheduleKind(StrEnum):
    """How a schedule decides when to fire."""

    MANUAL = "manual"
    """Never fires; runs start only on demand."""
    CONTINUOUS = "continuous"
    """Again as soon as the last run ended, at most every `every_minutes` (5 by default)."""
    INTERVAL = "interval"
    """Every `every_minutes`, from `first_execution_from` (or from when it was configured)."""
    HOURLY = "hourly"
    """Every hour at `minute`."""
    DAILY = "daily"
    """Every day at `hour`:`minute`."""
    WEEKLY = "weekly"
    """Every week on `day_of_week` at `hour`:`minute`."""
    MONTHLY = "monthly"
    """Every month on `day_of_month` (the last day of shorter months) at `hour`:`minute`."""
    CRON5 = "cron5"
    """A standard 5-field cron `expression` (minute hour day-of-month month day-of-week)."""
    QUARTZ = "quartz"
    """A Quartz cron `expression` as Elastic's `scheduling.*.interval` uses it: seconds first, 6 or 7 fields."""
    AWS_RATE = "aws_rate"
    """An AWS `rate(N minutes|hours|days)` `expression`."""
    EVENTBRIDGE = "eventbridge"
    """An EventBridge `cron(minutes hours day-of-month month day-of-week year)` `expression`."""
    ONCE = "once"
    """Once, at `start_at` (DRS `start_time`); at once when that instant has passed."""


class Schedule(BaseModel):
    """One schedule of a sync. Which fields matter depends on `kind`; the others stay empty."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)

    schedule_id: str = "default"
    """Unique within the sync: `default`, `full`, `incremental`, or the dialect's own schedule id."""
    kind: ScheduleKind
    """How it fires."""
    expression: str | None = None
    """The cron, Quartz, `rate(…)` or `cron(…)` text, verbatim as the client sent it."""
    every_minutes: int | None = None
    """`interval`: the period; `continuous`: the least time between two starts (default 5)."""
    minute: str | None = None
    """`hourly`/`daily`/`weekly`/`monthly`: minute 0-59 (a string, as on Polytomic's wire; default `0`)."""
    hour: str | None = None
    """`daily`/`weekly`/`monthly`: hour 0-23 UTC."""
    day_of_week: str | None = None
    """`weekly`: `monday` … `sunday` (any case; 3-letter names and 0-7 with 0 and 7 = Sunday too)."""
    day_of_month: str | None = None
    """`monthly`: 1-31."""
    start_at: int | str | None = None
    """`once`: epoch milliseconds (number or digit string) or an ISO-8601 instant."""
    first_execution_from: int | str | None = None
    """No fire before this instant: epoch milliseconds or ISO-8601 (AWS `FirstExecutionFrom`)."""
    job_type: JobType = JobType.FULL
    """What the runs it fires do."""
    resync_mode: str | None = None
    """Polytomic's per-schedule sync mode (`normal`, `refetch`, `resync`, `rebuild`), passed to the run."""
    selective_mode: str | None = None
    """Polytomic's `incrementalFields` / `nonincrementalFields` scope, passed to the run."""
    schemas: tuple[str, ...] | None = None
    """The subset of schemas (objects) its runs move; all of the sync's when empty."""


class RetryPolicy(BaseModel):
    """What happens when a sync's run fails."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)

    max_attempts: int = 3
    """Attempts per run, the first included; a failed attempt below this is retried."""
    base_delay_s: float = 30.0
    """Delay before the first retry; doubles for each further attempt."""
    max_delay_s: float = 900.0
    """The delay never exceeds this."""
    deactivate_after_failures: int = 20
    """After this many consecutive failed runs the sync is deactivated (a warning event comes at half)."""


class SchedulesConfigured(Message):
    """A sync's schedules and retry policy as they stand now (they replace whatever was configured before)."""

    key_field: ClassVar[str] = "sync_id"
    type: Literal["syncline.sync.schedules_configured"] = "syncline.sync.schedules_configured"
    """Wire type."""
    sync_id: str
    """The sync (for Elastic, the connector id)."""
    schedules: tuple[Schedule, ...] = ()
    """Every schedule of the sync; an empty list removes them all."""
    retry: RetryPolicy = RetryPolicy()
    """Retries and deactivation."""
    active: bool = True
    """Inactive syncs do not fire (they can still be run on demand)."""
    configured_at: datetime | None = None
    """When the configuration changed; anchors `interval` and `aws_rate` schedules without a first execution."""
    stop_runs: bool | None = None
    """The owner switched the sync off and its runs stop too: waiting ones end canceled, running ones are asked to
    stop (Polytomic's deactivation; Elastic's disabled scheduling leaves runs alone)."""


class ScheduleFired(Message):
    """A schedule came due and created a pending run."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.schedule.fired"] = "syncline.schedule.fired"
    """Wire type."""
    run_id: str
    """The run it created."""
    sync_id: str
    """The sync."""
    schedule_id: str
    """The schedule that fired."""
    due_at: datetime
    """When the tick was due."""
    fired_at: datetime
    """When it fired."""
    catch_up: bool = False
    """The tick fired late (the scheduler was down or behind); later missed ticks are folded into this run."""
    missed_ticks: int = 0
    """Ticks that came due while it was late and were folded into this run (counted up to 1,000)."""


class ScheduleSkipped(Message):
    """A due tick (or retry) started no run."""

    key_field: ClassVar[str] = "sync_id"
    type: Literal["syncline.schedule.skipped"] = "syncline.schedule.skipped"
    """Wire type."""
    sync_id: str
    """The sync."""
    schedule_id: str | None
    """The schedule whose tick this was; None for a due retry."""
    due_at: datetime
    """When the tick was due."""
    reason: Literal["run_active", "definition_missing", "unsupported_job_type", "already_fired"]
    """Why nothing started."""
    active_run_id: str | None = None
    """With `run_active`: the run of the sync still going."""
    next_fire_at: datetime | None = None
    """When the schedule fires next, if it does."""


class RunRetryScheduled(Message):
    """A failed run will be tried again."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.run.retry_scheduled"] = "syncline.run.retry_scheduled"
    """Wire type."""
    run_id: str
    """The run that failed."""
    sync_id: str
    """The sync."""
    attempt: int
    """The number of the coming attempt (2 for the first retry)."""
    retry_at: datetime
    """When the new run is created."""
    delay_s: float
    """The backoff delay."""


class SyncDeactivationWarned(Message):
    """A sync failed many times in a row and will be deactivated if it keeps failing."""

    key_field: ClassVar[str] = "sync_id"
    type: Literal["syncline.sync.deactivation_warned"] = "syncline.sync.deactivation_warned"
    """Wire type."""
    sync_id: str
    """The sync."""
    consecutive_failures: int
    """Failed runs in a row so far."""
    deactivate_after_failures: int
    """The count at which it is deactivated."""
    last_run_id: str
    """The latest failed run."""


class SyncDeactivated(Message):
    """The scheduler stopped firing a sync's schedules."""

    key_field: ClassVar[str] = "sync_id"
    type: Literal["syncline.sync.deactivated"] = "syncline.sync.deactivated"
    """Wire type."""
    sync_id: str
    """The sync."""
    reason: str
    """Why, for people."""
    consecutive_failures: int
    """Failed runs in a row."""
    last_run_id: str
    """The latest failed run."""


class SyncRunsDeleted(Message):
    """The scheduler deleted the runs of a deleted sync or connector: its answer to `BulkSyncDeleted` and to
    `ConnectorDeleted` with `delete_sync_jobs`, caused by that event (the gateway answers the delete once it has
    it). A bulk sync's running executions are asked to stop and keep their record until they end."""

    key_field: ClassVar[str] = "sync_id"
    type: Literal["syncline.sync.runs_deleted"] = "syncline.sync.runs_deleted"
    """Wire type."""
    sync_id: str
    """The sync (or connector)."""
    deleted: int
    """How many runs were deleted."""
    stopping: int = 0
    """How many runs were asked to stop and are kept until they end."""


SyncEvent = Annotated[
    SchedulesConfigured
    | ScheduleSkipped
    | SyncDeactivationWarned
    | SyncDeactivated
    | SyncRunsDeleted
    | BulkSyncConfigured
    | BulkSyncDeleted
    | CommandRejected,
    Field(discriminator="type"),
]
"""Everything on the syncs events topic (policy's bulk-sync outcomes included)."""
