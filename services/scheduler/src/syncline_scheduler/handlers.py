"""Scheduler's subscribers.

Consumes `syncline.runs.commands.v1` (create, cancel a run or one of its objects), `syncline.syncs.events.v1` (a
sync's schedules and retry policy, deleted bulk syncs), `syncline.connectors.events.v1` (deleted connectors) and
`syncline.runs.events.v1` (finished runs: failures, retries, continuous schedules); produces
`syncline.runs.events.v1`, `syncline.runs.requests.v1` and `syncline.syncs.events.v1` (among them
`SyncRunsDeleted`, caused by the deletion it answers); writes `scheduler.*`.
"""

from datetime import datetime
from typing import Any

import structlog
from faststream import AckPolicy
from pydantic import TypeAdapter

from syncline_contracts.connectors import ConnectorDeleted
from syncline_contracts.runs import (
    TERMINAL_RUN_EVENTS,
    CancelRun,
    CancelRunObject,
    CheckInRun,
    ClaimRun,
    CreateSyncJob,
    DeleteRun,
    FailRun,
    ReportRunStats,
    RunCommand,
)
from syncline_contracts.schedules import SchedulesConfigured
from syncline_contracts.syncs import BulkSyncDeleted
from syncline_contracts.topics import CONNECTOR_EVENTS, RUN_COMMANDS, RUN_EVENTS, RUN_REQUESTS, SYNC_EVENTS, Topic
from syncline_platform import inbox, outbox
from syncline_platform.consumer import current_envelope
from syncline_platform.db import Conn
from syncline_platform.errors import TerminalError
from syncline_platform.kafka import subscription
from syncline_platform.rejections import rejection
from syncline_platform.service import ServiceApp
from syncline_platform.settings import KafkaSettings
from syncline_scheduler import schedules, service, workers
from syncline_scheduler.service import SOURCE, Clock, Outcome
from syncline_scheduler.settings import SchedulerSettings
from syncline_scheduler.ticker import Ticker

log = structlog.get_logger(__name__)

_HEARTBEAT_MS = 500
"""Replicas joining or leaving rebalance within a second instead of several: the scheduler's three consumer
groups would otherwise hold a starting replica for a few 3-second heartbeats each."""


def _selective(kafka: KafkaSettings, *, topic: Topic, group: str) -> dict[str, Any]:
    """A subscription to a topic most of whose messages the scheduler ignores: its handler commits the offset
    itself, after the transaction of a message it acted on (a commit covers the ignored messages before it), so
    ignored messages cost no commit each; after a restart they are read again and ignored again."""
    return subscription(kafka, topic=topic, service=group) | {
        "ack_policy": AckPolicy.MANUAL,
        "heartbeat_interval_ms": _HEARTBEAT_MS,
    }


async def _commit(app: ServiceApp) -> None:
    """Commit the offset of the message being handled (and of those ignored before it) on a `_selective`
    subscription. The message comes from the broker's context: a handler parameter for it would be resolved
    in a worker thread, for every message."""
    await app.broker.context.get_local("message").ack()


_TERMINAL_TYPES = frozenset(m.wire_type() for m in TERMINAL_RUN_EVENTS)
_RUN_ID = TypeAdapter(str)


async def _apply(conn: Conn, command: RunCommand, *, org_id: str, now: datetime) -> Outcome:
    match command:
        case CreateSyncJob():
            outcome = await service.create_run(conn, org_id=org_id, cmd=command, now=now)
        case CancelRun():
            outcome = await service.cancel_run(conn, org_id=org_id, cmd=command, now=now)
        case CancelRunObject():
            outcome = await service.cancel_run_object(conn, org_id=org_id, cmd=command, now=now)
        case DeleteRun():
            outcome = await workers.delete_run(conn, org_id=org_id, cmd=command)
        case ClaimRun():
            outcome = await workers.claim_run(conn, org_id=org_id, cmd=command, now=now)
        case CheckInRun():
            outcome = await workers.check_in_run(conn, org_id=org_id, cmd=command, now=now)
        case ReportRunStats():
            outcome = await workers.report_stats(conn, org_id=org_id, cmd=command, now=now)
        case FailRun():
            outcome = await workers.fail_run(conn, org_id=org_id, cmd=command, now=now)
    return outcome


async def _outcome(conn: Conn, command: RunCommand, clock: Clock) -> Outcome:
    try:
        async with conn.transaction():
            return await _apply(conn, command, org_id=current_envelope().org_id, now=clock())
    except TerminalError as exc:
        return Outcome(event=rejection(command, exc))


def register(app: ServiceApp, *, settings: SchedulerSettings, clock: Clock, ticker: Ticker) -> None:
    """Subscribe the scheduler handlers."""
    _run_commands(app, clock=clock)
    _sync_events(app, clock=clock, ticker=ticker)
    _run_events(app, settings=settings, clock=clock, ticker=ticker)
    _connector_events(app)


