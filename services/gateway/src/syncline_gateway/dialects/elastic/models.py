"""Request bodies of the Elasticsearch connector APIs, parsed strictly (an unknown field is a 400)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import ErrorDetails

from syncline_contracts.status import JobType, TriggerMethod
from syncline_gateway import routing
from syncline_gateway.bodies import BodyLimits
from syncline_gateway.errors import BadRequestError

M = TypeVar("M", bound="StrictBody")

LIMITS = BodyLimits()
"""The dialect's body limits (Elasticsearch's own `http.max_content_length` is far larger, but no connector API
body comes near 1 MiB)."""
NAME_MAX = 512
"""Longest connector name, in characters (Elasticsearch sets none; a bound keeps hostile sizes out of policy)."""


class StrictBody(BaseModel):
    """Elasticsearch parses with `ignoreUnknownFields=false`."""

    model_config = ConfigDict(extra="forbid")


class ConnectorPut(StrictBody):
    """`PUT /_connector/{id}`, `PUT /_connector`, `POST /_connector`."""

    description: str | None = None
    index_name: str | None = None
    is_native: bool = False
    language: str | None = None
    name: str | None = Field(default=None, max_length=NAME_MAX)
    service_type: str | None = None


class ConnectorConfiguration(StrictBody):
    """`PUT /_connector/{id}/_configuration`: plain `values`, or a full `configuration` of field objects."""

    values: dict[str, Any] | None = None
    configuration: dict[str, Any] | None = None

    def flat_values(self) -> dict[str, Any]:
        """Field → value, whichever form was sent."""
        if self.values is not None:
            return dict(self.values)
        return {
            key: (field.get("value") if isinstance(field, dict) else field)
            for key, field in (self.configuration or {}).items()
        }


class SyncJobPost(StrictBody):
    """`POST /_connector/_sync_job`."""

    id: str | None = None
    job_type: JobType = JobType.FULL
    trigger_method: TriggerMethod = TriggerMethod.ON_DEMAND


def _describe(error: ErrorDetails, parser: str) -> BadRequestError:
    field = ".".join(str(p) for p in error["loc"]) or "body"
    match error["type"]:
        case "extra_forbidden":
            return BadRequestError(f"[{parser}] unknown field [{field}]")
        case "enum" | "literal_error":
            return BadRequestError(f"[{parser}] failed to parse field [{field}]: {error['msg']}")
        case "missing":
            return BadRequestError(f"Validation Failed: 1: [{field}] is missing;", kind="validation")
        case "string_too_long" | "less_than_equal" | "greater_than_equal":
            return BadRequestError(f"Validation Failed: 1: [{field}] {error['msg'].lower()};", kind="validation")
    return BadRequestError(f"[{parser}] failed to parse field [{field}]: {error['msg']}")


@dataclass(frozen=True)
class _Wording:
    """Body problems worded the way Elasticsearch words them, naming its parser (`sync_job_post_request`, ...)."""

    parser: str

    def empty(self) -> BadRequestError:
        return BadRequestError("request body is required", kind="validation")

    def unparseable(self, exc: Exception) -> BadRequestError:
        return BadRequestError(f"[{self.parser}] failed to parse request body: {exc}")

    def not_an_object(self, data: object) -> BadRequestError:
        return BadRequestError(f"[{self.parser}] expected an object, found {type(data).__name__}")

    def invalid(self, error: ErrorDetails) -> BadRequestError:
        return _describe(error, self.parser)


def parse(raw: bytes, model: type[M], *, parser: str) -> M:
    """The body as `model`, or a BadRequestError worded the way Elasticsearch words it."""
    return routing.parse(raw, model, wording=_Wording(parser), limits=LIMITS)


class SchedulingUpdate(StrictBody):
    """`PUT /_connector/{id}/_scheduling`."""

    scheduling: dict[str, Any]


class FilteringUpdate(StrictBody):
    """`PUT /_connector/{id}/_filtering`: `rules` (+ `advanced_snippet`), or a whole `filtering` list."""

    filtering: list[dict[str, Any]] | None = None
    rules: list[dict[str, Any]] | None = None
    advanced_snippet: dict[str, Any] | None = None

    def change(self) -> dict[str, Any]:
        """The rules to validate, whichever form was sent."""
        if self.rules is not None or self.filtering is None:
            return {"rules": self.rules or [], "advanced_snippet": self.advanced_snippet}
        block = (self.filtering[0] if self.filtering else {}).get("draft") or {}
        return {"rules": block.get("rules") or [], "advanced_snippet": block.get("advanced_snippet")}


class IndexNameUpdate(StrictBody):
    """`PUT /_connector/{id}/_index_name`."""

    index_name: str | None


class NameUpdate(StrictBody):
    """`PUT /_connector/{id}/_name`."""

    name: str | None = Field(default=None, max_length=NAME_MAX)
    description: str | None = None


class ServiceTypeUpdate(StrictBody):
    """`PUT /_connector/{id}/_service_type`."""

    service_type: str


class StatusUpdate(StrictBody):
    """`PUT /_connector/{id}/_status`."""

    status: str


class ErrorUpdate(StrictBody):
    """`PUT /_connector/{id}/_error`."""

    error: str | None


class NativeUpdate(StrictBody):
    """`PUT /_connector/{id}/_native`."""

    is_native: bool


class PipelineUpdate(StrictBody):
    """`PUT /_connector/{id}/_pipeline`."""

    pipeline: dict[str, Any]


class FeaturesUpdate(StrictBody):
    """`PUT /_connector/{id}/_features`."""

    features: dict[str, Any]


class ApiKeyIdUpdate(StrictBody):
    """`PUT /_connector/{id}/_api_key_id`."""

    api_key_id: str | None = None
    api_key_secret_id: str | None = None


class LastSyncUpdate(StrictBody):
    """`PUT /_connector/{id}/_last_sync` (what an external worker reports after a job)."""

    last_access_control_sync_error: str | None = None
    last_access_control_sync_scheduled_at: str | None = None
    last_access_control_sync_status: str | None = None
    last_deleted_document_count: int | None = None
    last_incremental_sync_scheduled_at: str | None = None
    last_indexed_document_count: int | None = None
    last_seen: str | None = None
    last_sync_error: str | None = None
    last_sync_scheduled_at: str | None = None
    last_sync_status: str | None = None
    last_synced: str | None = None
    sync_cursor: Any = None


class SyncJobClaim(StrictBody):
    """`PUT /_connector/_sync_job/{id}/_claim`."""

    worker_hostname: str
    sync_cursor: Any = None


class SyncJobError(StrictBody):
    """`PUT /_connector/_sync_job/{id}/_error`."""

    error: str


class SyncJobStats(StrictBody):
    """`PUT /_connector/_sync_job/{id}/_stats` (`indexed_document_volume` in MiB, as Elasticsearch counts it)."""

    deleted_document_count: int
    indexed_document_count: int
    indexed_document_volume: int
    total_document_count: int | None = None
    last_seen: str | None = None
    metadata: dict[str, Any] | None = None


# --- answers ---------------------------------------------------------------------------------------------------
# The documents and acknowledgements the routes render (`documents`), typed for the OpenAPI document: a key the
# route always sends is required, one it may send as null is nullable. The routes send their own JSON; these
# models describe it, they do not filter it. Times are Elasticsearch's (ISO-8601 with milliseconds, UTC).


class Document(BaseModel):
    """An answer's object: every key it may carry is declared."""

    model_config = ConfigDict(extra="forbid")


