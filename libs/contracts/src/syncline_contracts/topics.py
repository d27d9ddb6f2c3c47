"""The topic registry: every topic, its key, its messages, who produces and who consumes it.

Topic creation (`syncline_platform.kafka.ensure_topics`) and the AsyncAPI document are generated from it.
"""

from dataclasses import dataclass

from syncline_contracts.base import Message
from syncline_contracts.connectors import (
    CommandRejected,
    ConfigureConnector,
    ConnectorConfigured,
    ConnectorDeleted,
    DeleteConnector,
    UpdateConnector,
    UpsertConnector,
)
from syncline_contracts.runs import (
    CancelRun,
    CreateSyncJob,
    RunCanceled,
    RunCancelRequested,
    RunCompleted,
    RunCreated,
    RunFailed,
    RunProgressed,
    RunRequested,
    RunStarted,
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
)
CONNECTOR_EVENTS = Topic(
    name="syncline.connectors.events.v1",
    key="connector_id",
    messages=(ConnectorConfigured, ConnectorDeleted, CommandRejected),
    producers=("policy",),
    consumers=("gateway", "scheduler"),
    description="Outcomes of connector commands.",
)
RUN_COMMANDS = Topic(
    name="syncline.runs.commands.v1",
    key="run_id",
    messages=(CreateSyncJob, CancelRun),
    producers=("gateway",),
    consumers=("scheduler",),
    description="Create and cancel runs.",
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
        RunCancelRequested,
        RunStarted,
        RunProgressed,
        RunCompleted,
        RunFailed,
        RunCanceled,
        CommandRejected,
    ),
    producers=("scheduler", "executor"),
    consumers=("gateway", "subscribers"),
    description="Run lifecycle: created, started, progress, and exactly one terminal event per run.",
)

TOPICS: tuple[Topic, ...] = (CONNECTOR_COMMANDS, CONNECTOR_EVENTS, RUN_COMMANDS, RUN_REQUESTS, RUN_EVENTS)


def all_messages() -> tuple[type[Message], ...]:
    """Every message type of the registry, each once."""
    seen: dict[str, type[Message]] = {}
    for topic in TOPICS:
        for message in topic.messages:
            seen.setdefault(message.wire_type(), message)
    return tuple(seen.values())
