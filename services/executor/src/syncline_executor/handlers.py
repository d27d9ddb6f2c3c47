"""Executor's subscribers.

Consumes `syncline.runs.requests.v1`; produces `syncline.runs.events.v1`; writes `executor.*` and moves runs
in `scheduler.runs` through guarded transitions.
"""

import structlog

from syncline_contracts.runs import RunRequest, RunStarted
from syncline_contracts.topics import RUN_EVENTS, RUN_REQUESTS
from syncline_executor import repository
from syncline_executor.service import SOURCE, RunExecutor
from syncline_platform import inbox, outbox
from syncline_platform.consumer import current_envelope
from syncline_platform.kafka import subscription
from syncline_platform.service import ServiceApp

log = structlog.get_logger(__name__)


def register(app: ServiceApp, *, runs: RunExecutor) -> None:
    """Subscribe the executor handlers."""
    kafka = app.settings.kafka
    worker = app.settings.instance_id

    @app.broker.subscriber(
        RUN_REQUESTS.qualified(kafka.topic_prefix),
        **subscription(kafka, topic=RUN_REQUESTS, service="executor"),
    )  # type: ignore[untyped-decorator]
    async def handle_run_request(request: RunRequest) -> None:
        envelope = current_envelope()
        await runs.slots.acquire()  # a full executor stops consuming; the run waits in Kafka
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
