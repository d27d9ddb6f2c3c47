"""Scheduler's subscribers.

Consumes `syncline.runs.commands.v1`; produces `syncline.runs.events.v1` and `syncline.runs.requests.v1`;
writes `scheduler.*`.
"""

import structlog

from syncline_contracts.runs import CancelRun, CreateSyncJob, RunCommand
from syncline_contracts.topics import RUN_COMMANDS, RUN_EVENTS, RUN_REQUESTS
from syncline_platform import inbox, outbox
from syncline_platform.consumer import current_envelope
from syncline_platform.db import Conn
from syncline_platform.errors import TerminalError
from syncline_platform.kafka import subscription
from syncline_platform.rejections import rejection
from syncline_platform.service import ServiceApp
from syncline_scheduler import service
from syncline_scheduler.service import Outcome

log = structlog.get_logger(__name__)
SOURCE = "/syncline/scheduler"


async def _outcome(conn: Conn, command: RunCommand) -> Outcome:
    org_id = current_envelope().org_id
    try:
        async with conn.transaction():
            match command:
                case CreateSyncJob():
                    return await service.create_run(conn, org_id=org_id, cmd=command)
                case CancelRun():
                    return await service.cancel_run(conn, org_id=org_id, cmd=command)
    except TerminalError as exc:
        return Outcome(event=rejection(command, exc))


def register(app: ServiceApp) -> None:
    """Subscribe the scheduler handlers."""
    kafka = app.settings.kafka

    @app.broker.subscriber(
        RUN_COMMANDS.qualified(kafka.topic_prefix),
        **subscription(kafka, topic=RUN_COMMANDS, service="scheduler"),
    )  # type: ignore[untyped-decorator]
    async def handle_run_command(command: RunCommand) -> None:
        envelope = current_envelope()
        async with app.pool.acquire() as conn, conn.transaction():
            if not await inbox.claim(conn, consumer="scheduler", message_id=envelope.ce_id):
                log.info("command.duplicate")
                return
            outcome = await _outcome(conn, command)
            event = outcome.event
            await outbox.enqueue(
                conn,
                topic=RUN_EVENTS,
                message=event,
                envelope=envelope.caused(ce_type=event.wire_type(), ce_source=SOURCE),
            )
            if outcome.request is not None:
                request = outcome.request
                await outbox.enqueue(
                    conn,
                    topic=RUN_REQUESTS,
                    message=request,
                    envelope=envelope.caused(ce_type=request.wire_type(), ce_source=SOURCE),
                )
            log.info("command.handled", outcome=event.wire_type(), run_id=command.run_id)
