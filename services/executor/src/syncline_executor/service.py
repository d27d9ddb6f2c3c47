"""Running one claimed run: read the source, write the index, check in, honour cancellation, finish.

No broker imports: events go to the outbox in the transaction that changes the run.
"""

import asyncio
import contextlib
import time
from typing import Any

import asyncpg
import structlog

from syncline_connectors.reach import OwnDatabases, org_folder
from syncline_connectors.spec import Discover, SyncSpec, run_spec
from syncline_contracts.base import Message
from syncline_contracts.envelope import Envelope
from syncline_contracts.runs import RunCanceled, RunCompleted, RunFailed, RunProgressed, RunRequested
from syncline_contracts.status import RunStatus
from syncline_contracts.topics import RUN_EVENTS, RUN_REQUESTS
from syncline_executor import repository
from syncline_executor.errors import RunCanceledError, RunEndedElsewhereError, StreamBusyError, failures_summary
from syncline_executor.pipeline import (
    STREAM,
    Pipeline,
    PipelineSettings,
    RunOptions,
    Steering,
    Tally,
    release_stream,
)
from syncline_executor.settings import ExecutorSettings
from syncline_platform import outbox
from syncline_platform.secrets import Sealer
from syncline_platform.service import ServiceApp

log = structlog.get_logger(__name__)
SOURCE = "/syncline/executor"


def subset(spec: SyncSpec, schemas: list[str] | None) -> SyncSpec:
    """The spec with only the named objects (`schema.name` or name); all of them when None or empty."""
    if not schemas:
        return spec
    wanted = set(schemas)
    kept = tuple(o for o in spec.objects if f"{o.schema_name}.{o.name}" in wanted or o.name in wanted)
    return spec.model_copy(update={"objects": kept, "new_objects": Discover.NONE})


def _terminal_event(run: dict[str, Any], status: RunStatus, tally: Tally, error: str | None) -> Message:
    ids = {"run_id": run["id"], "sync_id": run["sync_id"], "counters": tally.counters()}
    if status is RunStatus.COMPLETED:
        return RunCompleted(**ids, object_errors=dict(tally.failures) or None)
    if status is RunStatus.CANCELED:
        return RunCanceled(**ids)
    return RunFailed(**ids, error=error or "unknown error")


def _failures_summary(failures: dict[str, str]) -> str:
    """The error of a run that completed while some objects failed."""
    return f"{len(failures)} object(s) failed: {failures_summary(failures)}"


_CHECK_IN_HICCUPS = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError, TimeoutError)
"""Check-in failures that pass: the database did not answer this time."""

RELEASE_WAIT_S = 60.0
"""How long a deletion waits for the sync's last run to stop before its slot is dropped (then it is retried)."""

CANCEL_GRACE_S = 3.0
"""How long a cancelled run's mover may take to unwind before the run is ended canceled regardless."""


def _heartbeat_failure(heartbeat: asyncio.Task[bool]) -> BaseException | None:
    """Why the heartbeat ended, when it failed (the run's record is gone, the database does not answer)."""
    if not heartbeat.done() or heartbeat.cancelled():
        return None
    return heartbeat.exception()


def _cancel_requested(heartbeat: asyncio.Task[bool]) -> bool:
    return heartbeat.done() and not heartbeat.cancelled() and heartbeat.exception() is None and heartbeat.result()


async def _outcome_of(mover: asyncio.Task[None], heartbeat: asyncio.Task[bool]) -> tuple[RunStatus, str | None]:
    """How a finished (or finishing) mover ends its run."""
    try:
        await mover
    except asyncio.CancelledError:
        if _cancel_requested(heartbeat):
            return RunStatus.CANCELED, None
        raise
    except RunCanceledError:
        return RunStatus.CANCELED, None
    except Exception as exc:  # every failure of a run ends it in error with the reason
        log.warning("run.failed", error=str(exc))
        return RunStatus.ERROR, str(exc)
    return RunStatus.COMPLETED, None


