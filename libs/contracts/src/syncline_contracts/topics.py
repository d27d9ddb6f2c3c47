"""The topic registry: every topic, its key, its messages, who produces and who consumes it.

Topic creation (`syncline_platform.kafka.ensure_topics`) and the AsyncAPI document are generated from it.
"""

from dataclasses import dataclass

from syncline_contracts.base import Message
from syncline_contracts.connections import (
    ConnectionConfigured,
    ConnectionDeleted,
    CreateConnection,
    DeleteConnection,
    UpdateConnection,
)
from syncline_contracts.connectors import (
    CommandRejected,
    ConfigureConnector,
    ConnectorConfigured,
    ConnectorDeleted,
    DeleteConnector,
    UpdateConnector,
    UpsertConnector,
)
from syncline_contracts.data_integrations import (
    CreateDataIntegration,
    CreateDataIntegrationAssociation,
    DataIntegrationAssociationConfigured,
    DataIntegrationConfigured,
    DataIntegrationDeleted,
    DeleteDataIntegration,
    TagDataIntegration,
    UntagDataIntegration,
    UpdateDataIntegration,
    UpdateDataIntegrationAssociation,
)
from syncline_contracts.drs_jobs import ApplyDrsBatch, DrsBatchApplied, DrsJobReleased
from syncline_contracts.runs import (
    CancelRun,
    CancelRunObject,
    CheckInRun,
    ClaimRun,
    CreateSyncJob,
    DeleteRun,
    FailRun,
    ReportRunStats,
    RunCanceled,
    RunCancelRequested,
    RunCompleted,
    RunCreated,
    RunDeleted,
    RunFailed,
    RunObjectCancelRequested,
    RunProgressed,
    RunRequested,
    RunStarted,
    RunUpdated,
)
from syncline_contracts.schedules import (
    RunRetryScheduled,
    ScheduleFired,
    SchedulesConfigured,
    ScheduleSkipped,
    SyncDeactivated,
    SyncDeactivationWarned,
    SyncRunsDeleted,
)
from syncline_contracts.syncs import (
    ActivateBulkSync,
    AddBulkSyncSchedule,
    BulkSyncConfigured,
    BulkSyncDeleted,
    ChangeBulkSyncSchedule,
    ConfigureBulkSyncSchemas,
    CreateBulkSync,
    DeleteBulkSync,
    RemoveBulkSyncSchedule,
    UpdateBulkSync,
)


@dataclass(frozen=True)
class Topic:
    """One Kafka topic of the registry."""

    name: str
    key: str
    messages: tuple[type[Message], ...]
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    partitions: int = 12
    description: str = ""
    answered_on: str | None = None
    """For a command topic the gateway publishes on: the topic whose events answer its commands (their rejections
    included); the gateway waits for answers on these topics only."""

    def qualified(self, prefix: str = "") -> str:
        """The name on the broker; a prefix isolates test runs sharing one broker."""
        return f"{prefix}{self.name}"

    def dlq(self, prefix: str = "") -> str:
        """Where poison messages of this topic go."""
        return f"{self.qualified(prefix)}.dlq"


