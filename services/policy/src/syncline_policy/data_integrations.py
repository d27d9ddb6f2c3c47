"""Data integration rules (AWS AppIntegrations): what an integration and its one association must look like.
No broker imports.

Each command yields the events to publish, the answer first (on `syncline.data_integrations.events.v1`); an
association's create or change also compiles its spec (`compilers/aws.py`) and announces its schedules
(`SchedulesConfigured`, on `syncline.syncs.events.v1`, for the scheduler). A create that repeats a stored
client token answers `replayed` when it is the same request, and is refused when it is another.
"""

import re
from datetime import UTC, datetime
from typing import Any

from syncline_connectors.connection_types import CONNECTION_TYPES
from syncline_contracts.base import Message
from syncline_contracts.data_integrations import (
    CreateDataIntegration,
    CreateDataIntegrationAssociation,
    DataIntegrationAssociationConfigured,
    DataIntegrationConfigured,
    DataIntegrationDeleted,
    DeleteDataIntegration,
    ExecutionConfig,
    TagDataIntegration,
    UntagDataIntegration,
    UpdateDataIntegration,
    UpdateDataIntegrationAssociation,
)
from syncline_contracts.schedules import Schedule, SchedulesConfigured
from syncline_platform.db import Conn
from syncline_platform.errors import ConflictError, InvalidError, NotFoundError
from syncline_platform.schedules import aws_kind, validate_schedules
from syncline_policy import data_integration_store as store
from syncline_policy.compilers import aws

URI = re.compile(r"(?P<type>\w+)://(?P<host>[\w.-]+)/(?P<rest>[\w/!@#+=.,-]+)")
URI_TYPES = ("postgresql", "file", "kafka")


class DataIntegrationNotFoundError(NotFoundError):
    """The command names an integration the organisation does not have."""

    def __init__(self, integration_id: str) -> None:
        super().__init__(kind="data integration", resource_id=integration_id)
        self.args = (f"DataIntegration {integration_id} not found",)


class AssociationNotFoundError(NotFoundError):
    """The command names an association the integration does not have."""

    def __init__(self, association_id: str) -> None:
        super().__init__(kind="data integration association", resource_id=association_id)
        self.args = (f"DataIntegrationAssociation {association_id} not found",)


