"""The Kafka interface of an organisation: the commands it publishes and the events it reads, on its own topics.

An organisation publishes commands to `syncline.tenant.<org>.commands.v1` and reads `syncline.tenant.<org>.events.v1`,
authenticated with its key pair as SCRAM credentials (key id as user name, secret as password) and held there by
ACLs. Both topics use the CloudEvents Kafka binding in binary mode: `ce_type` (the command), `ce_id` (its id, echoed
in its outcome as `command_id`), `ce_source`, `ce_specversion` and `content-type` travel as headers; the body is the
JSON payload below (without `type`: the header says it). The organisation is the one of the topic; an `org_id`
header is ignored.

Every command is answered on the events topic: `syncline.command.accepted` with the resource id, or
`syncline.command.rejected` with the reason. The events topic also carries the organisation's run events
(`syncline.run.started`, `.progress`, `.completed`, `.failed`, `.canceled`), keyed by sync id, in order per sync.
"""

import re
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from syncline_contracts.base import Message
from syncline_contracts.connectors import CommandRejected
from syncline_contracts.runs import RunCanceled, RunCompleted, RunFailed, RunProgressed, RunStarted
from syncline_contracts.status import JobType
from syncline_contracts.syncs import BulkSyncDefinition
from syncline_contracts.topics import Topic

TENANT_PREFIX = "syncline.tenant."
"""Every organisation's topics and consumer groups start with `syncline.tenant.<org>.`."""


@dataclass(frozen=True)
class TenantTopics:
    """One organisation's topics and the prefix of its consumer groups (after the installation's topic prefix)."""

    org_id: str
    prefix: str = ""

    @property
    def base(self) -> str:
        """What every name of the organisation starts with (its consumer groups must too)."""
        return f"{self.prefix}{TENANT_PREFIX}{self.org_id}."

    @property
    def commands(self) -> str:
        """Where the organisation publishes commands."""
        return f"{self.base}commands.v1"

    @property
    def events(self) -> str:
        """Where the organisation reads its command outcomes and run events."""
        return f"{self.base}events.v1"


def commands_pattern(prefix: str = "") -> str:
    """A regular expression matching every organisation's commands topic (what the bridge subscribes to)."""
    return f"^{re.escape(prefix + TENANT_PREFIX)}[^.]+\\.commands\\.v1$"


def org_of_commands_topic(topic: str, prefix: str = "") -> str | None:
    """The organisation whose commands topic `topic` is, or None."""
    match = re.fullmatch(f"{re.escape(prefix + TENANT_PREFIX)}([^.]+)\\.commands\\.v1", topic)
    return match.group(1) if match else None


class CreateSync(Message):
    """Create a sync (the one sync model of every dialect); accepted with the new sync's id."""

    key_field: ClassVar[str] = "name"
    type: Literal["syncline.tenant.sync.create"] = "syncline.tenant.sync.create"
    """Wire type (the `ce_type` header)."""
    definition: BulkSyncDefinition
    """The sync: name (unique in the organisation), source and destination connections, objects, schedules
    (`[]`: one manual default schedule; every schedule's `schedule_id` is replaced by one of Syncline's)."""

    @property
    def name(self) -> str:
        """The key: the sync's name."""
        return self.definition.name


class UpdateSync(Message):
    """Replace a sync's definition."""

    key_field: ClassVar[str] = "sync_id"
    type: Literal["syncline.tenant.sync.update"] = "syncline.tenant.sync.update"
    """Wire type."""
    sync_id: str
    """The sync."""
    definition: BulkSyncDefinition
    """Its whole new definition (fields left out take their defaults)."""


class DeleteSync(Message):
    """Delete a sync and its runs."""

    key_field: ClassVar[str] = "sync_id"
    type: Literal["syncline.tenant.sync.delete"] = "syncline.tenant.sync.delete"
    """Wire type."""
    sync_id: str
    """The sync."""


class StartRun(Message):
    """Start a run of a sync now (rejected with `conflict` while another run of it is going)."""

    key_field: ClassVar[str] = "sync_id"
    type: Literal["syncline.tenant.run.start"] = "syncline.tenant.run.start"
    """Wire type."""
    sync_id: str
    """The sync to run."""
    job_type: JobType = JobType.FULL
    """Full or incremental."""


class CancelRunCommand(Message):
    """Cancel a run: a pending one at once, a running one when its executor next checks in."""

    key_field: ClassVar[str] = "run_id"
    type: Literal["syncline.tenant.run.cancel"] = "syncline.tenant.run.cancel"
    """Wire type."""
    run_id: str
    """The run."""


TenantCommand = Annotated[
    CreateSync | UpdateSync | DeleteSync | StartRun | CancelRunCommand, Field(discriminator="type")
]
"""Everything an organisation may publish on its commands topic."""


class CommandAccepted(Message):
    """A tenant command was taken: the resource it made or addressed."""

    key_field: ClassVar[str] = "resource_id"
    type: Literal["syncline.command.accepted"] = "syncline.command.accepted"
    """Wire type."""
    command_id: str
    """The `ce_id` of the command."""
    command_type: str
    """The command's `ce_type`."""
    resource_id: str
    """The sync created, updated or deleted; the run started or canceled."""
    sync_id: str | None = None
    """The sync the command concerns (the key of its run events)."""
    pending: bool = False
    """True when the services had not confirmed the change when this was sent (it is on its way)."""


TENANT_COMMANDS: tuple[type[Message], ...] = (CreateSync, UpdateSync, DeleteSync, StartRun, CancelRunCommand)
"""The messages of `syncline.tenant.<org>.commands.v1`."""
TENANT_EVENTS: tuple[type[Message], ...] = (
    CommandAccepted,
    CommandRejected,
    RunStarted,
    RunProgressed,
    RunCompleted,
    RunFailed,
    RunCanceled,
)
"""The messages of `syncline.tenant.<org>.events.v1`."""
FORWARDED_RUN_EVENTS = frozenset(
    m.wire_type() for m in (RunStarted, RunProgressed, RunCompleted, RunFailed, RunCanceled)
)
"""The run events an organisation reads on its events topic."""

TENANT_PARTITIONS = 3
"""Partitions of each organisation's topics."""
TENANT_COMMANDS_TOPIC = Topic(
    name=f"{TENANT_PREFIX}{{org_id}}.commands.v1",
    key="sync_id (or any key the organisation chooses: one key's commands are taken in order)",
    messages=TENANT_COMMANDS,
    producers=("organisation",),
    consumers=("gateway",),
    partitions=TENANT_PARTITIONS,
    description="An organisation's commands (SCRAM principal = its key id; WRITE on this topic only). The gateway's "
    "bridge validates each and forwards it with the organisation of the topic; the outcome comes on the events topic.",
)
TENANT_EVENTS_TOPIC = Topic(
    name=f"{TENANT_PREFIX}{{org_id}}.events.v1",
    key="sync_id",
    messages=TENANT_EVENTS,
    producers=("gateway",),
    consumers=("organisation",),
    partitions=TENANT_PARTITIONS,
    description="An organisation's command outcomes and run events, keyed by sync id (READ with consumer groups "
    "named `syncline.tenant.<org_id>.…`).",
)
TENANT_TOPICS: tuple[Topic, ...] = (TENANT_COMMANDS_TOPIC, TENANT_EVENTS_TOPIC)
"""The per-organisation topics, as the AsyncAPI document describes them (`{org_id}` is a channel parameter)."""
