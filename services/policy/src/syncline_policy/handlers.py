"""Policy's subscribers: decode → call the service in one transaction with the inbox → outbox the outcome.

Consumes `syncline.connectors.commands.v1`, `syncline.connections.commands.v1`, `syncline.syncs.commands.v1`,
`syncline.drs.commands.v1`, `syncline.data_integrations.commands.v1` and `SyncDeactivated` from
`syncline.syncs.events.v1`; produces `syncline.connectors.events.v1`, `syncline.connections.events.v1`,
`syncline.drs.events.v1`, `syncline.data_integrations.events.v1` and `syncline.syncs.events.v1`; writes `policy.*`.
"""

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog

from syncline_connectors.reach import OwnDatabases, Reach
from syncline_contracts.base import Message
from syncline_contracts.connections import ConnectionCommand, CreateConnection, DeleteConnection, UpdateConnection
from syncline_contracts.connectors import (
    CommandRejected,
    ConfigureConnector,
    ConnectorCommand,
    DeleteConnector,
    UpdateConnector,
    UpsertConnector,
)
from syncline_contracts.data_integrations import DataIntegrationCommand
from syncline_contracts.drs_jobs import DrsBatchApplied, DrsCommand
from syncline_contracts.schedules import SchedulesConfigured, ScheduleSkipped, SyncDeactivated
from syncline_contracts.syncs import (
    ActivateBulkSync,
    AddBulkSyncSchedule,
    BulkSyncCommand,
    ChangeBulkSyncSchedule,
    ConfigureBulkSyncSchemas,
    CreateBulkSync,
    DeleteBulkSync,
    RemoveBulkSyncSchedule,
    UpdateBulkSync,
)
from syncline_contracts.topics import (
    CONNECTION_COMMANDS,
    CONNECTION_EVENTS,
    CONNECTOR_COMMANDS,
    CONNECTOR_EVENTS,
    DATA_INTEGRATION_COMMANDS,
    DATA_INTEGRATION_EVENTS,
    DRS_COMMANDS,
    DRS_EVENTS,
    SYNC_COMMANDS,
    SYNC_EVENTS,
    Topic,
)
from syncline_platform import inbox, outbox
from syncline_platform.consumer import current_envelope
from syncline_platform.db import Conn
from syncline_platform.errors import as_terminal
from syncline_platform.kafka import subscription
from syncline_platform.network import NetworkPolicy
from syncline_platform.rejections import rejection
from syncline_platform.secrets import Sealer
from syncline_platform.service import ServiceApp
from syncline_policy import bulk_syncs, connections, data_integration_handling, drs_jobs, service
from syncline_policy import sync_repository as repo

log = structlog.get_logger(__name__)
SOURCE = "/syncline/policy"


async def _connector_events(
    conn: Conn, org_id: str, command: ConnectorCommand, sealer: Sealer, reach: Reach
) -> list[Message]:
    match command:
        case UpsertConnector():
            return [await service.upsert_connector(conn, org_id=org_id, cmd=command)]
        case ConfigureConnector():
            return [await service.configure_connector(conn, org_id=org_id, cmd=command, sealer=sealer, reach=reach)]
        case UpdateConnector():
            return await service.update_connector(conn, org_id=org_id, cmd=command)
        case DeleteConnector():
            return await service.delete_connector(conn, org_id=org_id, cmd=command)


def _connector_topic(event: Message) -> Topic:
    """Schedules go where the scheduler listens; everything else answers on the connector events topic."""
    return SYNC_EVENTS if isinstance(event, SchedulesConfigured) else CONNECTOR_EVENTS


def register(app: ServiceApp, *, files_root: Path) -> None:
    """Subscribe the policy handlers; file connections must lie in their organisation's folder of `files_root`, and
    no connection may reach Syncline's own databases."""
    kafka = app.settings.kafka
    sealer = Sealer(app.settings.secret_key)
    reach = Reach(
        files=files_root, own=OwnDatabases.of(app.settings.own_dsns()), network=NetworkPolicy(app.settings.network)
    )

    @app.broker.subscriber(
        CONNECTOR_COMMANDS.qualified(kafka.topic_prefix),
        **subscription(kafka, topic=CONNECTOR_COMMANDS, service="policy"),
    )  # type: ignore[untyped-decorator]
    async def handle_connector_command(command: ConnectorCommand) -> None:
        async def run(conn: Conn, org_id: str) -> Outcome:
            return [(_connector_topic(e), e) for e in await _connector_events(conn, org_id, command, sealer, reach)]

        await _apply(app, command=command, run=run, rejections=CONNECTOR_EVENTS)

    _register_connections(app, sealer=sealer, reach=reach)
    _register_syncs(app, sealer=sealer, reach=reach)
    _register_drs(app, sealer=sealer, reach=reach)
    _register_data_integrations(app)


