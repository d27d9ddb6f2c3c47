"""Policy's subscribers: decode → call the service in one transaction with the inbox → outbox the outcome.

Consumes `syncline.connectors.commands.v1`; produces `syncline.connectors.events.v1`; writes `policy.*`.
"""

import structlog

from syncline_contracts.base import Message
from syncline_contracts.connectors import (
    CommandRejected,
    ConfigureConnector,
    ConnectorCommand,
    DeleteConnector,
    UpdateConnector,
    UpsertConnector,
)
from syncline_contracts.topics import CONNECTOR_COMMANDS, CONNECTOR_EVENTS
from syncline_platform import inbox, outbox
from syncline_platform.consumer import current_envelope
from syncline_platform.db import Conn
from syncline_platform.errors import TerminalError
from syncline_platform.kafka import subscription
from syncline_platform.rejections import rejection
from syncline_platform.secrets import Sealer
from syncline_platform.service import ServiceApp
from syncline_policy import service

log = structlog.get_logger(__name__)
SOURCE = "/syncline/policy"


async def _outcome(conn: Conn, command: ConnectorCommand, *, sealer: Sealer) -> Message:
    org_id = current_envelope().org_id
    try:
        async with conn.transaction():  # a savepoint: a rejected command leaves no half-written state
            match command:
                case UpsertConnector():
                    return await service.upsert_connector(conn, org_id=org_id, cmd=command)
                case ConfigureConnector():
                    return await service.configure_connector(conn, org_id=org_id, cmd=command, sealer=sealer)
                case UpdateConnector():
                    return await service.update_connector(conn, org_id=org_id, cmd=command)
                case DeleteConnector():
                    return await service.delete_connector(conn, org_id=org_id, cmd=command)
    except TerminalError as exc:
        return rejection(command, exc)


def register(app: ServiceApp) -> None:
    """Subscribe the policy handlers."""
    kafka = app.settings.kafka
    sealer = Sealer(app.settings.secret_key)

    @app.broker.subscriber(
        CONNECTOR_COMMANDS.qualified(kafka.topic_prefix),
        **subscription(kafka, topic=CONNECTOR_COMMANDS, service="policy"),
    )  # type: ignore[untyped-decorator]
    async def handle_connector_command(command: ConnectorCommand) -> None:
        envelope = current_envelope()
        async with app.pool.acquire() as conn, conn.transaction():
            if not await inbox.claim(conn, consumer="policy", message_id=envelope.ce_id):
                log.info("command.duplicate")
                return
            event = await _outcome(conn, command, sealer=sealer)
            await outbox.enqueue(
                conn,
                topic=CONNECTOR_EVENTS,
                message=event,
                envelope=envelope.caused(ce_type=event.wire_type(), ce_source=SOURCE),
            )
            if isinstance(event, CommandRejected):
                log.info("command.rejected", code=event.code, reason=event.reason)
            else:
                log.info("command.applied", outcome=event.wire_type(), connector_id=command.connector_id)
