"""Typed request and response models of the native API (`/v1`), so the OpenAPI document describes every route.

Answers are plain JSON objects; lists are `{"data": [...]}`. Times are ISO 8601 in UTC. Secrets are never
answered, except a new key's secret, once, when it is created.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from syncline_contracts.status import JobType, RunStatus


class Out(BaseModel):
    """An answer."""

    model_config = ConfigDict(use_attribute_docstrings=True)


class In(BaseModel):
    """A request body: an unknown field is a 400."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class ErrorDetail(Out):
    """What went wrong."""

    status: int
    """The HTTP status."""
    code: str
    """A stable word for the kind of error (`unauthorized`, `not_found`, `conflict`, `invalid`, …)."""
    message: str
    """For people."""


class ErrorOut(Out):
    """Every error of the native API: `{"error": {"status", "code", "message"}}`."""

    error: ErrorDetail
    """The error."""


class SyncOut(Out):
    """A sync of any dialect, as the one sync model knows it."""

    id: str
    """The sync's id (the dialect's own: a bulk sync id, a connector id, an association id, a DRS job id)."""
    name: str
    """Its name (its id when the dialect gives it none)."""
    dialect: str
    """The dialect that made it."""
    job_types: list[str]
    """The job types its runs may have."""
    error: str | None
    """Why its definition does not compile (its runs fail with it)."""
    compiled_at: datetime
    """When its definition was last compiled."""


class SyncList(Out):
    """Syncs."""

    data: list[SyncOut]
    """The syncs, by dialect and name."""


class ObjectStats(Out):
    """What a run moved of one object."""

    object: str
    """The object (`schema.table`, a folder, …)."""
    done: bool
    """Whether it is moved completely."""
    rows_read: int
    """Rows read from the source."""
    rows_written: int
    """Rows written to the destination."""
    rows_deleted: int
    """Rows deleted at the destination."""
    bytes: int
    """Bytes written."""
    outcome: Literal["failed", "canceled"] | None
    """How it ended when it did not simply move."""
    error: str | None
    """Why it failed."""
    updated_at: datetime
    """Its last checkpoint."""


class RunOut(Out):
    """A run of any dialect's sync."""

    id: str
    """The run's id."""
    sync_id: str
    """Its sync."""
    dialect: str | None
    """Its sync's dialect (None once the sync is gone)."""
    status: RunStatus
    """`pending`, `in_progress`, `canceling`, `canceled`, `suspended`, `completed` or `error`."""
    job_type: str
    """Full or incremental."""
    trigger_method: str
    """Why it exists (`on_demand`, `scheduled`)."""
    rows_read: int
    """Rows read so far."""
    rows_written: int
    """Rows (documents) written so far."""
    rows_deleted: int
    """Rows deleted at the destination so far."""
    bytes_written: int
    """Bytes written so far."""
    error: str | None
    """Why it failed."""
    attempt: int
    """1 for a first run, more for a retry."""
    retry_of: str | None
    """The run it retries."""
    worker: str | None
    """The executor (or external worker) moving it."""
    created_at: datetime
    """When it was created."""
    started_at: datetime | None
    """When an executor claimed it."""
    completed_at: datetime | None
    """When it ended."""
    canceled_at: datetime | None
    """When it was canceled."""


class RunDetail(RunOut):
    """A run with what it moved of each object."""

    objects: list[ObjectStats]
    """Per object, by name."""
    metadata: dict[str, Any]
    """What the run keeps besides its counters (a change stream's lag, …)."""


class RunList(Out):
    """Runs."""

    data: list[RunOut]
    """The runs, newest first."""
    next_before: datetime | None
    """Pass as `before` for the next page (None on the last page)."""


class RunStart(In):
    """`POST /v1/runs`: start a run of a sync now."""

    sync_id: str = Field(min_length=1, max_length=255)
    """The sync to run."""
    job_type: JobType = JobType.FULL
    """Full or incremental (the sync must have that job type)."""


class RunAccepted(Out):
    """A start the scheduler had not answered within the gateway's bound: the run is on its way."""

    id: str
    """The new run's id (`GET /v1/runs/{id}` once the scheduler recorded it)."""
    sync_id: str
    """Its sync."""
    message: str
    """What happened."""


class CancelOut(Out):
    """What a cancel did."""

    run: RunOut
    """The run as it is now (`canceling` until its executor stops, or already `canceled`)."""
    message: str
    """What happened."""


class KeyOut(Out):
    """A key pair of the organisation, without its secret."""

    id: str
    """The key id."""
    org_id: str
    """Its organisation."""
    partner: bool
    """Whether it may act for any organisation."""
    created_at: datetime
    """When it was made."""
    revoked_at: datetime | None
    """When it was revoked (no request authenticates with it from then on; see the README for how soon)."""


class KeyList(Out):
    """Key pairs."""

    data: list[KeyOut]
    """The organisation's keys, newest first."""


class KeyCreate(In):
    """`POST /v1/keys`: a new key pair of the caller's organisation (never a partner key)."""


class NewKey(KeyOut):
    """A new key pair, its secret shown once."""

    secret: str
    """The secret: shown now only."""
    encoded: str
    """`base64(id:secret)`, the Bearer token / API key form."""


class ConnectionOut(Out):
    """A connection (source or destination), without its secrets."""

    id: str
    """The connection's id."""
    name: str
    """Its name."""
    type: str
    """`postgresql`, `file`, `kafka`, …"""
    configuration: dict[str, Any]
    """Its configuration, secrets left out."""
    secrets: list[str]
    """The names of the secrets it keeps (never their values)."""
    status: str
    """Its last test's result."""
    status_error: str
    """Why the last test failed."""
    created_at: datetime
    """When it was made."""
    updated_at: datetime
    """When it last changed."""


class ConnectionList(Out):
    """Connections."""

    data: list[ConnectionOut]
    """The organisation's connections, by name."""


class RunLogLine(Out):
    """One line of a run's log, as its executor wrote it."""

    seq: int
    """The line's place (pass the last one seen as `after` to read the lines after it)."""
    at: datetime
    """When it was written."""
    level: Literal["info", "warning", "error"]
    """How much it matters."""
    message: str
    """What happened."""
    object: str | None
    """The object it is about, if any."""
    counts: dict[str, int]
    """Figures: rows read, written and deleted, bytes."""


class RunLogList(Out):
    """A run's log lines."""

    data: list[RunLogLine]
    """Oldest first (at most 1000: all that a run keeps)."""
    next_after: int | None
    """The last line's `seq` (pass it as `after` to follow the log); None when there was none."""