CONNECTOR_COMMANDS = Topic(
    name="syncline.connectors.commands.v1",
    key="connector_id",
    messages=(UpsertConnector, ConfigureConnector, UpdateConnector, DeleteConnector),
    producers=("gateway",),
    consumers=("policy",),
    description="Create and configure connectors.",
    answered_on="syncline.connectors.events.v1",
)
CONNECTOR_EVENTS = Topic(
    name="syncline.connectors.events.v1",
    key="connector_id",
    messages=(ConnectorConfigured, ConnectorDeleted, CommandRejected),
    producers=("policy",),
    consumers=("gateway", "scheduler", "executor"),
    description="Outcomes of connector commands.",
)
RUN_COMMANDS = Topic(
    name="syncline.runs.commands.v1",
    key="run_id",
    messages=(CreateSyncJob, CancelRun, CancelRunObject, DeleteRun, ClaimRun, CheckInRun, ReportRunStats, FailRun),
    producers=("gateway",),
    consumers=("scheduler",),
    description="Create, cancel (a whole run, or one of its objects) and delete runs; an external worker's claim, "
    "check-ins, counters and errors.",
    answered_on="syncline.runs.events.v1",
)
RUN_REQUESTS = Topic(
    name="syncline.runs.requests.v1",
    key="run_id",
    messages=(RunRequested,),
    producers=("scheduler",),
    consumers=("executor",),
    description="Pending runs for executors to claim.",
)
RUN_EVENTS = Topic(
    name="syncline.runs.events.v1",
    key="run_id",
    messages=(
        RunCreated,
        RunUpdated,
        RunDeleted,
        RunCancelRequested,
        RunObjectCancelRequested,
        RunStarted,
        RunProgressed,
        RunCompleted,
        RunFailed,
        RunCanceled,
        CommandRejected,
        ScheduleFired,
        RunRetryScheduled,
    ),
    producers=("scheduler", "executor"),
    consumers=("gateway", "scheduler", "subscribers"),
    description="Run lifecycle: created, started, progress, and exactly one terminal event per run; "
    "which schedule fired a run, and retries to come.",
)
SYNC_EVENTS = Topic(
    name="syncline.syncs.events.v1",
    key="sync_id",
    messages=(
        SchedulesConfigured,
        ScheduleSkipped,
        SyncDeactivationWarned,
        SyncDeactivated,
        SyncRunsDeleted,
        BulkSyncConfigured,
        BulkSyncDeleted,
        CommandRejected,
        DrsJobReleased,
    ),
    producers=("policy", "scheduler"),
    consumers=("scheduler", "policy", "gateway", "executor", "subscribers"),
    description="A sync's schedules and retry policy (from policy); skipped ticks and deactivation (from scheduler); "
    "outcomes of bulk-sync commands (from policy); the runs of deleted syncs and connectors deleted (from scheduler); "
    "DRS jobs whose resources go (from policy).",
)
SYNC_COMMANDS = Topic(
    name="syncline.syncs.commands.v1",
    key="sync_id",
    messages=(
        CreateBulkSync,
        UpdateBulkSync,
        DeleteBulkSync,
        ActivateBulkSync,
        AddBulkSyncSchedule,
        ChangeBulkSyncSchedule,
        RemoveBulkSyncSchedule,
        ConfigureBulkSyncSchemas,
    ),
    producers=("gateway",),
    consumers=("policy",),
    description="Create, replace, activate and delete bulk syncs; their schedules and object configuration.",
    answered_on="syncline.syncs.events.v1",
)
CONNECTION_COMMANDS = Topic(
    name="syncline.connections.commands.v1",
    key="connection_id",
    messages=(CreateConnection, UpdateConnection, DeleteConnection),
    producers=("gateway",),
    consumers=("policy",),
    description="Create, replace and delete connections (sources and destinations of syncs).",
    answered_on="syncline.connections.events.v1",
)
CONNECTION_EVENTS = Topic(
    name="syncline.connections.events.v1",
    key="connection_id",
    messages=(ConnectionConfigured, ConnectionDeleted, CommandRejected),
    producers=("policy",),
    consumers=("gateway",),
    description="Outcomes of connection commands.",
)
DRS_COMMANDS = Topic(
    name="syncline.drs.commands.v1",
    key="project_id",
    messages=(ApplyDrsBatch,),
    producers=("gateway",),
    consumers=("policy",),
    description="Huawei DRS batches: create, test, modify, select objects, set policies, precheck, start, pause, "
    "resume and delete jobs.",
    answered_on="syncline.drs.events.v1",
)
DRS_EVENTS = Topic(
    name="syncline.drs.events.v1",
    key="project_id",
    messages=(DrsBatchApplied, CommandRejected),
    producers=("policy",),
    consumers=("gateway",),
    description="Outcomes of DRS batches, one result per item.",
)
DATA_INTEGRATION_COMMANDS = Topic(
    name="syncline.data_integrations.commands.v1",
    key="data_integration_id",
    messages=(
        CreateDataIntegration,
        UpdateDataIntegration,
        DeleteDataIntegration,
        TagDataIntegration,
        UntagDataIntegration,
        CreateDataIntegrationAssociation,
        UpdateDataIntegrationAssociation,
    ),
    producers=("gateway",),
    consumers=("policy",),
    description="Create, change, tag and delete data integrations (AWS AppIntegrations); create and change the "
    "association (the sync) of each.",
    answered_on="syncline.data_integrations.events.v1",
)
DATA_INTEGRATION_EVENTS = Topic(
    name="syncline.data_integrations.events.v1",
    key="data_integration_id",
    messages=(DataIntegrationConfigured, DataIntegrationDeleted, DataIntegrationAssociationConfigured, CommandRejected),
    producers=("policy",),
    consumers=("gateway",),
    description="Outcomes of data integration commands.",
)

TOPICS: tuple[Topic, ...] = (
    CONNECTOR_COMMANDS,
    CONNECTOR_EVENTS,
    RUN_COMMANDS,
    RUN_REQUESTS,
    RUN_EVENTS,
    SYNC_EVENTS,
    SYNC_COMMANDS,
    CONNECTION_COMMANDS,
    CONNECTION_EVENTS,
    DRS_COMMANDS,
    DRS_EVENTS,
    DATA_INTEGRATION_COMMANDS,
    DATA_INTEGRATION_EVENTS,
)


def all_messages() -> tuple[type[Message], ...]:
    """Every message type of the registry, each once."""
    seen: dict[str, type[Message]] = {}
    for topic in TOPICS:
        for message in topic.messages:
            seen.setdefault(message.wire_type(), message)
    return tuple(seen.values())
