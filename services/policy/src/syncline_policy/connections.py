"""Connection rules: a connection's configuration matches its type, its name is unique in the organisation, a
folder lies inside the files root, a change of where it points carries its stored secrets again, and it is checked
for real with each change (`check` turns a failed check into a rejection). No broker imports.

Each command yields (topic, event) pairs, the answer first; deleting a connection with `force` also deletes the
syncs that use it, which announce themselves on the syncs topic.
"""

from datetime import UTC, datetime
from typing import Any

from syncline_connectors import connection_types
from syncline_connectors.connection_types import CONNECTION_TYPES, ConnectionType, check_secrets_given
from syncline_connectors.reach import Reach
from syncline_contracts.base import Message
from syncline_contracts.connections import (
    ConnectionConfigured,
    ConnectionDeleted,
    CreateConnection,
    DeleteConnection,
    UpdateConnection,
)
from syncline_contracts.topics import CONNECTION_EVENTS, SYNC_EVENTS, Topic
from syncline_platform.db import Conn
from syncline_platform.errors import ConflictError, InvalidError
from syncline_platform.secrets import Sealer
from syncline_policy import data_integrations
from syncline_policy import sync_repository as repo
from syncline_policy.bulk_syncs import deleted_events
from syncline_policy.compilers.polytomic import store_spec
from syncline_policy.errors import (
    ConnectionCheckFailedError,
    ConnectionInUseError,
    ConnectionNotFoundError,
    NameTakenError,
)
from syncline_policy.polytomic_rules import check_configuration

Outcome = list[tuple[Topic, Message]]


def _type(name: str) -> ConnectionType:
    kind = CONNECTION_TYPES.get(name)
    if kind is None:
        raise InvalidError(f"unknown connection type [{name}]; expected one of {', '.join(CONNECTION_TYPES)}")
    return kind


async def _checked(
    conn: Conn,
    *,
    org_id: str,
    cmd: CreateConnection | UpdateConnection,
    kind: ConnectionType,
    sealed: dict[str, str],
    sealer: Sealer,
    reach: Reach,
    stored: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The connection's columns after its rules held and its check ran (`stored`: the row it replaces)."""
    if not cmd.name.strip():
        raise InvalidError("name is required")
    if await repo.name_taken(conn, table="connections", org_id=org_id, name=cmd.name, except_id=cmd.connection_id):
        raise NameTakenError(kind="connection", name=cmd.name)
    public = {k: v for k, v in cmd.configuration.items() if k not in kind.secret_keys}
    values = check_configuration(kind.keys, public, what="configuration")
    if stored is not None:
        check_secrets_given(
            identity=kind.identity,
            secret_keys=kind.secret_keys,
            before=stored["configuration"],
            after=values,
            stored=stored["sealed_secrets"],
            given=cmd.sealed_secrets,
        )
    secrets = {k: sealer.open(v) for k, v in sealed.items() if v}
    problem = await connection_types.check(kind.id, values, secrets=secrets, reach=reach.for_org(org_id))
    if problem and cmd.check:
        raise ConnectionCheckFailedError(connection_id=cmd.connection_id, problem=problem)
    return {
        "name": cmd.name,
        "type": kind.id,
        "configuration": values,
        "sealed_secrets": sealed,
        "status": "unhealthy" if problem else "healthy",
        "status_error": problem or "",
        "checked_at": datetime.now(UTC),
        "healthcheck_interval": cmd.healthcheck_interval,
        "policies": list(cmd.policies),
        "updated_by": cmd.actor,
    }


def _configured(connection_id: str, columns: dict[str, Any], *, created: bool) -> Outcome:
    event = ConnectionConfigured(
        connection_id=connection_id,
        result="created" if created else "updated",
        status=columns["status"],
        status_error=columns["status_error"],
    )
    return [(CONNECTION_EVENTS, event)]


async def create_connection(conn: Conn, *, org_id: str, cmd: CreateConnection, sealer: Sealer, reach: Reach) -> Outcome:
    """Create the connection."""
    if await repo.get_connection(conn, org_id=org_id, connection_id=cmd.connection_id) is not None:
        raise ConflictError(f"connection {cmd.connection_id} already exists")
    kind = _type(cmd.connection_type)
    columns = await _checked(
        conn, org_id=org_id, cmd=cmd, kind=kind, sealed=dict(cmd.sealed_secrets), sealer=sealer, reach=reach
    )
    columns["created_by"] = cmd.actor
    await repo.save_connection(conn, org_id=org_id, connection_id=cmd.connection_id, values=columns)
    return _configured(cmd.connection_id, columns, created=True)


async def update_connection(conn: Conn, *, org_id: str, cmd: UpdateConnection, sealer: Sealer, reach: Reach) -> Outcome:
    """Replace the connection's name and configuration; secrets left out keep their value, unless the
    connection now points elsewhere (then they must be given again)."""
    row = await repo.get_connection(conn, org_id=org_id, connection_id=cmd.connection_id)
    if row is None:
        raise ConnectionNotFoundError(cmd.connection_id)
    sealed = dict(row["sealed_secrets"]) | dict(cmd.sealed_secrets)
    kind = _type(row["type"])
    columns = await _checked(
        conn, org_id=org_id, cmd=cmd, kind=kind, sealed=sealed, sealer=sealer, reach=reach, stored=row
    )
    await repo.save_connection(conn, org_id=org_id, connection_id=cmd.connection_id, values=columns)
    for sync_id in await repo.syncs_using(conn, connection_id=cmd.connection_id):  # their runs see the change
        await store_spec(conn, org_id=org_id, sync_id=sync_id)
    await data_integrations.recompile_using(conn, org_id=org_id, connection_id=cmd.connection_id)
    return _configured(cmd.connection_id, columns, created=False)


async def delete_connection(conn: Conn, *, org_id: str, cmd: DeleteConnection) -> Outcome:
    """Delete the connection; with `force`, the syncs using it go first."""
    if await repo.get_connection(conn, org_id=org_id, connection_id=cmd.connection_id) is None:
        raise ConnectionNotFoundError(cmd.connection_id)
    users = await repo.syncs_using(conn, connection_id=cmd.connection_id)
    if users and not cmd.force:
        raise ConnectionInUseError(connection_id=cmd.connection_id, sync_ids=users)
    await data_integrations.check_unnamed(conn, connection_id=cmd.connection_id)
    outcome: Outcome = [
        (CONNECTION_EVENTS, ConnectionDeleted(connection_id=cmd.connection_id, deleted_sync_ids=tuple(users)))
    ]
    for sync_id in users:
        await repo.delete_sync(conn, sync_id=sync_id)
        outcome += [(SYNC_EVENTS, event) for event in deleted_events(sync_id)]
    await repo.delete_connection(conn, org_id=org_id, connection_id=cmd.connection_id)
    return outcome
