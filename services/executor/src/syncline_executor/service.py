"""Running one claimed run: read the source, write the index, check in, honour cancellation, finish.

No broker imports: events go to the outbox in the transaction that changes the run.
"""

import asyncio
import contextlib
import functools
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
from syncline_executor import repository, runlog
from syncline_executor.errors import RunCanceledError, RunEndedElsewhereError, failures_summary
from syncline_executor.pipeline import (
    Pipeline,
    PipelineSettings,
    RunOptions,
    Steering,
    Tally,
)
from syncline_executor.settings import ExecutorSettings
from syncline_platform import outbox, tracing
from syncline_platform.db import Conn
from syncline_platform.errors import is_transient
from syncline_platform.loops import until_done
from syncline_platform.network import NetworkPolicy
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

CANCEL_GRACE_S = 3.0
"""How long a cancelled run's mover may take to unwind before the run is ended canceled regardless."""

SUSPEND_WAIT_S = 20.0
"""How long a stopping executor waits for the database to record a run's suspension (the sweep ends it after)."""


async def _fence(conn: Conn, *, run_id: str, claim: int) -> None:
    await repository.fence(conn, run_id=run_id, claim=claim)


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
    except RunEndedElsewhereError:
        raise  # fenced out at a write: not this executor's run to finish
    except Exception as exc:  # every failure of a run ends it in error with the reason
        log.warning("run.failed", error=str(exc))
        return RunStatus.ERROR, str(exc)
    return RunStatus.COMPLETED, None


def _moved(tally: Tally) -> dict[str, int]:
    """A run's totals as a log line's counts."""
    counters = tally.counters()
    return {
        "rows_read": counters.rows_read,
        "rows_written": counters.indexed_document_count,
        "rows_deleted": counters.deleted_document_count,
        "bytes": counters.indexed_document_volume_bytes or 0,
    }


def _retrieved(task: asyncio.Task[None]) -> None:
    """Log how a run task failed (never "Task exception was never retrieved"); the sweep ends such a run."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("run.task_failed", task=task.get_name(), error=repr(exc), exc_info=exc)


class RunExecutor:
    """Moves the data of claimed runs, each in its own task."""

    def __init__(self, *, app: ServiceApp, settings: ExecutorSettings) -> None:
        self.app = app
        self.settings = settings
        self.sealer = Sealer(settings.secret_key)
        self.own = OwnDatabases.of(settings.own_dsns())
        """Syncline's own databases, which no run's endpoint may reach."""
        self.network = NetworkPolicy(settings.network)
        """The addresses a run's endpoints may resolve to."""
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
        task.add_done_callback(_retrieved)

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
            try:
                async with asyncio.timeout(SUSPEND_WAIT_S):  # a stop does not wait forever on a database away
                    await until_done(functools.partial(self._suspend_once, run, envelope), name="run.suspend")
            except TimeoutError:
                log.error("run.suspend_gave_up", wait_s=SUSPEND_WAIT_S)  # the sweep ends it

    async def _suspend_once(self, run: dict[str, Any], envelope: Envelope) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            moved = await repository.suspend(conn, run_id=run["id"], claim=run["claim_seq"])
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
        journal = runlog.RunLog(pool=self.pool, run=run)
        with (
            structlog.contextvars.bound_contextvars(run_id=run["id"], sync_id=run["sync_id"]),
            tracing.span("executor.run", {"syncline.run_id": run["id"], "syncline.sync_id": run["sync_id"]}),
            runlog.bound(journal),
        ):
            try:
                await journal.write(
                    "info", f"run started on {run['worker_hostname']} (attempt {run.get('attempt') or 1})"
                )
                status, error = await self._supervise(run, tally, envelope)
                if status is RunStatus.COMPLETED and tally.failures:
                    error = _failures_summary(tally.failures)
                await self._finish(run, status, tally, error, envelope)
                await runlog.ended(journal, status=status, counts=_moved(tally), error=error)
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
            except Exception as exc:  # the database away or restarting: the next interval tries again
                if not (isinstance(exc, _CHECK_IN_HICCUPS) or is_transient(exc)):
                    raise
                log.warning("run.check_in_failed", error=repr(exc))  # the sweep judges long silences
                continue
            steering.cancel(checked.canceled_objects)
            if checked.status is RunStatus.CANCELING:
                log.info("run.cancel_noticed")
                mover.cancel()
                return True

    async def _check_in(self, run: dict[str, Any], tally: Tally, envelope: Envelope) -> repository.CheckIn:
        """One check-in, with a progress event at most every second."""
        async with self.pool.acquire() as conn, conn.transaction():
            checked = await repository.check_in(
                conn, run_id=run["id"], claim=run["claim_seq"], counters=tally.counters()
            )
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
                network=self.network,
                docstore_dsn=self.settings.docstore_dsn(),
            ),
            run_id=attempt_of,  # a retry continues its chain's first run: same checkpoints, staging, file names
            tally=tally,
            options=RunOptions.of(run.get("options")),
            steering=steering,
            fence=functools.partial(_fence, run_id=run["id"], claim=run["claim_seq"]),
        )
        await pipeline.run(spec)

    async def _finish(
        self, run: dict[str, Any], target: RunStatus, tally: Tally, error: str | None, envelope: Envelope
    ) -> None:
        """Record the run's end and its terminal event in one transaction, waiting out a database outage (the
        claim fences a retry: once the run ended, `repository.finish` refuses, so it never ends twice)."""
        await until_done(functools.partial(self._finish_once, run, target, tally, error, envelope), name="run.finish")

    async def _finish_once(
        self, run: dict[str, Any], target: RunStatus, tally: Tally, error: str | None, envelope: Envelope
    ) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            final = await repository.finish(
                conn, run_id=run["id"], claim=run["claim_seq"], target=target, counters=tally.counters(), error=error
            )
            if final is None and target is RunStatus.COMPLETED:
                # a cancel request arrived after the last check-in: the data is in place, the run ends canceled
                final = await repository.finish(
                    conn,
                    run_id=run["id"],
                    claim=run["claim_seq"],
                    target=RunStatus.CANCELED,
                    counters=tally.counters(),
                    error=None,
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