class RunExecutor:
    """Moves the data of claimed runs, each in its own task."""

    def __init__(self, *, app: ServiceApp, settings: ExecutorSettings) -> None:
        self.app = app
        self.settings = settings
        self.sealer = Sealer(settings.secret_key)
        self.own = OwnDatabases.of(settings.own_dsns())
        """Syncline's own databases, which no run's endpoint may reach."""
        self.slots = asyncio.Semaphore(settings.max_concurrent_runs)
        self.draining = False
        """Set when the executor stops: no new run is claimed."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._moving: dict[str, tuple[dict[str, Any], Envelope]] = {}

    @property
    def pool(self) -> asyncpg.Pool:
        """The service pool (once the service started)."""
        return self.app.pool

    def spawn(self, run: dict[str, Any], envelope: Envelope) -> None:
        """Run in the background; the slot taken by the caller is released when the run ends."""
        task = asyncio.create_task(self._execute(run, envelope), name=f"run-{run['id']}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def release_stream(self, *, org_id: str, sync_id: str, state_key: str) -> None:
        """A deleted sync (or connector) gives its replication slot back once its last run has stopped (the
        scheduler stops it on the same deletion); `state_key` is what its stream state is kept under."""
        with structlog.contextvars.bound_contextvars(sync_id=sync_id):
            async with self.pool.acquire() as conn:
                streams = await repository.sync_state(conn, sync_id=state_key, object_key=STREAM) is not None
            if streams:  # only a run of a streaming sync could open its stream again
                await self._wait_for_runs(org_id=org_id, sync_id=sync_id)
            dropped = await release_stream(pool=self.pool, sealer=self.sealer, sync_id=state_key)
            log.info("sync.released", slot_dropped=dropped)

    async def _wait_for_runs(self, *, org_id: str, sync_id: str) -> None:
        deadline = time.monotonic() + RELEASE_WAIT_S
        while True:
            async with self.pool.acquire() as conn:
                if not await repository.has_running_run(conn, org_id=org_id, sync_id=sync_id):
                    return
            if time.monotonic() >= deadline:
                raise StreamBusyError(sync_id=sync_id)  # retried by the consumer, then dead-lettered
            await asyncio.sleep(0.5)

    async def drain(self) -> None:
        """Stop every run in flight and hand it on: each becomes `suspended` (Elastic's word for it) and is
        requested again, so another executor resumes it from its checkpoints without spending a retry."""
        self.draining = True
        moving = dict(self._moving)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for run, envelope in moving.values():
            await self._suspend(run, envelope)

    async def _suspend(self, run: dict[str, Any], envelope: Envelope) -> None:
        with structlog.contextvars.bound_contextvars(run_id=run["id"], sync_id=run["sync_id"]):
            async with self.pool.acquire() as conn, conn.transaction():
                moved = await repository.suspend(conn, run_id=run["id"], worker=run["worker_hostname"])
                if not moved:
                    return  # it ended, or was canceled, meanwhile
                again = RunRequested(run_id=run["id"], sync_id=run["sync_id"], job_type=run["job_type"])
                await outbox.enqueue(
                    conn,
                    topic=RUN_REQUESTS,
                    message=again,
                    envelope=envelope.caused(ce_type=again.wire_type(), ce_source=SOURCE),
                )
            log.info("run.suspended")

    async def _execute(self, run: dict[str, Any], envelope: Envelope) -> None:
        tally = Tally()
        self._moving[run["id"]] = (run, envelope)
        with structlog.contextvars.bound_contextvars(run_id=run["id"], sync_id=run["sync_id"]):
            try:
                status, error = await self._supervise(run, tally, envelope)
                if status is RunStatus.COMPLETED and tally.failures:
                    error = _failures_summary(tally.failures)
                await self._finish(run, status, tally, error, envelope)
            except RunEndedElsewhereError as exc:
                log.warning("run.ended_elsewhere", status=exc.status, worker=exc.worker)
            finally:
                self._moving.pop(run["id"], None)
                self.slots.release()

    async def _supervise(self, run: dict[str, Any], tally: Tally, envelope: Envelope) -> tuple[RunStatus, str | None]:
        steering = Steering(frozenset(run.get("canceled_objects") or ()))
        mover = asyncio.create_task(self._move(run, tally, steering))
        heartbeat = asyncio.create_task(self._heartbeat(run, tally, envelope, mover, steering))
        try:
            done, _ = await asyncio.wait({mover, heartbeat}, return_when=asyncio.FIRST_COMPLETED)
            lost = _heartbeat_failure(heartbeat) if mover not in done else None
            if lost is not None:
                # no check-in means no cancel and no liveness: the mover stops rather than run unsupervised
                log.warning("run.heartbeat_failed", error=str(lost))
                mover.cancel()
                await asyncio.wait({mover}, timeout=CANCEL_GRACE_S)
                if isinstance(lost, RunEndedElsewhereError):
                    raise lost  # not this executor's to finish any more
                return RunStatus.ERROR, f"the run stopped checking in: {lost}"
            if mover not in done and _cancel_requested(heartbeat):
                # the heartbeat cancelled the mover: it gets a bounded time to unwind its connections, and the
                # run ends canceled either way (a cancel must not wait on a stuck source or destination)
                await asyncio.wait({mover}, timeout=CANCEL_GRACE_S)
                if not mover.done():
                    log.warning("run.cancel_unwinding_slowly", grace_s=CANCEL_GRACE_S)
                return RunStatus.CANCELED, None
            return await _outcome_of(mover, heartbeat)
        finally:
            for task in (heartbeat, mover):
                if not task.done() and (task is heartbeat or not _cancel_requested(heartbeat)):
                    task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await heartbeat

    async def _heartbeat(
        self, run: dict[str, Any], tally: Tally, envelope: Envelope, mover: asyncio.Task[None], steering: Steering
    ) -> bool:
        """Check in every interval; passes per-object cancels on, cancels the mover and returns True when the run
        became canceling."""
        while True:
            await asyncio.sleep(self.settings.checkin_interval_s)
            try:
                checked = await self._check_in(run, tally, envelope)
            except _CHECK_IN_HICCUPS as exc:  # the next interval tries again; the sweep judges long silences
                log.warning("run.check_in_failed", error=str(exc))
                continue
            if checked.status.terminal or checked.worker != run["worker_hostname"]:
                # ended elsewhere (the sweep, a failure report) or claimed again by another executor: this mover
                # must stop writing before the run's next attempt starts on the same staging and checkpoints
                raise RunEndedElsewhereError(run_id=run["id"], status=checked.status, worker=checked.worker)
            steering.cancel(checked.canceled_objects)
            if checked.status is RunStatus.CANCELING:
                log.info("run.cancel_noticed")
                mover.cancel()
                return True

    async def _check_in(self, run: dict[str, Any], tally: Tally, envelope: Envelope) -> repository.CheckIn:
        """One check-in, with a progress event at most every second."""
        async with self.pool.acquire() as conn, conn.transaction():
            checked = await repository.check_in(conn, run_id=run["id"], counters=tally.counters())
            if time.monotonic() - tally.last_progress >= 1.0:
                tally.last_progress = time.monotonic()
                progress = RunProgressed(run_id=run["id"], sync_id=run["sync_id"], counters=tally.counters())
                await outbox.enqueue(
                    conn,
                    topic=RUN_EVENTS,
                    message=progress,
                    envelope=envelope.caused(ce_type=progress.wire_type(), ce_source=SOURCE),
                )
        self.app.metrics.run_progress(run=run, counters=tally.counters())
        return checked

    @staticmethod
    def _spec(run: dict[str, Any]) -> SyncSpec:
        """The compiled spec the run carries (whatever the dialect), narrowed to the run's `schemas` option."""
        return subset(run_spec(run["connector"]), (run.get("options") or {}).get("schemas"))

    async def _move(self, run: dict[str, Any], tally: Tally, steering: Steering) -> None:
        spec = self._spec(run)
        async with self.pool.acquire() as conn:
            attempt_of = await repository.retry_root(conn, run=run)
        pipeline = Pipeline(
            pool=self.pool,
            sealer=self.sealer,
            settings=PipelineSettings(
                batch_rows=self.settings.batch_rows,
                queue_pieces=self.settings.queue_pieces,
                files_root=org_folder(self.settings.files.root, run["org_id"]),  # the organisation's own folder
                own=self.own,
                docstore_dsn=self.settings.docstore_dsn(),
            ),
            run_id=attempt_of,  # a retry continues its chain's first run: same checkpoints, staging, file names
            tally=tally,
            options=RunOptions.of(run.get("options")),
            steering=steering,
        )
        await pipeline.run(spec)

    async def _finish(
        self, run: dict[str, Any], target: RunStatus, tally: Tally, error: str | None, envelope: Envelope
    ) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            final = await repository.finish(
                conn, run_id=run["id"], target=target, counters=tally.counters(), error=error
            )
            if final is None and target is RunStatus.COMPLETED:
                # a cancel request arrived after the last check-in: the data is in place, the run ends canceled
                final = await repository.finish(
                    conn, run_id=run["id"], target=RunStatus.CANCELED, counters=tally.counters(), error=None
                )
            if final is None:
                log.warning(
                    "run.finish_refused",
                    target=target,
                    status=await repository.current_status(conn, run_id=run["id"]),
                )
                return
            event = _terminal_event(run, final, tally, error)
            self.app.metrics.run_finished(run=run, status=final, counters=tally.counters())
            await outbox.enqueue(
                conn,
                topic=RUN_EVENTS,
                message=event,
                envelope=envelope.caused(ce_type=event.wire_type(), ce_source=SOURCE),
            )
        log.info("run.finished", status=final, indexed=tally.indexed, deleted=tally.deleted)
