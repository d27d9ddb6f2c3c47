"""Request bodies of Polytomic's API, and their translation into command parts.

Unknown keys are ignored (as Polytomic's server does); a value of the wrong type, or a required key left out,
is a 400. Schedule time fields are strings on the wire; numbers are accepted and read as their text.
"""

import uuid
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field
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