def _run_commands(app: ServiceApp, *, clock: Clock) -> None:
    kafka = app.settings.kafka

    @app.broker.subscriber(
        RUN_COMMANDS.qualified(kafka.topic_prefix),
        **subscription(kafka, topic=RUN_COMMANDS, service="scheduler"),
        heartbeat_interval_ms=_HEARTBEAT_MS,
    )  # type: ignore[untyped-decorator]
    async def handle_run_command(command: RunCommand) -> None:
        envelope = current_envelope()
        async with app.pool.acquire() as conn, conn.transaction():
            if not await inbox.claim(conn, consumer="scheduler", message_id=envelope.ce_id):
                log.info("command.duplicate")
                return
            outcome = await _outcome(conn, command, clock)
            await service.publish(conn, outcome.before)
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


def _sync_events(app: ServiceApp, *, clock: Clock, ticker: Ticker) -> None:
    kafka = app.settings.kafka

    @app.broker.subscriber(
        SYNC_EVENTS.qualified(kafka.topic_prefix),
        **_selective(kafka, topic=SYNC_EVENTS, group="scheduler-syncs"),
    )  # type: ignore[untyped-decorator]
    async def handle_sync_event(body: dict[str, Any]) -> None:
        envelope = current_envelope()
        if envelope.ce_type == BulkSyncDeleted.wire_type():
            await _sync_deleted(app, BulkSyncDeleted.model_validate(body), clock=clock)
            return
        if envelope.ce_type != SchedulesConfigured.wire_type():
            return  # other outcomes on the topic (policy's answers, the scheduler's own reports)
        event = SchedulesConfigured.model_validate(body)
        first = None
        async with app.pool.acquire() as conn, conn.transaction():
            if await inbox.claim(conn, consumer="scheduler", message_id=envelope.ce_id):
                first = await schedules.configure(conn, org_id=envelope.org_id, event=event, now=clock())
                if event.stop_runs and not event.active:
                    stopped = await service.stop_runs(conn, org_id=envelope.org_id, sync_id=event.sync_id, now=clock())
                    await service.publish(conn, stopped)
                log.info("schedules.configured", sync_id=event.sync_id, active=event.active)
        await _commit(app)
        ticker.due_by(first)


def _connector_events(app: ServiceApp) -> None:
    kafka = app.settings.kafka

    @app.broker.subscriber(
        CONNECTOR_EVENTS.qualified(kafka.topic_prefix),
        **_selective(kafka, topic=CONNECTOR_EVENTS, group="scheduler-connectors"),
    )  # type: ignore[untyped-decorator]
    async def handle_connector_event(body: dict[str, Any]) -> None:
        envelope = current_envelope()
        if envelope.ce_type != ConnectorDeleted.wire_type():
            return  # the scheduler only acts on deletions
        event = ConnectorDeleted.model_validate(body)
        if event.delete_sync_jobs:
            async with app.pool.acquire() as conn, conn.transaction():
                if await inbox.claim(conn, consumer="scheduler", message_id=envelope.ce_id):
                    emitted = await service.connector_runs_deleted(
                        conn, org_id=envelope.org_id, connector_id=event.connector_id, cause=envelope
                    )
                    await service.publish(conn, emitted)
                    log.info("runs.deleted_with_connector", sync_id=event.connector_id)
        await _commit(app)


async def _sync_deleted(app: ServiceApp, event: BulkSyncDeleted, *, clock: Clock) -> None:
    """A deleted bulk sync: its waiting runs end canceled, running ones are asked to stop (they keep their
    record until they have), and the history of finished runs is deleted; `SyncRunsDeleted` says so."""
    envelope = current_envelope()
    async with app.pool.acquire() as conn, conn.transaction():
        if await inbox.claim(conn, consumer="scheduler", message_id=envelope.ce_id):
            emitted = await service.sync_deleted(
                conn, org_id=envelope.org_id, sync_id=event.sync_id, now=clock(), cause=envelope
            )
            await service.publish(conn, emitted)
            log.info("runs.sync_deleted", sync_id=event.sync_id, events=len(emitted))
    await _commit(app)


def _run_events(app: ServiceApp, *, settings: SchedulerSettings, clock: Clock, ticker: Ticker) -> None:
    kafka = app.settings.kafka

    @app.broker.subscriber(
        RUN_EVENTS.qualified(kafka.topic_prefix),
        **_selective(kafka, topic=RUN_EVENTS, group="scheduler-runs"),
    )  # type: ignore[untyped-decorator]
    async def handle_run_event(body: dict[str, Any]) -> None:
        envelope = current_envelope()
        if envelope.ce_type not in _TERMINAL_TYPES:
            return  # created, started, progress: nothing to account for
        run_id = _RUN_ID.validate_python(body.get("run_id"))
        settled = service.Settled()
        async with app.pool.acquire() as conn, conn.transaction():
            if await inbox.claim(conn, consumer="scheduler", message_id=envelope.ce_id):
                settled = await service.settle_run(conn, run_id=run_id, now=clock(), settings=settings, cause=envelope)
                await service.publish(conn, settled.emits)
        await _commit(app)
        ticker.due_by(settled.due_at)
