"""Connector rules: what a connector must look like, and how its status moves; every write compiles the connector
again for its runs (`compilers/elastic.py`). No broker imports."""

from datetime import UTC, datetime

from syncline_connectors.config import identity_keys, sensitive_keys, validate_values
from syncline_connectors.connection_types import check_secrets_given
from syncline_connectors.reach import Reach
from syncline_contracts.base import Message
from syncline_contracts.connectors import (
    ConfigureConnector,
    ConnectorConfigured,
    ConnectorDeleted,
    DeleteConnector,
    UpdateConnector,
    UpsertConnector,
)
from syncline_contracts.schedules import SchedulesConfigured
from syncline_contracts.status import ConnectorStatus
from syncline_platform.db import Conn
from syncline_platform.secrets import Sealer
from syncline_policy import checks, repository, rules
from syncline_policy.compilers import elastic
from syncline_policy.errors import ConnectorNotFoundError, InvalidConfigurationError


async def upsert_connector(conn: Conn, *, org_id: str, cmd: UpsertConnector) -> ConnectorConfigured:
    """Create the connector, or update its descriptive fields."""
    rules.index_name(cmd.index_name)
    created = await repository.upsert_connector(conn, org_id=org_id, cmd=cmd, status=ConnectorStatus.CREATED)
    row = await repository.get_connector(conn, org_id=org_id, connector_id=cmd.connector_id)
    assert row is not None  # noqa: S101 - just written in this transaction
    await elastic.store_spec(conn, org_id=org_id, connector_id=cmd.connector_id)
    return ConnectorConfigured(
        connector_id=cmd.connector_id,
        result="created" if created else "updated",
        status=ConnectorStatus(row["status"]),
    )


async def configure_connector(
    conn: Conn, *, org_id: str, cmd: ConfigureConnector, sealer: Sealer, reach: Reach
) -> ConnectorConfigured:
    """Validate and store the configuration, then check it for real: `connected` when the source answers,
    `error` (with the reason) when it does not; one of Syncline's own databases is refused (OwnDatabaseError)."""
    row = await repository.get_connector(conn, org_id=org_id, connector_id=cmd.connector_id)
    if row is None:
        raise ConnectorNotFoundError(cmd.connector_id)
    # `values` is a partial update, as in Elasticsearch: keys left out keep their stored value
    merged = dict(row["configuration"]) | cmd.values | dict.fromkeys(cmd.sealed_secrets)
    values, problems = validate_values(row["service_type"], merged)
    if problems:
        raise InvalidConfigurationError(connector_id=cmd.connector_id, problems=problems)
    check_secrets_given(  # as the Polytomic dialect's connections: a stored password never follows a new host
        identity=identity_keys(row["service_type"]),
        secret_keys=sensitive_keys(row["service_type"]),
        before=row["configuration"],
        after=values,
        stored=row["sealed_secrets"],
        given=cmd.sealed_secrets,
    )
    sealed = dict(row["sealed_secrets"]) | cmd.sealed_secrets
    password = sealer.open(sealed["password"]) if sealed.get("password") else ""
    problem = await checks.check_postgresql(values, password=password, reach=reach.for_org(org_id))
    status = ConnectorStatus.ERROR if problem else ConnectorStatus.CONNECTED
    await repository.set_configuration(
        conn,
        org_id=org_id,
        connector_id=cmd.connector_id,
        values=values,
        sealed_secrets=sealed,
        status=status,
        error=problem,
    )
    await elastic.store_spec(conn, org_id=org_id, connector_id=cmd.connector_id)
    return ConnectorConfigured(connector_id=cmd.connector_id, result="updated", status=status)


async def update_connector(conn: Conn, *, org_id: str, cmd: UpdateConnector) -> list[Message]:
    """Change validated fields; setting an error moves the connector to `error`, clearing it to `connected`
    (as Elasticsearch does); a scheduling change is announced to the scheduler."""
    changes = rules.validate_changes(cmd.changes)
    if "error" in changes and "status" not in changes:
        changes["status"] = (ConnectorStatus.ERROR if changes["error"] else ConnectorStatus.CONNECTED).value
    row = await repository.update_connector(
        conn, org_id=org_id, connector_id=cmd.connector_id, changes=changes, check_in="last_seen" in cmd.changes
    )
    if row is None:
        raise ConnectorNotFoundError(cmd.connector_id)
    await elastic.store_spec(conn, org_id=org_id, connector_id=cmd.connector_id)
    events: list[Message] = [
        ConnectorConfigured(connector_id=cmd.connector_id, result="updated", status=ConnectorStatus(row["status"]))
    ]
    if "scheduling" in changes:
        events.append(
            SchedulesConfigured(
                sync_id=cmd.connector_id,
                schedules=rules.schedules_of(row["scheduling"]),
                configured_at=datetime.now(UTC),
            )
        )
    return events


async def delete_connector(conn: Conn, *, org_id: str, cmd: DeleteConnector) -> list[Message]:
    """Delete the connector; its schedules stop."""
    if not await repository.delete_connector(conn, org_id=org_id, connector_id=cmd.connector_id):
        raise ConnectorNotFoundError(cmd.connector_id)
    await elastic.forget(conn, org_id=org_id, connector_id=cmd.connector_id)
    return [
        ConnectorDeleted(connector_id=cmd.connector_id, delete_sync_jobs=cmd.delete_sync_jobs),
        SchedulesConfigured(sync_id=cmd.connector_id, schedules=(), active=False, configured_at=datetime.now(UTC)),
    ]
