"""Executor's subscribers.

Consumes `syncline.runs.requests.v1` (runs to move), `syncline.syncs.events.v1` and
`syncline.connectors.events.v1` (deleted syncs and connectors, and terminated DRS jobs, give their replication
slots back); produces `syncline.runs.events.v1`; writes `executor.*` and moves runs through the run ledger's
guarded transitions.
"""

from typing import Any

import structlog

from syncline_connectors.elastic import elastic_sync_key
from syncline_contracts.connectors import ConnectorDeleted
from syncline_contracts.drs_jobs import DrsJobReleased
from syncline_contracts.runs import RunRequest, RunStarted
from syncline_contracts.syncs import BulkSyncDeleted
from syncline_contracts.topics import CONNECTOR_EVENTS, RUN_EVENTS, RUN_REQUESTS, SYNC_EVENTS
from syncline_executor import repository
from syncline_executor.errors import DrainingError
from syncline_executor.releases import StreamReleases
from syncline_executor.service import SOURCE, RunExecutor
from syncline_platform import inbox, outbox
from syncline_platform.consumer import current_envelope
from syncline_platform.kafka import subscription
from syncline_platform.service import ServiceApp

log = structlog.get_logger(__name__)


def register(app: ServiceApp, *, runs: RunExecutor, releases: StreamReleases) -> None:
    """Subscribe the executor handlers."""
    _run_requests(app, runs=runs)
    _deletions(app, releases=releases)


def _deletions(app: ServiceApp, *, releases: StreamReleases) -> None:
    kafka = app.settings.kafka

    async def release(*, org_id: str, sync_id: str, state_key: str) -> None:
        """Record the release (the release loop does it, again until done) and wake the loop."""
        async with app.pool.acquire() as conn:
            await repository.request_release(conn, org_id=org_id, sync_id=state_key, run_sync_id=sync_id)
        log.info("sync.release_requested", sync_id=sync_id)
        releases.wake()

    @app.broker.subscriber(
        SYNC_EVENTS.qualified(kafka.topic_prefix), **subscription(kafka, topic=SYNC_EVENTS, service="executor-syncs")
    )  # type: ignore[untyped-decorator]
    async def handle_sync_event(body: dict[str, Any]) -> None:
        envelope = current_envelope()
        if envelope.ce_type == BulkSyncDeleted.wire_type():  # the topic's other events are not the executor's
            sync_id = BulkSyncDeleted.model_validate(body).sync_id
            await release(org_id=envelope.org_id, sync_id=sync_id, state_key=sync_id)
        elif envelope.ce_type == DrsJobReleased.wire_type():  # a terminated DRS job gives its slot back
            sync_id = DrsJobReleased.model_validate(body).sync_id
            await release(org_id=envelope.org_id, sync_id=sync_id, state_key=sync_id)

    @app.broker.subscriber(
        CONNECTOR_EVENTS.qualified(kafka.topic_prefix),
        **subscription(kafka, topic=CONNECTOR_EVENTS, service="executor-connectors"),
    )  # type: ignore[untyped-decorator]
    async def handle_connector_event(body: dict[str, Any]) -> None:
        envelope = current_envelope()
        if envelope.ce_type == ConnectorDeleted.wire_type():
            connector_id = ConnectorDeleted.model_validate(body).connector_id
            key = elastic_sync_key(org_id=envelope.org_id, connector_id=connector_id)
            await release(org_id=envelope.org_id, sync_id=connector_id, state_key=key)


def _run_requests(app: ServiceApp, *, runs: RunExecutor) -> None:
    kafka = app.settings.kafka
    worker = app.settings.instance_id

    @app.broker.subscriber(
        RUN_REQUESTS.qualified(kafka.topic_prefix),
        **subscription(kafka, topic=RUN_REQUESTS, service="executor"),
    )  # type: ignore[untyped-decorator]
    async def handle_run_request(request: RunRequest) -> None:
        envelope = current_envelope()
        await runs.slots.acquire()  # a full executor stops consuming; the run waits in Kafka
        if runs.draining:  # stopping: not committed, so the request goes to another replica
            runs.slots.release()
            raise DrainingError
        try:
            async with app.pool.acquire() as conn, conn.transaction():
                if not await inbox.claim(conn, consumer="executor", message_id=envelope.ce_id):
                    log.info("request.duplicate", run_id=request.run_id)
                    runs.slots.release()
                    return
                run = await repository.claim(conn, run_id=request.run_id, worker=worker)
                if run is None:
                    log.info("run.not_claimable", run_id=request.run_id)
                    runs.slots.release()
                    return
                started = RunStarted(run_id=request.run_id, sync_id=request.sync_id, worker=worker)
                await outbox.enqueue(
                    conn,
                    topic=RUN_EVENTS,
                    message=started,
                    envelope=envelope.caused(ce_type=started.wire_type(), ce_source=SOURCE),
                )
        except BaseException:
            runs.slots.release()
            raise
        log.info("run.claimed", run_id=request.run_id)
        runs.spawn(run, envelope)