class ErrorCause(Document):
    """What went wrong."""

    type: str
    reason: str


class ErrorDetail(ErrorCause):
    """The error, with its root causes."""

    root_cause: list[ErrorCause]


class ElasticError(Document):
    """Elasticsearch's error body (an unexpected error is a bare-text 500 instead)."""

    error: ErrorDetail
    status: int


class Created(Document):
    """The id of what was created."""

    id: str


class Upserted(Document):
    """A connector created or updated."""

    result: str
    id: str


class Updated(Document):
    """`{"result": "updated"}`."""

    result: str


class Acknowledged(Document):
    """`{"acknowledged": true}`."""

    acknowledged: bool


class Empty(Document):
    """`{}`: the worker protocol's acknowledgement."""


class ConfigurationField(Document):
    """One key of a connector's configuration (a secret's `value` is always empty)."""

    default_value: Any
    depends_on: list[Any]
    display: str
    label: str
    options: list[Any]
    order: int
    required: bool
    sensitive: bool
    tooltip: str | None
    type: str
    ui_restrictions: list[Any]
    validations: list[Any]
    value: Any
    is_set: bool


class JobConnector(Document):
    """The connector as a sync job snapshots it."""

    id: str
    configuration: dict[str, ConfigurationField]
    filtering: Any
    index_name: str | None
    language: str | None
    pipeline: dict[str, Any]
    service_type: str | None
    sync_cursor: Any


class SyncJob(Document):
    """A sync-job document (`indexed_document_volume` in MiB)."""

    id: str
    cancelation_requested_at: datetime | None
    canceled_at: datetime | None
    completed_at: datetime | None
    connector: JobConnector
    created_at: datetime
    deleted_document_count: int
    error: str | None
    indexed_document_count: int
    indexed_document_volume: int
    job_type: str
    last_seen: datetime | None
    metadata: dict[str, Any]
    started_at: datetime | None
    status: str
    total_document_count: int | None
    trigger_method: str
    worker_hostname: str | None


class SyncJobList(Document):
    """A page of sync jobs."""

    count: int
    results: list[SyncJob]


class Connector(Document):
    """A connector document, with its latest finished job's facts (or what an external worker reported)."""

    id: str
    api_key_id: str | None
    api_key_secret_id: str | None
    configuration: dict[str, ConfigurationField]
    custom_scheduling: dict[str, Any]
    description: str | None
    error: str | None
    features: dict[str, Any]
    filtering: Any
    index_name: str | None
    is_native: bool
    language: str | None
    last_seen: datetime | None
    name: str | None
    pipeline: dict[str, Any]
    scheduling: dict[str, Any]
    service_type: str | None
    status: str
    sync_cursor: Any
    sync_now: bool
    last_access_control_sync_error: str | None
    last_access_control_sync_scheduled_at: str | None
    last_access_control_sync_status: str | None
    last_incremental_sync_scheduled_at: str | None
    last_sync_scheduled_at: str | None
    last_sync_status: str | None
    last_sync_error: str | None
    last_synced: str | None
    last_indexed_document_count: int | None
    last_deleted_document_count: int | None


class ConnectorList(Document):
    """A page of connectors."""

    count: int
    results: list[Connector]