Outcome = list[tuple[Topic, Message]]
Run = Callable[[Conn, str], Awaitable[Outcome]]


async def _apply(app: ServiceApp, *, command: Message, run: Run, rejections: Topic) -> None:
    """One command in one transaction: inbox claim, the service's change (a savepoint), its events to the
    outbox; a rule it breaks, or input a library or the database refuses (a value out of a column's range, a
    model's validation), changes nothing and becomes a `CommandRejected` on `rejections`, which the caller sees."""
    envelope = current_envelope()
    async with app.pool.acquire() as conn, conn.transaction():
        if not await inbox.claim(conn, consumer="policy", message_id=envelope.ce_id):
            log.info("command.duplicate")
            return
        try:
            async with conn.transaction():
                events = await run(conn, envelope.org_id)
        except Exception as exc:
            terminal = as_terminal(exc)
            if terminal is None:
                raise  # may pass when tried again: the consumer retries it
            if terminal is not exc:
                log.warning("command.invalid_input", error=repr(exc))
            events = [(rejections, rejection(command, terminal))]
        for topic, event in events:
            await outbox.enqueue(
                conn, topic=topic, message=event, envelope=envelope.caused(ce_type=event.wire_type(), ce_source=SOURCE)
            )
        first = events[0][1]
        if isinstance(first, CommandRejected):
            log.info("command.rejected", code=first.code, reason=first.reason)
        else:
            log.info("command.applied", outcome=first.wire_type(), key=command.key)


def _connection_run(command: ConnectionCommand, *, sealer: Sealer, reach: Reach) -> Run:
    async def run(conn: Conn, org_id: str) -> Outcome:
        match command:
            case CreateConnection():
                return await connections.create_connection(conn, org_id=org_id, cmd=command, sealer=sealer, reach=reach)
            case UpdateConnection():
                return await connections.update_connection(conn, org_id=org_id, cmd=command, sealer=sealer, reach=reach)
            case DeleteConnection():
                return await connections.delete_connection(conn, org_id=org_id, cmd=command)

    return run


async def _sync_events(  # noqa: PLR0911 - one return per command type
    conn: Conn, org_id: str, command: BulkSyncCommand, sealer: Sealer, reach: Reach
) -> list[Message]:
    match command:
        case CreateBulkSync():
            return await bulk_syncs.create_bulk_sync(conn, org_id=org_id, cmd=command, sealer=sealer, reach=reach)
        case UpdateBulkSync():
            return await bulk_syncs.update_bulk_sync(conn, org_id=org_id, cmd=command, sealer=sealer, reach=reach)
        case DeleteBulkSync():
            return await bulk_syncs.delete_bulk_sync(conn, org_id=org_id, cmd=command)
        case ActivateBulkSync():
            return await bulk_syncs.activate_bulk_sync(conn, org_id=org_id, cmd=command)
        case AddBulkSyncSchedule():
            return await bulk_syncs.add_schedule(conn, org_id=org_id, cmd=command)
        case ChangeBulkSyncSchedule():
            return await bulk_syncs.change_schedule(conn, org_id=org_id, cmd=command)
        case RemoveBulkSyncSchedule():
            return await bulk_syncs.remove_schedule(conn, org_id=org_id, cmd=command)
        case ConfigureBulkSyncSchemas():
            return await bulk_syncs.configure_schemas(conn, org_id=org_id, cmd=command)


def _register_connections(app: ServiceApp, *, sealer: Sealer, reach: Reach) -> None:
    kafka = app.settings.kafka

    @app.broker.subscriber(
        CONNECTION_COMMANDS.qualified(kafka.topic_prefix),
        **subscription(kafka, topic=CONNECTION_COMMANDS, service="policy-connections"),
    )  # type: ignore[untyped-decorator]
    async def handle_connection_command(command: ConnectionCommand) -> None:
        run = _connection_run(command, sealer=sealer, reach=reach)
        await _apply(app, command=command, run=run, rejections=CONNECTION_EVENTS)


