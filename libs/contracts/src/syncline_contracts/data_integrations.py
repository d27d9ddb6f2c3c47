"""Commands and events of data integrations (AWS AppIntegrations): a source connection's objects, and the one
association that moves them to a destination connection, on demand or on a schedule.

Commands travel on `syncline.data_integrations.commands.v1` (gateway → policy), keyed by the data integration's
id so that an integration's commands and its association's stay in order; the outcomes travel on
`syncline.data_integrations.events.v1`. An association is a sync: policy compiles it into `policy.sync_specs`
under the association's id and announces its schedules with `SchedulesConfigured` on `syncline.syncs.events.v1`.
Configuration is carried as the dialect wrote it (URIs, expressions and epoch-millisecond strings verbatim).
"""

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from syncline_contracts.base import Message
from syncline_contracts.connectors import CommandRejected


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)


class ScheduleConfig(_Part):
    """When an integration's (or association's) runs fire, and where the first run's data range starts."""

    schedule_expression: str
    """`rate(N minutes|hours|days)` or an EventBridge `cron(…)`, verbatim."""
    first_execution_from: str | None = None
    """Start of the first run's data range: epoch milliseconds or an ISO-8601 instant, verbatim."""
    object: str | None = None
    """The object the schedule is about (kept and echoed)."""


class FileConfig(_Part):
    """Which files of a folder source are read."""

    folders: tuple[str, ...]
    """Folders (relative to the source connection's folder) read as objects."""
    filters: dict[str, tuple[str, ...]] | None = None
    """Filters by kind (`include`, `exclude`: file name patterns), kept and echoed."""


class ExecutionConfig(_Part):
    """How an association runs."""

    execution_mode: Literal["ON_DEMAND", "SCHEDULED"]
    """One run now (`ON_DEMAND`), or runs on a schedule (`SCHEDULED`)."""
    start_time: str | None = None
    """`ON_DEMAND`: the lower bound of the run's rows (tracking field, inclusive), epoch milliseconds."""
    end_time: str | None = None
    """`ON_DEMAND`: the upper bound of the run's rows (tracking field, exclusive), epoch milliseconds."""
    schedule: ScheduleConfig | None = None
    """`SCHEDULED`: when its runs fire."""


ObjectConfiguration = dict[str, dict[str, tuple[str, ...]]]
"""Object (`schema.table`, or a folder) → setting (`fields`, `tracking_field`, `primary_key`) → values."""


class CreateDataIntegration(Message):
    """Create a data integration on a source connection."""

    key_field: ClassVar[str] = "data_integration_id"
    type: Literal["syncline.data_integration.create"] = "syncline.data_integration.create"
    """Wire type."""
    data_integration_id: str
    """The new integration's id (derived from the client token, so a retry addresses the same one)."""
    region: str
    """The region it lives in: it is seen only from there."""
    name: str
    """Unique per organisation and region."""
    description: str | None = None
    """Free text."""
    kms_key: str
    """Kept and echoed."""
    source_uri: str | None = None
    """`<type>://Syncline/<connection name or id>`."""
    schedule_config: ScheduleConfig | None = None
    """The schedule of associations that name no execution configuration."""
    file_configuration: FileConfig | None = None
    """Folders and filters of a folder source."""
    object_configuration: ObjectConfiguration | None = None
    """The objects and their fields."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Tags."""
    client_token: str | None = None
    """The client's idempotency token."""
    request_print: str = ""
    """Fingerprint of the request: the same token with another request is refused."""
    actor: str = ""
    """The API key that issued the command."""


class UpdateDataIntegration(Message):
    """Rename a data integration or change its description."""

    key_field: ClassVar[str] = "data_integration_id"
    type: Literal["syncline.data_integration.update"] = "syncline.data_integration.update"
    """Wire type."""
    data_integration_id: str
    """The integration."""
    name: str | None = None
    """The new name; None keeps it."""
    description: str | None = None
    """The new description; None keeps it."""


class DeleteDataIntegration(Message):
    """Delete a data integration that has no association."""

    key_field: ClassVar[str] = "data_integration_id"
    type: Literal["syncline.data_integration.delete"] = "syncline.data_integration.delete"
    """Wire type."""
    data_integration_id: str
    """The integration."""


