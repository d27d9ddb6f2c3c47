"""Request bodies of Polytomic's API, and their translation into command parts.

Unknown keys are ignored (as Polytomic's server does); a value of the wrong type, or a required key left out,
is a 400. Schedule time fields are strings on the wire; numbers are accepted and read as their text.
"""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, RootModel
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import ErrorDetails

from syncline_contracts.syncs import BulkSyncObject, BulkSyncSchedule, ObjectField, ObjectFilter
from syncline_gateway import routing
from syncline_gateway.bodies import BodyLimits
from syncline_gateway.errors import BadRequestError

M = TypeVar("M", bound="Body")

LIMITS = BodyLimits()
"""The dialect's body limits."""


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Text = Annotated[str | None, BeforeValidator(_text)]

NAME_MAX = 512
"""Longest name of a connection or bulk sync, in characters: its UTF-8 fits a unique index's entry whatever the
characters."""
Name = Annotated[str, Field(max_length=NAME_MAX)]
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
"""An integer that policy's tables can hold."""


def _either(snake: str, camel: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(snake, camel))


class Body(BaseModel):
    """A request body: unknown keys ignored, types checked."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ScheduleIn(Body):
    """One schedule in any of the three wire shapes (snake_case or the schedules API's camelCase keys)."""

    id: str | None = None
    frequency: str
    minute: Text = None
    hour: Text = None
    day_of_week: Text = _either("day_of_week", "dayOfWeek")
    day_of_month: Text = _either("day_of_month", "dayOfMonth")
    month: Text = None
    selective_mode: str | None = _either("selective_mode", "selectiveMode")
    sync_mode: str | None = Field(default=None, validation_alias=AliasChoices("resync_mode", "sync_mode", "syncMode"))
    schemas: list[str] | None = None
    multi: "MultiIn | None" = None

    def compiled(self, *, is_default: bool, item: str | None = None) -> BulkSyncSchedule:
        """The command's form of this schedule (a fresh id unless one was sent)."""
        return BulkSyncSchedule(
            schedule_id=self.id or str(uuid.uuid4()),
            is_default=is_default,
            frequency=self.frequency,
            minute=self.minute,
            hour=self.hour,
            day_of_week=self.day_of_week,
            day_of_month=self.day_of_month,
            month=self.month,
            selective_mode=item or self.selective_mode,
            sync_mode=self.sync_mode,
            schemas=tuple(self.schemas) if self.schemas else None,
        )


class ItemizedIn(Body):
    """One schedule of a 2024-02-08 `multi` schedule."""

    item: str
    schedule: ScheduleIn


class MultiIn(Body):
    """`schedule.multi` of the 2024-02-08 shape."""

    type: str | None = None
    schedules: list[ItemizedIn] = Field(default_factory=list)


class FieldIn(Body):
    """A field choice (`obfuscate` in create/update bodies, `obfuscated` in the schemas API)."""

    id: str
    enabled: bool | None = None
    obfuscated: bool | None = _either("obfuscated", "obfuscate")
    user_output_name: str | None = None


class FilterIn(Body):
    """A row filter."""

    field_id: str | None = None
    function: str
    value: Any = None


class SchemaIn(Body):
    """A schema (object) configuration."""

    id: str | None = None
    enabled: bool | None = None
    data_cutoff_timestamp: datetime | None = None
    disable_data_cutoff: bool | None = None
    partition_key: str | None = None
    tracking_field: str | None = None
    user_output_name: str | None = None
    history_enabled: bool | None = None
    fields: list[str | FieldIn] | None = None
    filters: list[FilterIn] | None = None

    def part(self, schema_id: str | None = None) -> BulkSyncObject:
        """The command's form of this configuration."""
        object_id = schema_id or self.id
        if not object_id:
            raise BadRequestError("every schema needs an id")
        fields = None
        if self.fields is not None:
            fields = tuple(
                ObjectField(id=f, enabled=True) if isinstance(f, str) else ObjectField(**f.model_dump())
                for f in self.fields
            )
        return BulkSyncObject(
            id=object_id,
            enabled=self.enabled,
            data_cutoff_timestamp=self.data_cutoff_timestamp,
            disable_data_cutoff=self.disable_data_cutoff,
            partition_key=self.partition_key,
            tracking_field=self.tracking_field,
            user_output_name=self.user_output_name,
            history_enabled=self.history_enabled,
            fields=fields,
            filters=tuple(ObjectFilter(**f.model_dump()) for f in self.filters) if self.filters is not None else None,
        )


class BulkSyncIn(Body):
    """`POST /api/bulk/syncs` and `PUT /api/bulk/syncs/{id}` (a full replace)."""

    name: Name
    source_connection_id: str
    destination_connection_id: str
    destination_configuration: dict[str, Any]
    schedule: ScheduleIn | None = None
    schedules: list[ScheduleIn] | None = None
    default_schedule: ScheduleIn | None = None
    additional_schedules: list[ScheduleIn] | None = None
    active: bool | None = None
    automatically_add_new_fields: str | None = None
    automatically_add_new_objects: str | None = None
    discover: bool | None = None
    normalize_names: str | None = None
    mode: str | None = None
    data_cutoff_timestamp: datetime | None = None
    disable_record_timestamps: bool | None = None
    concurrency_limit: Int32 | None = None
    resync_concurrency_limit: Int32 | None = None
    policies: list[str] | None = None
    organization_id: str | None = None
    schemas: list[str | SchemaIn] | None = None
    source_configuration: dict[str, Any] | None = None

    def compiled_schedules(self) -> tuple[BulkSyncSchedule, ...]:
        """Whichever schedule shape was sent, as one list (the default first)."""
        given = [
            name
            for name, value in (
                ("schedule", self.schedule),
                ("schedules", self.schedules),
                ("default_schedule", self.default_schedule),
            )
            if value is not None
        ]
        if len(given) > 1:
            raise BadRequestError(f"send one of schedule, schedules or default_schedule, not {' and '.join(given)}")
        if self.additional_schedules and not self.default_schedule:
            raise BadRequestError("additional_schedules needs a default_schedule")
        if self.schedule is not None:
            return legacy_schedules(self.schedule)
        if self.schedules is not None:
            if not self.schedules:
                raise BadRequestError("schedules needs at least one schedule")
            return tuple(s.compiled(is_default=i == 0) for i, s in enumerate(self.schedules))
        if self.default_schedule is not None:
            extra = [s.compiled(is_default=False) for s in self.additional_schedules or ()]
            return (self.default_schedule.compiled(is_default=True), *extra)
        raise BadRequestError("a schedule is required (schedule, schedules or default_schedule)")

    def selection(self) -> tuple[BulkSyncObject, ...] | None:
        """The requested schemas (a bare id selects the schema with all its fields); none (or an empty list)
        means every schema on create and the current selection on update."""
        if not self.schemas:
            return None
        return tuple(BulkSyncObject(id=s, enabled=True) if isinstance(s, str) else s.part() for s in self.schemas)


def legacy_schedules(schedule: ScheduleIn) -> tuple[BulkSyncSchedule, ...]:
    """A 2024-02-08 `schedule`: one, or each of a `multi` schedule's items (the first is the default)."""
    if schedule.frequency != "multi":
        return (schedule.compiled(is_default=True),)
    items = schedule.multi.schedules if schedule.multi else []
    if not items:
        raise BadRequestError("a multi schedule needs multi.schedules")
    return tuple(i.schedule.compiled(is_default=n == 0, item=i.item) for n, i in enumerate(items))


class ActivateIn(Body):
    """`POST /api/bulk/syncs/{id}/activate`."""

    active: bool


class ScheduleBody(Body):
    """`POST|PUT /api/bulk/syncs/{id}/schedules[/{schedule_id}]`."""

    schedule: ScheduleIn


class SchemasPatch(Body):
    """`PATCH /api/bulk/syncs/{id}/schemas`."""

    schemas: list[SchemaIn] = Field(default_factory=list)


class ConnectionIn(Body):
    """`POST /api/connections` and `PUT /api/connections/{id}`."""

    name: Name
    type: str | None = None
    configuration: dict[str, Any]
    organization_id: str | None = None
    policies: list[str] | None = None
    validate_: bool | None = Field(default=None, alias="validate")
    healthcheck_interval: str | None = None
    redirect_url: str | None = None
    reconnect: bool | None = None


class ConnectionTestIn(Body):
    """`POST /api/connections/test`."""

    type: str
    configuration: dict[str, Any]
    connection_id: str | None = None


class WebhookIn(Body):
    """`POST /api/webhooks` and `PUT /api/webhooks/{id}`."""

    endpoint: str = Field(max_length=2048)
    secret: str = Field(max_length=1024)
    organization_id: str | None = None


def _where(error: ErrorDetails) -> str:
    return ".".join(str(p) for p in error["loc"]) or "body"


class _Wording:
    """Body problems as Polytomic's 400s."""

    def empty(self) -> BadRequestError:
        return BadRequestError("request body is required")

    def unparseable(self, exc: Exception) -> BadRequestError:
        return BadRequestError(f"request body is not valid JSON: {exc}")

    def not_an_object(self, data: object) -> BadRequestError:
        return BadRequestError("request body must be a JSON object")

    def invalid(self, error: ErrorDetails) -> BadRequestError:
        if error["type"] == "missing":
            return BadRequestError(f"[{_where(error)}] is required")
        return BadRequestError(f"[{_where(error)}] {error['msg']}")


def parse(raw: bytes, model: type[M]) -> M:
    """The body as `model`, or a 400 naming the first problem."""
    return routing.parse(raw, model, wording=_Wording(), limits=LIMITS)


ScheduleIn.model_rebuild()


# --- answers ---------------------------------------------------------------------------------------------------
# What the routes render (`rendering`, `execution_rendering`), typed for the OpenAPI document with the official
# SDK's field names: a field the route always sends is required, one it may send as null is nullable, one it may
# leave out is optional (and never null unless it may send null too). The routes send their own JSON
# (`common.answer`); these models describe it, they do not filter it.


class Out(BaseModel):
    """An answer's object: every key it may carry is declared."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PolytomicError(Out):
    """Polytomic's error body, for every error of the dialect."""

    status: int
    key: str
    message: str
    metadata: dict[str, Any]


class Actor(Out):
    """Who made a change (the API key)."""

    id: str
    name: str
    type: str


class ConnectionTypeRef(Out):
    """The short form of a connection type inside a connection."""

    id: str
    name: str
    operations: list[str]


class ConnectionOut(Out):
    """A connection; its secrets are never part of it."""

    id: str
    name: str
    organization_id: str
    type: ConnectionTypeRef
    configuration: dict[str, Any]
    status: str
    status_error: str
    saved: bool
    healthcheck_interval: str | None
    policies: list[str]
    created_at: datetime
    created_by: Actor
    updated_at: datetime
    updated_by: Actor


class ConnectionEnvelope(Out):
    """One connection."""

    data: ConnectionOut


class ConnectionListEnvelope(Out):
    """The caller's connections."""

    data: list[ConnectionOut]


class ConnectionPending(Out):
    """A connection write policy has not answered within the gateway's bound (202)."""

    id: str
    name: str
    saved: bool = False


class ConnectionPendingEnvelope(Out):
    """`202`: the write is on its way."""

    data: ConnectionPending


class ConnectionTestResult(Out):
    """A connection test that passed (a failed one is a 400)."""

    success: bool


class ConnectionTestEnvelope(Out):
    """`POST /api/connections/test`."""

    data: ConnectionTestResult


class Capabilities(Out):
    """What a connection type can do."""

    source: bool
    destination: bool
    enrichment: bool
    logging: bool
    orchestration: bool


class ConfigurationForm(Out):
    """A connection type's configuration form."""

    jsonschema: dict[str, Any]
    uischema: dict[str, Any]


class ConnectionTypeOut(Out):
    """A connection type."""

    id: str
    name: str
    capabilities: Capabilities
    configuration_form: ConfigurationForm = Field(alias="configurationForm")
    use_oauth: bool


class ConnectionTypeListEnvelope(Out):
    """`GET /api/connection_types`."""

    data: list[ConnectionTypeOut]


class JsonSchemaOut(RootModel[dict[str, Any]]):
    """`GET /api/connection_types/{id}`: the type's configuration as a JSON Schema (no envelope)."""


class SourceField(Out):
    """A field a source schema offers."""

    id: str
    name: str
    type: str
    remote_type: str
    is_primary_key: bool
    source_primary_key: bool


class SourceSchema(Out):
    """A schema a source offers (its fields with `include_fields`)."""

    id: str
    name: str
    fields: list[SourceField] | SkipJsonSchema[None] = None


class SourceCapabilities(Out):
    """What a bulk-sync source supports."""

    supports_namespaces: bool
    supports_tracking_fields: bool


class BulkSyncSource(Out):
    """`GET /api/connections/{id}/bulksync/source`."""

    schemas: list[SourceSchema]
    capabilities: SourceCapabilities
    configuration: dict[str, Any]


class BulkSyncSourceEnvelope(Out):
    """A connection as a bulk-sync source."""

    data: BulkSyncSource


class TargetMode(Out):
    """A mode a destination supports."""

    id: str
    label: str
    description: str
    requires_identity: bool
    supports_field_sync_mode: bool
    supports_target_filters: bool


class BulkSyncDest(Out):
    """`GET /api/connections/{id}/bulksync/target`."""

    configuration: dict[str, Any]
    modes: list[TargetMode]
    supported_resync_modes: list[str]
    supports_history_mode: bool


class BulkSyncDestEnvelope(Out):
    """A connection as a bulk-sync destination."""

    data: BulkSyncDest


class ScheduleTimes(Out):
    """A schedule's frequency and times (strings, as the SDK parses them)."""

    frequency: str
    minute: str | None
    hour: str | None
    day_of_week: str | None
    day_of_month: str | None
    month: str | None


class ItemizedScheduleOut(Out):
    """One item of a 2024-02-08 `multi` schedule."""

    item: str
    schedule: ScheduleTimes


class MultiScheduleOut(Out):
    """`schedule.multi` (2024-02-08)."""

    type: str
    schedules: list[ItemizedScheduleOut]


class LegacyMultiOut(Out):
    """`schedule` (2024-02-08) of a sync with several schedules: each one itemized."""

    frequency: Literal["multi"]
    multi: MultiScheduleOut


class DefaultScheduleOut(ScheduleTimes):
    """`default_schedule` (2025-09-18)."""

    id: str
    created_at: datetime
    created_by: Actor
    updated_at: datetime
    updated_by: Actor


class AdditionalScheduleOut(DefaultScheduleOut):
    """An item of `additional_schedules` (2025-09-18)."""

    selective_mode: str | None
    resync_mode: str | None
    schemas: list[str]


class ListedScheduleOut(AdditionalScheduleOut):
    """An item of `schedules` (2025-09-18)."""

    is_default: bool


class BulkSyncOut(Out):
    """A bulk sync: its schedules as `schedule` (2024-02-08, the default) or as `default_schedule`,
    `additional_schedules` and `schedules` (`X-Polytomic-Version` 2025-09-18 and later)."""

    id: str
    organization_id: str
    name: str
    active: bool
    mode: str
    source_connection_id: str
    destination_connection_id: str
    source_configuration: dict[str, Any]
    destination_configuration: dict[str, Any]
    schedule: ScheduleTimes | LegacyMultiOut | SkipJsonSchema[None] = None
    default_schedule: DefaultScheduleOut | None = None
    additional_schedules: list[AdditionalScheduleOut] | SkipJsonSchema[None] = None
    schedules: list[ListedScheduleOut] | SkipJsonSchema[None] = None
    automatically_add_new_fields: str
    automatically_add_new_objects: str
    discover: bool
    normalize_names: str
    data_cutoff_timestamp: datetime | None
    disable_record_timestamps: bool
    concurrency_limit: int | None
    resync_concurrency_limit: int | None
    policies: list[str]
    created_at: datetime
    created_by: Actor
    updated_at: datetime
    updated_by: Actor


class BulkSyncEnvelope(Out):
    """One bulk sync."""

    data: BulkSyncOut


class Pagination(Out):
    """Where the next page starts (empty or null on the last page)."""

    next_page_token: str | None


class BulkSyncListEnvelope(Out):
    """A page of bulk syncs."""

    data: list[BulkSyncOut]
    pagination: Pagination


class BulkSyncPending(Out):
    """A bulk sync write policy has not answered within the gateway's bound (202)."""

    id: str
    name: str


class BulkSyncPendingEnvelope(Out):
    """`202`: the write is on its way."""

    data: BulkSyncPending


class ActivateOut(Out):
    """A bulk sync's new `active`."""

    id: str
    active: bool


class ActivateEnvelope(Out):
    """`POST /api/bulk/syncs/{id}/activate`."""

    data: ActivateOut


class ApiScheduleOut(Out):
    """A schedule of the schedules sub-resource (camelCase keys; actors are plain ids there)."""

    id: str
    sync_id: str = Field(alias="syncId")
    is_default: bool = Field(alias="isDefault")
    frequency: str
    minute: str | None
    hour: str | None
    day_of_week: str | None = Field(alias="dayOfWeek")
    day_of_month: str | None = Field(alias="dayOfMonth")
    month: str | None
    selective_mode: str | None = Field(alias="selectiveMode")
    sync_mode: str | None = Field(alias="syncMode")
    schemas: list[str]
    created_at: datetime = Field(alias="createdAt")
    created_by: str = Field(alias="createdBy")
    updated_at: datetime = Field(alias="updatedAt")
    updated_by: str = Field(alias="updatedBy")


class ApiScheduleEnvelope(Out):
    """One schedule."""

    data: ApiScheduleOut


class ApiScheduleListEnvelope(Out):
    """A bulk sync's schedules."""

    data: list[ApiScheduleOut]


class ApiSchedulePending(Out):
    """A schedule write policy has not answered within the gateway's bound (202)."""

    id: str
    sync_id: str = Field(alias="syncId")
    frequency: str


class ApiSchedulePendingEnvelope(Out):
    """`202`: the write is on its way."""

    data: ApiSchedulePending


class SchemaListItem(Out):
    """A schema of a bulk sync, without its fields and filters."""

    id: str
    enabled: bool
    output_name: str
    user_output_name: str
    partition_key: str
    tracking_field: str
    data_cutoff_timestamp: datetime | None
    disable_data_cutoff: bool
    history_enabled: bool


class SchemaFieldOut(Out):
    """A field of a schema."""

    id: str
    enabled: bool
    obfuscated: bool
    output_name: str
    user_output_name: str


class SchemaFilterOut(Out):
    """A row filter of a schema."""

    field_id: str | None = None
    function: str
    value: Any = None


class SchemaOut(SchemaListItem):
    """A schema of a bulk sync with its fields and filters."""

    fields: list[SchemaFieldOut]
    filters: list[SchemaFilterOut]


class SchemaListEnvelope(Out):
    """`GET /api/bulk/syncs/{id}/schemas`."""

    data: list[SchemaListItem]


class SchemaEnvelope(Out):
    """One schema."""

    data: SchemaOut


class SchemasEnvelope(Out):
    """`PATCH /api/bulk/syncs/{id}/schemas`: every schema after the change."""

    data: list[SchemaOut]


class MessageOut(Out):
    """What a cancel did."""

    message: str


class MessageEnvelope(Out):
    """A cancel's answer."""

    data: MessageOut


ExecutionStatus = Literal["created", "scheduled", "running", "canceling", "canceled", "completed", "failed", "errors"]
"""`BulkExecutionStatus`, as runs map onto it."""
SchemaStatus = Literal["created", "scheduled", "running", "canceled", "completed", "failed"]
"""`BulkSchemaExecutionStatus`, as a run's objects map onto it."""


class ExecutionFigures(Out):
    """What an execution and each of its schemas report."""

    status_message: str
    record_count: int
    error_count: int
    warning_count: int
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime


class SchemaExecutionOut(ExecutionFigures):
    """One schema of an execution."""

    schema_: str = Field(alias="schema")
    output_name: str
    status: SchemaStatus


class ExecutionOut(ExecutionFigures):
    """A bulk-sync execution (its `schemas` only where the route reads them: empty on lists)."""

    id: str
    status: ExecutionStatus
    type: str
    fetch_mode: str
    output_disposition: Literal["rebuild", "retain"]
    is_partial: bool
    is_resync: bool
    is_test: bool
    schemas: list[SchemaExecutionOut]


class ExecutionStarted(Out):
    """An execution the scheduler has not answered for within the gateway's bound: it is on its way."""

    id: str
    status: Literal["created"]
    type: str
    schemas: list[SchemaExecutionOut]


class ExecutionEnvelope(Out):
    """One execution."""

    data: ExecutionOut


class ExecutionStartEnvelope(Out):
    """`POST /api/bulk/syncs/{id}/executions`: the execution, or the start on its way."""

    data: ExecutionOut | ExecutionStarted


class ExecutionListEnvelope(Out):
    """A page of executions."""

    data: list[ExecutionOut]
    pagination: Pagination


class SyncStatusOut(Out):
    """A bulk sync's current and last execution and its next scheduled time."""

    current_execution: ExecutionOut | None
    last_execution: ExecutionOut | None
    next_execution_time: datetime | None
    ingestion_status: None


class SyncStatusEnvelope(Out):
    """`GET /api/bulk/syncs/{id}/status`."""

    data: SyncStatusOut


class SchemaStatusOut(Out):
    """A schema with its newest execution's status (all null when no execution moved it)."""

    schema_: str = Field(alias="schema")
    execution_id: str | None
    status: SchemaStatus | None
    status_message: str | None
    record_count: int | None
    error_count: int | None
    warning_count: int | None
    started_at: datetime | None
    completed_at: datetime | None


class SyncStatusesOut(Out):
    """One bulk sync of `GET /api/bulk/syncs/status`."""

    sync_id: str
    status: ExecutionStatus | None
    next_execution_time: datetime | None = Field(alias="nextExecutionTime")
    schemas: list[SchemaStatusOut]


class SyncStatusesEnvelope(Out):
    """`GET /api/bulk/syncs/status`."""

    data: list[SyncStatusesOut]


class WebhookOut(Out):
    """The organisation's webhook, with its secret."""

    id: str
    organization_id: str
    endpoint: str
    secret: str
    disabled: bool
    disabled_at: datetime | None
    disabled_reason: str
    created_at: datetime


class WebhookEnvelope(Out):
    """One webhook."""

    data: WebhookOut


class WebhookListEnvelope(Out):
    """The organisation's webhooks (at most one)."""

    data: list[WebhookOut]


class EventOut(Out):
    """A `bulk_sync.*` event."""

    id: str
    organization_id: str
    type: str
    created_at: datetime
    event: dict[str, Any]


class EventsEnvelope(Out):
    """`GET /api/events`."""

    data: list[EventOut]


class EventTypesEnvelope(Out):
    """`GET /api/events_types`."""

    data: list[str]