class NameTakenError(ConflictError):
    """Another integration of the region has the name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"A DataIntegration named [{name}] already exists in this region")


class AlreadyAssociatedError(ConflictError):
    """An integration has one association at most."""

    def __init__(self, integration_id: str) -> None:
        self.integration_id = integration_id
        super().__init__(f"DataIntegration {integration_id} already has an association; it can have only one")


class ConnectionNamedError(ConflictError):
    """A connection that data integrations or associations name cannot be deleted (they have no forced delete)."""

    def __init__(self, *, connection_id: str, users: list[str]) -> None:
        self.connection_id = connection_id
        self.users = users
        super().__init__(
            f"connection {connection_id} is named by AWS data integrations or associations {', '.join(users)}; "
            "delete those first"
        )


class TokenReusedError(InvalidError):
    """The client token was first used for a different request."""

    def __init__(self, token: str) -> None:
        self.token = token
        super().__init__(f"ClientToken [{token}] was already used with different parameters")


def _now() -> datetime:
    return datetime.now(UTC)


async def connection_of(conn: Conn, *, org_id: str, uri: str, role: str) -> dict[str, Any]:
    """The connection a `<type>://Syncline/<connection name or id>` URI names."""
    match = URI.fullmatch(uri)
    what = "SourceURI" if role == "source" else "DestinationURI"
    if match is None:
        raise InvalidError(f"{what} [{uri}] does not match <type>://Syncline/<connection name or id>")
    kind, host, rest = match.group("type").lower(), match.group("host"), match.group("rest")
    if kind == "s3" or host.lower() == "appflow":
        raise InvalidError(
            f"{what} [{uri}] names an AWS resource (S3 or an AppFlow connector profile), which Syncline cannot "
            f"reach; name a Syncline connection: <{'|'.join(URI_TYPES)}>://Syncline/<connection name or id>"
        )
    if host != "Syncline" or kind not in URI_TYPES:
        raise InvalidError(f"{what} [{uri}] must be <{'|'.join(URI_TYPES)}>://Syncline/<connection name or id>")
    found = await store.find_connection(conn, org_id=org_id, name_or_id=rest)
    if found is None:
        raise InvalidError(f"{what} [{uri}]: no connection named or with id [{rest}]")
    if found["type"] != kind:
        raise InvalidError(f"{what} [{uri}]: connection [{rest}] is a {found['type']} connection, not {kind}")
    connection_type = CONNECTION_TYPES[kind]
    if not (connection_type.source if role == "source" else connection_type.destination):
        raise InvalidError(f"{what} [{uri}]: a {kind} connection cannot be a {role}")
    return found


def _schedules(integration: dict[str, Any], execution: ExecutionConfig | None, *, now: datetime) -> list[Schedule]:
    config = aws.schedule_of(integration, execution)
    if execution is not None and execution.execution_mode == "SCHEDULED" and config is None:
        raise InvalidError("ExecutionConfiguration.ScheduleConfiguration is required for SCHEDULED")
    if config is None:
        return []
    expression = config.schedule_expression
    schedules = [Schedule(schedule_id="default", kind=aws_kind(expression), expression=expression)]
    validate_schedules(schedules, now=now)
    return schedules


async def create_integration(conn: Conn, *, org_id: str, cmd: CreateDataIntegration) -> list[Message]:
    """Store a new integration (or answer the first one of the same client token)."""
    existing = await store.get_integration(conn, org_id=org_id, integration_id=cmd.data_integration_id)
    if existing is not None:
        if existing["request_print"] != cmd.request_print or existing["region"] != cmd.region:
            raise TokenReusedError(cmd.client_token or "")
        return [DataIntegrationConfigured(data_integration_id=existing["id"], result="replayed")]
    if await store.name_taken(conn, org_id=org_id, region=cmd.region, name=cmd.name, except_id=""):
        raise NameTakenError(cmd.name)
    source = await connection_of(conn, org_id=org_id, uri=cmd.source_uri, role="source") if cmd.source_uri else None
    if cmd.schedule_config is not None:
        config = cmd.schedule_config
        _schedules({"schedule_config": config.model_dump()}, None, now=_now())
        if config.first_execution_from:
            aws.window({"schedule_config": config.model_dump()}, None)
    values = {
        "region": cmd.region,
        "name": cmd.name,
        "description": cmd.description,
        "kms_key": cmd.kms_key,
        "source_uri": cmd.source_uri,
        "source_connection_id": source["id"] if source else None,
        "schedule_config": _dump(cmd.schedule_config),
        "file_configuration": _dump(cmd.file_configuration),
        "object_configuration": _plain(cmd.object_configuration),
        "tags": dict(cmd.tags),
        "client_token": cmd.client_token,
        "request_print": cmd.request_print,
        "created_by": cmd.actor,
    }
    await store.insert_integration(conn, org_id=org_id, integration_id=cmd.data_integration_id, values=values)
    return [DataIntegrationConfigured(data_integration_id=cmd.data_integration_id, result="created")]


def _dump(model: Any) -> dict[str, Any] | None:
    return model.model_dump(mode="json") if model is not None else None


def _plain(objects: dict[str, dict[str, tuple[str, ...]]] | None) -> dict[str, Any] | None:
    return {k: {n: list(v) for n, v in entry.items()} for k, entry in objects.items()} if objects else None


async def _integration(conn: Conn, *, org_id: str, integration_id: str) -> dict[str, Any]:
    row = await store.get_integration(conn, org_id=org_id, integration_id=integration_id)
    if row is None:
        raise DataIntegrationNotFoundError(integration_id)
    return row


async def update_integration(conn: Conn, *, org_id: str, cmd: UpdateDataIntegration) -> list[Message]:
    """Rename an integration or change its description (a taken name is a broken rule: AWS answers 400)."""
    row = await _integration(conn, org_id=org_id, integration_id=cmd.data_integration_id)
    name = cmd.name if cmd.name is not None else row["name"]
    if await store.name_taken(conn, org_id=org_id, region=row["region"], name=name, except_id=row["id"]):
        raise InvalidError(f"A DataIntegration named [{name}] already exists in this region")
    description = cmd.description if cmd.description is not None else row["description"]
    await store.update_integration(conn, integration_id=row["id"], name=name, description=description)
    return [DataIntegrationConfigured(data_integration_id=row["id"], result="updated")]


async def delete_integration(conn: Conn, *, org_id: str, cmd: DeleteDataIntegration) -> list[Message]:
    """Delete an integration that has no association."""
    row = await _integration(conn, org_id=org_id, integration_id=cmd.data_integration_id)
    if await store.association_of(conn, integration_id=row["id"]) is not None:
        raise InvalidError(f"DataIntegration {row['id']} has an association and cannot be deleted")
    await store.delete_integration(conn, integration_id=row["id"])
    return [DataIntegrationDeleted(data_integration_id=row["id"])]


async def tag_integration(conn: Conn, *, org_id: str, cmd: TagDataIntegration) -> list[Message]:
    """Add or replace tags."""
    row = await _integration(conn, org_id=org_id, integration_id=cmd.data_integration_id)
    tags = dict(row["tags"]) | dict(cmd.tags)
    if len(tags) > 200:
        raise InvalidError("a resource has at most 200 tags")
    await store.set_tags(conn, integration_id=row["id"], tags=tags)
    return [DataIntegrationConfigured(data_integration_id=row["id"], result="updated")]


async def untag_integration(conn: Conn, *, org_id: str, cmd: UntagDataIntegration) -> list[Message]:
    """Remove tags."""
    row = await _integration(conn, org_id=org_id, integration_id=cmd.data_integration_id)
    tags = {k: v for k, v in row["tags"].items() if k not in cmd.tag_keys}
    await store.set_tags(conn, integration_id=row["id"], tags=tags)
    return [DataIntegrationConfigured(data_integration_id=row["id"], result="updated")]


async def _compile(conn: Conn, *, org_id: str, integration: dict[str, Any], association: dict[str, Any]) -> None:
    if not integration.get("source_connection_id"):
        raise InvalidError(f"DataIntegration {integration['id']} has no SourceURI: it has nothing to move")
    if not association.get("destination_connection_id"):
        raise InvalidError("DestinationURI is required: it names where the association writes")
    source = await store.find_connection(conn, org_id=org_id, name_or_id=integration["source_connection_id"])
    target = await store.find_connection(conn, org_id=org_id, name_or_id=association["destination_connection_id"])
    if source is None or target is None:
        raise InvalidError("a connection of the association is gone")
    await aws.store_spec(
        conn, org_id=org_id, integration=integration, association=association, source=source, target=target
    )


def _runs_now(integration: dict[str, Any], execution: ExecutionConfig | None) -> bool:
    return aws.schedule_of(integration, execution) is None


async def _announce(
    *, integration: dict[str, Any], association_id: str, execution: ExecutionConfig | None, result: str, now: datetime
) -> list[Message]:
    schedules = _schedules(integration, execution, now=now)
    return [
        DataIntegrationAssociationConfigured(
            data_integration_id=integration["id"],
            association_id=association_id,
            result="created" if result == "created" else "updated",
            run_now=_runs_now(integration, execution),
        ),
        SchedulesConfigured(sync_id=association_id, schedules=tuple(schedules), active=True, configured_at=now),
    ]


async def create_association(conn: Conn, *, org_id: str, cmd: CreateDataIntegrationAssociation) -> list[Message]:
    """Associate an integration with a destination: compile the sync, announce its schedules."""
    integration = await _integration(conn, org_id=org_id, integration_id=cmd.data_integration_id)
    current = await store.association_of(conn, integration_id=integration["id"])
    if current is not None and current["id"] == cmd.association_id:
        if current["request_print"] != cmd.request_print:
            raise TokenReusedError(cmd.client_token or "")
        stored = current["execution_configuration"]
        execution = ExecutionConfig.model_validate(stored) if stored else None
        return [
            DataIntegrationAssociationConfigured(
                data_integration_id=integration["id"],
                association_id=current["id"],
                result="replayed",
                run_now=_runs_now(integration, execution),
            )
        ]
    if current is not None:
        raise AlreadyAssociatedError(integration["id"])
    now = _now()
    target = (
        await connection_of(conn, org_id=org_id, uri=cmd.destination_uri, role="destination")
        if cmd.destination_uri
        else None
    )
    association = {
        "id": cmd.association_id,
        "data_integration_id": integration["id"],
        "client_id": cmd.client_id,
        "destination_uri": cmd.destination_uri,
        "destination_connection_id": target["id"] if target else None,
        "object_configuration": _plain(cmd.object_configuration),
        "client_association_metadata": dict(cmd.client_association_metadata or {}),
        "execution_configuration": _dump(cmd.execution_configuration),
        "client_token": cmd.client_token,
        "request_print": cmd.request_print,
        "created_by": cmd.actor,
    }
    events = await _announce(
        integration=integration,
        association_id=cmd.association_id,
        execution=cmd.execution_configuration,
        result="created",
        now=now,
    )
    await store.insert_association(conn, org_id=org_id, association_id=cmd.association_id, values=association)
    await _compile(conn, org_id=org_id, integration=integration, association=association)
    return events


async def update_association(conn: Conn, *, org_id: str, cmd: UpdateDataIntegrationAssociation) -> list[Message]:
    """Change how an association runs; compile it again and announce its schedules (an on-demand one runs again)."""
    integration = await _integration(conn, org_id=org_id, integration_id=cmd.data_integration_id)
    association = await store.association_of(conn, integration_id=integration["id"])
    if association is None or association["id"] != cmd.association_id:
        raise AssociationNotFoundError(cmd.association_id)
    now = _now()
    events = await _announce(
        integration=integration,
        association_id=association["id"],
        execution=cmd.execution_configuration,
        result="updated",
        now=now,
    )
    execution = cmd.execution_configuration.model_dump(mode="json")
    await store.set_execution(conn, association_id=association["id"], execution=execution)
    association["execution_configuration"] = execution
    await _compile(conn, org_id=org_id, integration=integration, association=association)
    return events


async def recompile_using(conn: Conn, *, org_id: str, connection_id: str) -> None:
    """Compile again every association whose integration reads from, or which writes to, a changed connection, so
    its next runs see the change (a new password, another folder)."""
    for association_id in await store.associations_using(conn, connection_id=connection_id):
        association = await store.get_association(conn, association_id=association_id)
        assert association is not None  # noqa: S101 - found in this transaction
        integration = await _integration(conn, org_id=org_id, integration_id=association["data_integration_id"])
        await _compile(conn, org_id=org_id, integration=integration, association=association)


async def check_unnamed(conn: Conn, *, connection_id: str) -> None:
    """Raise `ConnectionNamedError` while data integrations or associations name the connection."""
    users = await store.users_of(conn, connection_id=connection_id)
    if users:
        raise ConnectionNamedError(connection_id=connection_id, users=users)