class TagDataIntegration(Message):
    """Add or replace tags of a data integration."""

    key_field: ClassVar[str] = "data_integration_id"
    type: Literal["syncline.data_integration.tag"] = "syncline.data_integration.tag"
    """Wire type."""
    data_integration_id: str
    """The integration."""
    tags: dict[str, str]
    """Tags to set."""


class UntagDataIntegration(Message):
    """Remove tags of a data integration."""

    key_field: ClassVar[str] = "data_integration_id"
    type: Literal["syncline.data_integration.untag"] = "syncline.data_integration.untag"
    """Wire type."""
    data_integration_id: str
    """The integration."""
    tag_keys: tuple[str, ...]
    """Keys to remove (absent ones are ignored)."""


class CreateDataIntegrationAssociation(Message):
    """Associate a data integration with a destination: the sync that moves its objects."""

    key_field: ClassVar[str] = "data_integration_id"
    type: Literal["syncline.data_integration.associate"] = "syncline.data_integration.associate"
    """Wire type."""
    data_integration_id: str
    """The integration."""
    association_id: str
    """The new association's id (derived from the client token): the sync id of its runs."""
    client_id: str | None = None
    """The client's own label, echoed."""
    destination_uri: str | None = None
    """`<type>://Syncline/<connection name or id>`."""
    object_configuration: ObjectConfiguration | None = None
    """Overrides the integration's objects."""
    client_association_metadata: dict[str, str] | None = None
    """Destination settings (`schema`, `path`, `format`, `topic`), echoed."""
    execution_configuration: ExecutionConfig | None = None
    """How it runs; None follows the integration's schedule (or runs once when it has none)."""
    client_token: str | None = None
    """The client's idempotency token."""
    request_print: str = ""
    """Fingerprint of the request: the same token with another request is refused."""
    actor: str = ""
    """The API key that issued the command."""


class UpdateDataIntegrationAssociation(Message):
    """Change how an association runs (an on-demand one runs again)."""

    key_field: ClassVar[str] = "data_integration_id"
    type: Literal["syncline.data_integration.association_update"] = "syncline.data_integration.association_update"
    """Wire type."""
    data_integration_id: str
    """The integration."""
    association_id: str
    """The association."""
    execution_configuration: ExecutionConfig
    """How it runs from now on."""


class DataIntegrationConfigured(Message):
    """A data integration was created or changed (or a create was replayed by its client token)."""

    key_field: ClassVar[str] = "data_integration_id"
    type: Literal["syncline.data_integration.configured"] = "syncline.data_integration.configured"
    """Wire type."""
    data_integration_id: str
    """The integration."""
    result: Literal["created", "updated", "replayed"]
    """What the command did."""


class DataIntegrationDeleted(Message):
    """A data integration is gone."""

    key_field: ClassVar[str] = "data_integration_id"
    type: Literal["syncline.data_integration.deleted"] = "syncline.data_integration.deleted"
    """Wire type."""
    data_integration_id: str
    """The integration."""


class DataIntegrationAssociationConfigured(Message):
    """An association was created or changed (or a create was replayed by its client token)."""

    key_field: ClassVar[str] = "data_integration_id"
    type: Literal["syncline.data_integration.association_configured"] = (
        "syncline.data_integration.association_configured"
    )
    """Wire type."""
    data_integration_id: str
    """The integration."""
    association_id: str
    """The association (the sync id of its runs)."""
    result: Literal["created", "updated", "replayed"]
    """What the command did."""
    run_now: bool = False
    """The association runs once now (on demand, or no schedule at all): the caller starts that run."""


DataIntegrationCommand = Annotated[
    CreateDataIntegration
    | UpdateDataIntegration
    | DeleteDataIntegration
    | TagDataIntegration
    | UntagDataIntegration
    | CreateDataIntegrationAssociation
    | UpdateDataIntegrationAssociation,
    Field(discriminator="type"),
]
"""Everything on the data integration commands topic."""

DataIntegrationEvent = Annotated[
    DataIntegrationConfigured | DataIntegrationDeleted | DataIntegrationAssociationConfigured | CommandRejected,
    Field(discriminator="type"),
]
"""Everything on the data integration events topic."""
