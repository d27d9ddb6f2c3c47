"""Commands and events of bulk syncs: which objects of a source connection go to a destination connection,
how, and on which schedules.

Commands travel on `syncline.syncs.commands.v1` (gateway → policy); the outcomes `BulkSyncConfigured`,
`BulkSyncDeleted` and `CommandRejected` travel on `syncline.syncs.events.v1` beside the scheduler's messages.
Schedules are carried as the dialect wrote them; policy compiles them to `syncline_contracts.schedules.Schedule`.
"""

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from syncline_contracts.base import Message


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)


class BulkSyncSchedule(_Part):
    """One schedule of a bulk sync as Polytomic writes it (every time field is a string, UTC)."""

    schedule_id: str
    """The schedule's id, chosen by the gateway (or kept from the request)."""
    is_default: bool = False
    """The sync's default schedule; every bulk sync has exactly one."""
    frequency: str
    """`manual`, `continuous`, `hourly`, `daily`, `weekly`, `monthly`, `custom` or `builder`."""
    minute: str | None = None
    """Minute 0-59 (a cron field for `custom`/`builder`)."""
    hour: str | None = None
    """Hour 0-23 UTC (a cron field for `custom`/`builder`)."""
    day_of_week: str | None = None
    """Day of the week (`monday` …; a cron field for `custom`/`builder`)."""
    day_of_month: str | None = None
    """Day of the month 1-31 (a cron field for `custom`/`builder`)."""
    month: str | None = None
    """Month 1-12 (a cron field for `custom`/`builder`)."""
    selective_mode: str | None = None
    """`none`, `incrementalFields` or `nonincrementalFields`: which fields the runs it fires move."""
    sync_mode: str | None = None
    """`normal`, `refetch`, `resync` or `rebuild`: how the runs it fires treat existing data."""
    schemas: tuple[str, ...] | None = None
    """The schemas its runs move; all selected schemas when empty."""


class ObjectField(_Part):
    """A field (column) choice of a selected object."""

    id: str
    """The field id (the column name)."""
    enabled: bool | None = None
    """Whether the field is synced; None keeps the current value (true for a new field)."""
    obfuscated: bool | None = None
    """Whether its values are obfuscated at the destination; None keeps the current value."""
    user_output_name: str | None = None
    """Output-name override; None keeps it, an empty string clears it."""


class ObjectFilter(_Part):
    """A row filter of a selected object."""

    field_id: str | None = None
    """The field it tests."""
    function: str
    """Polytomic's filter function (`Equality`, `GreaterThan`, `IsNull`, ...)."""
    value: Any = None
    """The operand, when the function takes one."""


class BulkSyncObject(_Part):
    """The configuration of one source object (schema, e.g. `public.users`); None keeps a stored value."""

    id: str
    """The schema id: `<schema>.<table>` for databases, the file name for folders."""
    enabled: bool | None = None
    """Whether the object is synced."""
    partition_key: str | None = None
    """Field used to partition rows at the destination."""
    tracking_field: str | None = None
    """Field used to detect changes between incremental runs."""
    data_cutoff_timestamp: datetime | None = None
    """Rows older than this are not synced."""
    disable_data_cutoff: bool | None = None
    """Ignore any data cutoff for this object."""
    user_output_name: str | None = None
    """Output-name override; an empty string clears it."""
    history_enabled: bool | None = None
    """Keep a history table beside the output."""
    fields: tuple[ObjectField, ...] | None = None
    """Field choices; fields left out keep their value (all enabled for a new object)."""
    filters: tuple[ObjectFilter, ...] | None = None
    """Row filters; replace the stored ones when given."""


class BulkSyncDefinition(_Part):
    """Everything a bulk sync is, apart from its id and owner (a create or a full replace)."""

    name: str
    """Human-readable name, unique within the organisation."""
    source_connection_id: str
    """Where rows are read."""
    destination_connection_id: str
    """Where rows are written."""
    active: bool = False
    """Inactive syncs do not run on their schedules but can be started by hand."""
    mode: str = "snapshot"
    """`snapshot` or `replicate`."""
    source_configuration: dict[str, Any] = Field(default_factory=dict)
    """Source-specific settings (replication slot, lookback)."""
    destination_configuration: dict[str, Any] = Field(default_factory=dict)
    """Destination-specific settings (output schema, file format)."""
    automatically_add_new_objects: str = "none"
    """Which newly discovered objects are enabled: `all`, `onlyIncremental`, `onlyNonIncremental`, `none`."""
    automatically_add_new_fields: str = "all"
    """Which newly discovered fields of selected objects are enabled (same values)."""
    normalize_names: str = "enabled"
    """`enabled`, `disabled` or `legacy`."""
    data_cutoff_timestamp: datetime | None = None
    """Rows older than this are not synced (every object)."""
    disable_record_timestamps: bool = False
    """Add no timestamp columns to destination rows."""
    concurrency_limit: int | None = None
    """Objects moved at once."""
    resync_concurrency_limit: int | None = None
    """Objects resynced at once."""
    policies: tuple[str, ...] = ()
    """Permission-policy ids, kept for fidelity."""
    schedules: tuple[BulkSyncSchedule, ...]
    """Every schedule; exactly one is the default."""
    schemas: tuple[BulkSyncObject, ...] | None = None
    """The selection; None selects every object (on create) or keeps the selection (on update)."""