def _register_syncs(app: ServiceApp, *, sealer: Sealer, reach: Reach) -> None:
    kafka = app.settings.kafka

    @app.broker.subscriber(
        SYNC_COMMANDS.qualified(kafka.topic_prefix),
        **subscription(kafka, topic=SYNC_COMMANDS, service="policy-syncs"),
    )  # type: ignore[untyped-decorator]
    async def handle_sync_command(command: BulkSyncCommand) -> None:
        async def run(conn: Conn, org_id: str) -> Outcome:
            return [(SYNC_EVENTS, e) for e in await _sync_events(conn, org_id, command, sealer, reach)]

        await _apply(app, command=command, run=run, rejections=SYNC_EVENTS)

    @app.broker.subscriber(
        SYNC_EVENTS.qualified(kafka.topic_prefix),
        **subscription(kafka, topic=SYNC_EVENTS, service="policy-sync-events"),
    )  # type: ignore[untyped-decorator]
    async def handle_sync_event(body: dict[str, Any]) -> None:
        # every message of the topic arrives here; policy only acts on the scheduler's deactivations (and on a DRS
        # job's start that met its previous run still stopping)
        if body.get("type") == ScheduleSkipped.wire_type():
            await _drs_start_skipped(app, ScheduleSkipped.model_validate(body))
            return
        if body.get("type") != SyncDeactivated.wire_type():
            return
        event = SyncDeactivated.model_validate(body)
        envelope = current_envelope()
        async with app.pool.acquire() as conn, conn.transaction():
            if await inbox.claim(conn, consumer="policy", message_id=envelope.ce_id):
                await repo.deactivate_sync(conn, org_id=envelope.org_id, sync_id=event.sync_id)
                log.info("sync.deactivated", sync_id=event.sync_id, reason=event.reason)


def _register_drs(app: ServiceApp, *, sealer: Sealer, reach: Reach) -> None:
    kafka = app.settings.kafka

    @app.broker.subscriber(
        DRS_COMMANDS.qualified(kafka.topic_prefix),
        **subscription(kafka, topic=DRS_COMMANDS, service="policy-drs"),
    )  # type: ignore[untyped-decorator]
    async def handle_drs_command(command: DrsCommand) -> None:
        async def run(conn: Conn, org_id: str) -> Outcome:
            events = await drs_jobs.apply_batch(conn, org_id=org_id, cmd=command, sealer=sealer, reach=reach)
            return [(DRS_EVENTS if isinstance(e, DrsBatchApplied) else SYNC_EVENTS, e) for e in events]

        await _apply(app, command=command, run=run, rejections=DRS_EVENTS)


def _register_data_integrations(app: ServiceApp) -> None:
    kafka = app.settings.kafka

    @app.broker.subscriber(
        DATA_INTEGRATION_COMMANDS.qualified(kafka.topic_prefix),
        **subscription(kafka, topic=DATA_INTEGRATION_COMMANDS, service="policy-data-integrations"),
    )  # type: ignore[untyped-decorator]
    async def handle_data_integration_command(command: DataIntegrationCommand) -> None:
        async def run(conn: Conn, org_id: str) -> Outcome:
            return await data_integration_handling.apply(conn, org_id=org_id, command=command)

        await _apply(app, command=command, run=run, rejections=DATA_INTEGRATION_EVENTS)


async def _drs_start_skipped(app: ServiceApp, skipped: ScheduleSkipped) -> None:
    """A DRS job's start that found its last run still stopping is scheduled again, a moment later."""
    if skipped.reason != "run_active":
        return
    envelope = current_envelope()
    async with app.pool.acquire() as conn, conn.transaction():
        if not await inbox.claim(conn, consumer="policy", message_id=envelope.ce_id):
            return
        for event in await drs_jobs.start_skipped(conn, org_id=envelope.org_id, skipped=skipped):
            caused = envelope.caused(ce_type=event.wire_type(), ce_source=SOURCE)
            await outbox.enqueue(conn, topic=SYNC_EVENTS, message=event, envelope=caused)