class CreateBulkSync(Message):
    """Create a bulk sync."""

    key_field: ClassVar[str] = "sync_id"
    type: Literal["syncline.bulk_sync.create"] = "syncline.bulk_sync.create"
    """Wire type."""
    sync_id: str
    """The new sync's id, chosen by the gateway so a retried command creates nothing twice."""
    definition: BulkSyncDefinition
    """What the sync is."""
    actor: str = ""
    """The API key that issued the command."""


class UpdateBulkSync(Message):
    """Replace a bulk sync's definition (Polytomic's full-replace update)."""

    key_field: ClassVar[str] = "sync_id"
    type: Literal["syncline.bulk_sync.update"] = "syncline.bulk_sync.update"
    """Wire type."""
    sync_id: str
    """The sync to change."""
    definition: BulkSyncDefinition
    """What the sync becomes."""
    actor: str = ""
    """The API key that issued the command."""


class DeleteBulkSync(Message):
    """Delete a bulk sync with its schedules and object configuration."""

    key_field: ClassVar[str] = "sync_id"
    type: Literal["syncline.bulk_sync.delete"] = "syncline.bulk_sync.delete"
    """Wire type."""
    sync_id: str
    """The sync to delete."""


class ActivateBulkSync(Message):
    """Turn a bulk sync's schedules on or off."""

    key_field: ClassVar[str] = "sync_id"
    type: Literal["syncline.bulk_sync.activate"] = "syncline.bulk_sync.activate"
    """Wire type."""
    sync_id: str
    """The sync."""
    active: bool
    """Whether its schedules fire."""
    actor: str = ""
    """The API key that issued the command."""


class AddBulkSyncSchedule(Message):
    """Add a (non-default) schedule to a bulk sync; the others stay."""

    key_field: ClassVar[str] = "sync_id"
    type: Literal["syncline.bulk_sync.schedule_add"] = "syncline.bulk_sync.schedule_add"
    """Wire type."""
    sync_id: str
    """The sync."""
    schedule: BulkSyncSchedule
    """The new schedule."""
    actor: str = ""
    """The API key that issued the command."""


class ChangeBulkSyncSchedule(Message):
    """Replace one schedule of a bulk sync."""

    key_field: ClassVar[str] = "sync_id"
    type: Literal["syncline.bulk_sync.schedule_change"] = "syncline.bulk_sync.schedule_change"
    """Wire type."""
    sync_id: str
    """The sync."""
    schedule: BulkSyncSchedule
    """The schedule as it becomes (its id names the one to replace)."""
    actor: str = ""
    """The API key that issued the command."""


class RemoveBulkSyncSchedule(Message):
    """Remove one (non-default) schedule of a bulk sync."""

    key_field: ClassVar[str] = "sync_id"
    type: Literal["syncline.bulk_sync.schedule_remove"] = "syncline.bulk_sync.schedule_remove"
    """Wire type."""
    sync_id: str
    """The sync."""
    schedule_id: str
    """The schedule to remove."""


class ConfigureBulkSyncSchemas(Message):
    """Change the configuration of some objects of a bulk sync; values left out (None) keep theirs."""

    key_field: ClassVar[str] = "sync_id"
    type: Literal["syncline.bulk_sync.schemas_configure"] = "syncline.bulk_sync.schemas_configure"
    """Wire type."""
    sync_id: str
    """The sync."""
    schemas: tuple[BulkSyncObject, ...]
    """The objects to change."""
    actor: str = ""
    """The API key that issued the command."""


class BulkSyncConfigured(Message):
    """A bulk sync was created or changed; its definition is in the policy store."""

    key_field: ClassVar[str] = "sync_id"
    type: Literal["syncline.bulk_sync.configured"] = "syncline.bulk_sync.configured"
    """Wire type."""
    sync_id: str
    """The sync."""
    result: Literal["created", "updated"]
    """Whether the command created the sync or changed it."""
    active: bool
    """Whether its schedules fire."""


class BulkSyncDeleted(Message):
    """A bulk sync is gone; the scheduler drops its schedules."""

    key_field: ClassVar[str] = "sync_id"
    type: Literal["syncline.bulk_sync.deleted"] = "syncline.bulk_sync.deleted"
    """Wire type."""
    sync_id: str
    """The sync."""


BulkSyncCommand = Annotated[
    CreateBulkSync
    | UpdateBulkSync
    | DeleteBulkSync
    | ActivateBulkSync
    | AddBulkSyncSchedule
    | ChangeBulkSyncSchedule
    | RemoveBulkSyncSchedule
    | ConfigureBulkSyncSchemas,
    Field(discriminator="type"),
]
"""Everything on the sync commands topic."""
