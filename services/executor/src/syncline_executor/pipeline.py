"""Running a `SyncSpec`: open the connectors, plan the objects, move each through a bounded queue, checkpoint.

Per object, a reader task pushes pieces and batch marks into a bounded queue and the writer consumes it; after
every batch the writer acknowledges, the position and the object's counters are stored in `executor.checkpoints`
(and, for incremental reads and change streams, the sync's position in `executor.sync_state` in the same
transaction), so a retried run resumes after the last durable batch. A replication slot advances only after its
position is stored. Cancellation arrives as task cancellation; an object interrupted that way is aborted.

Fencing: a run's pipeline carries its claim's fence (`Fence`), checked in the transaction of every checkpoint and
sync-state write, so a mover whose claim was lost (the sweep ended the run, another executor claimed it) stops at
its next batch and writes nothing more. A destination commit (a batch's end mark reaching the writer, an object's
close) is fenced by a `Hold`: the fence is taken in a transaction of the executor's own database when the end
mark is handed over and that transaction stays open, the run's record share-locked, until the batch's checkpoint
is written in it. The destination commits in between, so no sweep or new claim can take the run between the check
and the commit: it waits until the batch is both written and checkpointed, and the next mover resumes after it.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from syncline_connectors import planning
from syncline_connectors.capabilities import (
    ChangeStreamReader,
    ChangeWriter,
    Committed,
    Encoding,
    Item,
    Mark,
    ObjectPlan,
    Position,
    Sampler,
    WriteOptions,
)
from syncline_connectors.pgoutput import lsn_int
from syncline_connectors.postgres import PostgresConfig, PostgresSource, slot_name
from syncline_connectors.postgres_dest import PostgresDestination
from syncline_connectors.reach import OwnDatabases, Reach
from syncline_connectors.registry import Destination, Source, destination_for, source_for
from syncline_connectors.spec import DestinationType, Endpoint, Mode, SyncSpec
from syncline_contracts.runs import ReplicationLag, RunCounters
from syncline_executor import repository, runlog
from syncline_executor.errors import ObjectsFailedError, RunEndedElsewhereError, RunGoneError, StreamBusyError
from syncline_executor.repository import ObjectCheckpoint
from syncline_platform import tracing
from syncline_platform.db import Conn
from syncline_platform.errors import InvalidError, RetryableError
from syncline_platform.network import NetworkPolicy
from syncline_platform.secrets import Sealer

log = structlog.get_logger(__name__)

Fence = Callable[[Conn], Awaitable[None]]
"""Raises (`RunEndedElsewhereError`) unless the run's claim still holds it; called in the transaction of the write
it guards, or just before a destination commits."""

STREAM = "__stream__"
"""The checkpoint and sync-state key of a sync's change stream."""
READER_STOP_S = 5.0
"""How long a stopped reader may take to end before it is left behind (`_stop_reader`)."""


@dataclass
class ObjectCounters:
    """What one object moved in a run."""

    rows_read: int = 0
    rows_written: int = 0
    rows_deleted: int = 0
    bytes: int = 0
    total: int | None = None


@dataclass
class Tally:
    """Counters of a run in flight, per object and summed."""

    objects: dict[str, ObjectCounters] = field(default_factory=dict)
    deleted_extra: int = 0
    total: int | None = None
    last_progress: float = field(default_factory=time.monotonic)
    failures: dict[str, str] = field(default_factory=dict)
    """Objects that failed while the others moved, with their errors."""
    lag: ReplicationLag | None = None
    """A change stream's lag, as of its last applied batch."""

    def of(self, key: str) -> ObjectCounters:
        """The counters of one object."""
        return self.objects.setdefault(key, ObjectCounters())

    @property
    def rows_read(self) -> int:
        """Rows read from the source."""
        return sum(o.rows_read for o in self.objects.values())

    @property
    def indexed(self) -> int:
        """Rows written to the destination."""
        return sum(o.rows_written for o in self.objects.values())

    @property
    def deleted(self) -> int:
        """Rows deleted from the destination."""
        return sum(o.rows_deleted for o in self.objects.values()) + self.deleted_extra

    def counters(self) -> RunCounters:
        """A frozen snapshot for events and check-ins."""
        return RunCounters(
            rows_read=self.rows_read,
            indexed_document_count=self.indexed,
            deleted_document_count=self.deleted,
            indexed_document_volume_bytes=sum(o.bytes for o in self.objects.values()),
            total_document_count=self.total,
            replication_lag=self.lag,
        )


TEST_ROWS = 5
"""Rows a test run reads per object (Polytomic: "syncs up to 5 records per schema")."""


@dataclass(frozen=True)
class RunOptions:
    """How one run departs from its sync's usual run (Polytomic's start options)."""

    test: bool = False
    """Validate the sync: open both sides, plan every object, read up to `TEST_ROWS` rows of each; write nothing
    and move no stored position."""
    fresh: bool = False
    """Read everything again, ignoring stored positions (`fetch_mode=full`, any `resync_mode`); a change stream
    starts over with a new snapshot."""
    replace: bool = False
    """Replace each destination object rather than merge into it (`resync`, `rebuild`)."""
    rebuild: bool = False
    """Drop what the destination kept of earlier runs (`rebuild`): a files destination keeps only this run's file
    per object. (Tables are recreated by every full load already: staging, then swap.)"""

    @classmethod
    def of(cls, options: dict[str, Any] | None) -> "RunOptions":
        """The options kept on a run."""
        options = options or {}
        resync = options.get("resync_mode")
        return cls(
            test=bool(options.get("test")),
            fresh=resync is not None or options.get("fetch_mode") == "full",
            replace=resync in ("resync", "rebuild"),
            rebuild=resync == "rebuild",
        )


class Steering:
    """Per-object cancels, asked for while the run moves: an object not started yet is skipped, one in flight has
    its task cancelled (and is aborted like any interrupted object)."""

    def __init__(self, canceled: frozenset[str] = frozenset()) -> None:
        self.canceled: set[str] = set(canceled)
        self._moving: dict[str, tuple[ObjectPlan, asyncio.Task[None]]] = {}

    def wants_stopped(self, plan: ObjectPlan) -> bool:
        """Was the object (by `schema.name` or name) cancelled?"""
        return plan.key in self.canceled or plan.name in self.canceled

    def cancel(self, objects: frozenset[str]) -> None:
        """Cancel these objects (those already cancelled are left as they are)."""
        fresh = objects - self.canceled
        if not fresh:
            return
        self.canceled |= fresh
        for plan, task in self._moving.values():
            if plan.key in fresh or plan.name in fresh:  # not again for one already stopping (it may be cleaning up)
                log.info("object.cancel_noticed", object=plan.key)
                task.cancel()

    @contextlib.contextmanager
    def moving(self, plan: ObjectPlan, task: asyncio.Task[None]) -> Iterator[None]:
        """While an object's task runs, a cancel for it reaches it."""
        self._moving[plan.key] = (plan, task)
        try:
            yield
        finally:
            self._moving.pop(plan.key, None)


@dataclass(frozen=True)
class PipelineSettings:
    """Knobs of the data plane."""

    batch_rows: int = 100_000
    """Rows per source batch (and per checkpoint)."""
    queue_pieces: int = 16
    """Pieces buffered between reader and writer."""
    files_root: Path | None = None
    """The folder every files source and destination must lie in (the run's organisation's folder under
    `SYNCLINE_FILES__ROOT`); without one, runs with file connections fail."""
    own: OwnDatabases = field(default_factory=OwnDatabases)
    """Syncline's own databases, which no endpoint of a run may reach (`postgres.connect` refuses them)."""
    network: NetworkPolicy | None = None
    """The addresses a run's endpoints may resolve to (`SYNCLINE_NETWORK__*`)."""
    docstore_dsn: str | None = None
    """The document store that specs name without addressing (`SYNCLINE_DOCSTORE_URL`): the executor's own."""
    follow_poll_s: float = 0.25
    """How long a following change stream (`SyncSpec.follow`) waits after reaching the end of the log."""


class Hold:
    """One object's fence held across a destination commit (see the module docstring): `take` before the
    destination commits, then the checkpoint of what it committed is written on `conn` and `release(commit=True)`
    ends the transaction. Never taken without a fence (a pipeline run outside a claim)."""

    def __init__(self, pool: asyncpg.Pool, fence: Fence | None) -> None:
        self._pool = pool
        self._fence = fence
        self._conn: Any = None
        self._transaction: Any = None

    @property
    def conn(self) -> Conn | None:
        """The held transaction's connection, if one is held."""
        return self._conn  # type: ignore[no-any-return]

    async def take(self) -> None:
        """Check the fence and keep it (a no-op when held already or there is no fence)."""
        if self._fence is None or self._conn is not None:
            return
        self._conn = await self._pool.acquire()
        self._transaction = self._conn.transaction()
        try:
            await self._transaction.start()
            await self._fence(self._conn)
        except BaseException:
            await self.release(commit=False)
            raise

    async def release(self, *, commit: bool) -> None:
        """End the held transaction (committing what was written on it, or not) and give the connection back."""
        conn, transaction, self._conn, self._transaction = self._conn, self._transaction, None, None
        if conn is None:
            return
        try:
            if transaction is not None and commit:
                await transaction.commit()
            elif transaction is not None:
                with contextlib.suppress(Exception):
                    await transaction.rollback()
        finally:
            await self._pool.release(conn)


class _End:
    """The reader finished."""


@dataclass(frozen=True)
class _Failed:
    error: BaseException


class Pipeline:
    """Moves the data of one run."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        sealer: Sealer | None,
        settings: PipelineSettings,
        run_id: str,
        tally: Tally,
        options: RunOptions | None = None,
        steering: Steering | None = None,
        fence: Fence | None = None,
    ) -> None:
        self.pool = pool
        self.fence = fence
        self.sealer = sealer
        self.settings = settings
        self.run_id = run_id
        self.tally = tally
        self.options = options or RunOptions()
        self.steering = steering or Steering()

    async def _fenced(self, conn: Conn) -> None:
        if self.fence is not None:
            await self.fence(conn)

    async def _guard(self) -> None:
        """Check the fence before something that is not checkpointed (a replication slot dropped)."""
        if self.fence is not None:
            async with self.pool.acquire() as conn:
                await self.fence(conn)

    @contextlib.asynccontextmanager
    async def _holding(self) -> AsyncIterator[Hold]:
        """A `Hold` for one object's writes, released (not committed) however they end."""
        hold = Hold(self.pool, self.fence)
        try:
            yield hold
        finally:
            await hold.release(commit=False)

    async def _set_stream(self, spec: SyncSpec, state: dict[str, Any] | None) -> None:
        """Store (or forget) the sync's change-stream state, fenced."""
        async with self.pool.acquire() as conn, conn.transaction():
            await self._fenced(conn)
            await repository.set_sync_state(conn, sync_id=spec.sync_id, object_key=STREAM, state=state)

    def opened(self, endpoint: Endpoint) -> dict[str, Any]:
        """An endpoint's configuration with its secrets opened (only ever in memory, only here)."""
        if not endpoint.sealed_secrets:
            return dict(endpoint.config)
        if self.sealer is None:
            raise InvalidError("sealed secrets but no SYNCLINE_SECRET_KEY to open them")
        return dict(endpoint.config) | {k: self.sealer.open(v) for k, v in endpoint.sealed_secrets.items()}

    def _sides(self, spec: SyncSpec) -> tuple[Source, Destination]:
        """The spec's source and destination (not yet entered), file folders confined to the files root."""
        reach = Reach(files=self.settings.files_root, own=self.settings.own, network=self.settings.network)
        source = source_for(spec, self.opened(spec.source), batch_rows=self.settings.batch_rows, reach=reach)
        destination = destination_for(
            spec,
            self.opened(spec.destination),
            run_id=self.run_id,
            reach=reach,
            docstore_dsn=self.settings.docstore_dsn,
        )
        return source, destination

    async def run(self, spec: SyncSpec) -> None:
        """Move everything `spec` selects."""
        source, destination = self._sides(spec)
        async with source, destination:
            plans = await self._plans(spec, source, destination)
            if self.options.test:
                await self._sample(spec, source, destination, plans)
                return
            async with self.pool.acquire() as conn:
                done = await repository.checkpoints(conn, run_id=self.run_id)
            self._restore(done)
            streams = spec.mode is Mode.REPLICATE and _streams(source, destination)
            if not streams or (self.options.fresh and not done):
                # a fresh run of a stream starts it over (once: a resumed attempt keeps what the first one began)
                await self._drop_stream(spec, source)
            if streams:
                await self._replicate(spec, source, destination, plans, done)
            else:
                await self._objects(spec, plans, done, sides=(source, destination))
            self._all_failed(plans)
            await self._finish(destination)

    async def _objects(
        self,
        spec: SyncSpec,
        plans: list[ObjectPlan],
        done: dict[str, ObjectCheckpoint],
        *,
        sides: tuple[Source, Destination],
    ) -> None:
        """Move the objects, up to the sync's concurrency at a time: the first mover uses the run's open source
        and destination, each other mover opens its own pair."""
        mode = Mode.SNAPSHOT if self.options.replace else spec.mode
        pending = iter(plans)

        async def mover(source: Source, destination: Destination) -> None:
            for plan in pending:
                await self._isolated(spec, plan, checkpoint=done.get(plan.key), sides=(source, destination), mode=mode)

        async def another_mover() -> None:
            source, destination = self._sides(spec)
            async with source, destination:
                await mover(source, destination)

        limit = spec.resync_concurrency if self.options.fresh and spec.resync_concurrency else spec.concurrency
        movers = min(limit, len(plans))
        if movers <= 1:
            await mover(*sides)
            return
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(mover(*sides))
                for _ in range(movers - 1):
                    group.create_task(another_mover())
        except ExceptionGroup as failed:  # the first failure is the run's error
            raise failed.exceptions[0] from None

    async def _isolated(
        self,
        spec: SyncSpec,
        plan: ObjectPlan,
        *,
        checkpoint: ObjectCheckpoint | None,
        sides: tuple[Source, Destination],
        mode: Mode,
    ) -> None:
        """Move one object in a task a per-object cancel can reach; with `isolate_failures`, its failure is
        recorded and the run goes on."""
        if checkpoint is not None and checkpoint.outcome == "canceled":
            return
        if self.steering.wants_stopped(plan):
            await self._end_object(spec, plan, outcome="canceled")
            return

        async def move() -> None:
            await self._object(spec, source=sides[0], destination=sides[1], plan=plan, checkpoint=checkpoint, mode=mode)

        task = asyncio.create_task(move(), name=f"object-{plan.key}")
        with self.steering.moving(plan, task):
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # the whole run is stopping
                await self._end_object(spec, plan, outcome="canceled")
            except (RunEndedElsewhereError, RunGoneError):
                raise  # fenced out: not this mover's to record anything more
            except Exception as exc:
                if not spec.isolate_failures or _transient(exc):
                    raise  # a passing failure is the run's: its retry policy tries the whole run again
                log.warning("object.failed", object=plan.key, error=str(exc))
                self.tally.failures[plan.key] = str(exc)
                await self._end_object(spec, plan, outcome="failed", error=str(exc))
            else:
                return
        await self._recover(plan, *sides)

    @staticmethod
    async def _recover(plan: ObjectPlan, source: Source, destination: Destination) -> None:
        """After an interrupted object, the next one gets fresh connections, and the interrupted object's
        leftovers (a staging table) go."""
        for side in (source, destination):
            recover = getattr(side, "recover", None)
            if recover is not None:
                await recover()
        with contextlib.suppress(Exception):
            await destination.abort_object(plan)

    async def _end_object(self, spec: SyncSpec, plan: ObjectPlan, *, outcome: str, error: str | None = None) -> None:
        """Record an object that ended without moving all its data (a cancelled one counts as done: a retry of
        the run leaves it alone)."""
        log.info("object.ended", object=plan.key, outcome=outcome)
        await self._checkpoint(
            spec, plan.key, self.tally.of(plan.key), None, done=outcome == "canceled", outcome=outcome, error=error
        )
        counts = runlog.object_counts(self.tally.of(plan.key))
        message = f"{plan.key} {outcome}" + (f": {error}" if error else "")
        await runlog.note("error" if outcome == "failed" else "warning", message, object_key=plan.key, counts=counts)

    def _all_failed(self, plans: list[ObjectPlan]) -> None:
        """A run whose every object failed fails (one that moved anything completes, with errors)."""
        if self.tally.failures and all(p.key in self.tally.failures for p in plans):
            raise ObjectsFailedError(dict(self.tally.failures))

    async def _sample(self, spec: SyncSpec, source: Source, destination: Destination, plans: list[ObjectPlan]) -> None:
        """A test run: the destination answers, a few rows of every object are read; nothing is written and no
        stored position moves."""
        if not isinstance(source, Sampler):
            raise InvalidError(f"test executions cannot read {type(source).__name__} sources")
        check = getattr(destination, "check", None)
        if check is not None:
            await check()
        for plan in plans:
            rows = await source.sample(plan, limit=TEST_ROWS)
            counters = self.tally.of(plan.key)
            counters.rows_read = len(rows)
            await self._checkpoint(spec, plan.key, counters, None, done=True)
            log.info("object.sampled", object=plan.key, rows=len(rows))

    async def _plans(self, spec: SyncSpec, source: Source, destination: Destination) -> list[ObjectPlan]:
        discovered = await source.discover()
        existing = destination.existing_columns if isinstance(destination, PostgresDestination) else None
        default_schema = getattr(getattr(source, "config", None), "schema", None)
        plans = await planning.plan(spec, discovered, default_schema=default_schema, existing=existing)
        # documents, upserts and change streams need a key; a snapshot does not
        keyed = (
            spec.destination_type is DestinationType.DOCSTORE
            or spec.mode is Mode.REPLICATE
            or (spec.mode is not Mode.SNAPSHOT and spec.destination_type is DestinationType.POSTGRESQL)
        )
        usable = []
        for plan in plans:
            if keyed and not plan.primary_key:
                log.warning("source.table_skipped", table=plan.name, reason="no primary key")
                continue
            usable.append(plan)
        return usable

    def _restore(self, done: dict[str, ObjectCheckpoint]) -> None:
        for key, cp in done.items():
            counters = self.tally.of(key)
            counters.rows_read, counters.rows_written = cp.rows_read, cp.rows_written
            counters.rows_deleted, counters.bytes = cp.rows_deleted, cp.bytes

    async def _finish(self, destination: Destination) -> None:
        finish = getattr(destination, "finish", None)
        if finish is not None:
            outcome = await finish()
            self.tally.deleted_extra += outcome.deleted
            self.tally.total = outcome.total
            return
        totals = [o.total for o in self.tally.objects.values()]
        self.tally.total = sum(t for t in totals if t is not None) if totals and None not in totals else None

    # one object ---------------------------------------------------------------------------------------------------

    async def _object(
        self,
        spec: SyncSpec,
        *,
        source: Source,
        destination: Destination,
        plan: ObjectPlan,
        checkpoint: ObjectCheckpoint | None,
        mode: Mode,
    ) -> None:
        if checkpoint is not None and checkpoint.done:
            return
        incremental = mode is Mode.INCREMENTAL
        tracked = incremental and plan.tracking_field is not None  # without one, every run reads every row
        resume = checkpoint.position if checkpoint else None
        if incremental and resume is None and not self.options.fresh:
            async with self.pool.acquire() as conn:
                resume = await repository.sync_state(conn, sync_id=spec.sync_id, object_key=plan.key)
        options = WriteOptions(
            mode=mode,
            conflict_policy=spec.conflict_policy,
            run_id=self.run_id,
            extra={"rebuild": True} if self.options.rebuild else {},
        )
        kept = await destination.open_object(plan, options=options, resume=resume)
        counters = self.tally.of(plan.key)
        if resume is not None and kept is None:  # the destination starts the object over: so do its counters
            self.tally.objects[plan.key] = counters = ObjectCounters()
        resume = kept
        encoding = _encoding(source, destination)
        read = source.read_incremental if incremental and hasattr(source, "read_incremental") else source.read_snapshot

        async def reader(emit: Callable[[Item], Awaitable[None]]) -> None:
            await read(plan, after=resume, encoding=encoding, shape=destination.shape, emit=emit)

        last: Position | None = None
        batch_ns = tracing.now_ns()
        async with self._holding() as hold:
            try:
                async with self._stream(reader, counters, hold, abandon=getattr(source, "abandon", None)) as items:
                    async for committed in destination.write(plan, items, encoding=encoding):
                        self._count(counters, committed)
                        last = committed.position
                        sync_position = committed.position if tracked else None
                        await self._checkpoint(
                            spec, plan.key, counters, committed.position, sync_position=sync_position, hold=hold
                        )
                        tracing.record(
                            "destination.commit", start_ns=batch_ns, attributes=_commit_attributes(plan.key, committed)
                        )
                        batch_ns = tracing.now_ns()
                await hold.take()
                with tracing.span("destination.close", {"syncline.object": plan.key}):
                    outcome = await destination.close_object(plan)
            except BaseException:
                with contextlib.suppress(Exception):
                    await destination.abort_object(plan)
                raise
            counters.rows_deleted += outcome.deleted
            counters.total = outcome.total
            # untracked objects: the next incremental run reads what was written since this run's snapshot
            horizon = {"since": last["xmin"]} if not tracked and last and last.get("xmin") is not None else None
            await self._checkpoint(spec, plan.key, counters, None, done=True, sync_position=horizon, hold=hold)
        log.info("object.moved", object=plan.key, rows=counters.rows_written, deleted=counters.rows_deleted)
        moved = f"{plan.key}: {counters.rows_written} rows written, {counters.rows_deleted} deleted"
        await runlog.note("info", moved, object_key=plan.key, counts=runlog.object_counts(counters))

    @contextlib.asynccontextmanager
    async def _stream(
        self,
        reader: Callable[[Callable[[Item], Awaitable[None]]], Awaitable[None]],
        counters: ObjectCounters,
        hold: Hold,
        *,
        abandon: Callable[[], None] | None = None,
    ) -> AsyncIterator[AsyncIterator[Item]]:
        """A reader task feeding a bounded queue, and the writer's side of it (which takes `hold` as it hands
        over a batch's end mark). When the writer's side ends early the reader is stopped (`_stop_reader`, with the
        source's `abandon`), never waited on for ever."""
        queue: asyncio.Queue[Item | _End | _Failed] = asyncio.Queue(maxsize=self.settings.queue_pieces)

        async def produce() -> None:
            try:
                await reader(queue.put)
            except Exception as exc:  # handed to the writer's side, which raises it
                await queue.put(_Failed(exc))
                return
            await queue.put(_End())

        async def drain() -> AsyncIterator[Item]:
            while True:
                item = await queue.get()
                if isinstance(item, _End):
                    return
                if isinstance(item, _Failed):
                    raise item.error
                if isinstance(item, Mark):
                    counters.rows_read += item.rows
                    await hold.take()  # the writer commits the batch on its end mark
                yield item

        task = asyncio.create_task(produce(), name="reader")
        try:
            yield drain()
            await task
        finally:
            if not task.done():
                await _stop_reader(task, abandon, queue)

    @staticmethod
    def _count(counters: ObjectCounters, committed: Committed) -> None:
        counters.rows_written += committed.rows
        counters.rows_deleted += committed.deleted
        counters.bytes += committed.bytes

    async def _checkpoint(
        self,
        spec: SyncSpec,
        key: str,
        counters: ObjectCounters,
        position: Position | None,
        *,
        done: bool = False,
        sync_position: Position | None = None,
        stream: dict[str, Any] | None = None,
        outcome: str | None = None,
        error: str | None = None,
        hold: Hold | None = None,
    ) -> None:
        """Store an object's checkpoint (and the sync's position), fenced: in the transaction `hold` holds, which
        it then commits, else in one of its own."""
        checkpoint = ObjectCheckpoint(
            position=position,
            done=done,
            rows_read=counters.rows_read,
            rows_written=counters.rows_written,
            rows_deleted=counters.rows_deleted,
            bytes=counters.bytes,
            outcome=outcome,
            error=error,
        )

        async def save(conn: Conn) -> None:
            await repository.save_checkpoint(conn, run_id=self.run_id, object_key=key, checkpoint=checkpoint)
            if sync_position is not None:
                await repository.set_sync_state(conn, sync_id=spec.sync_id, object_key=key, state=sync_position)
            if stream is not None:
                await repository.set_sync_state(conn, sync_id=spec.sync_id, object_key=STREAM, state=stream)

        if hold is not None and hold.conn is not None:
            await save(hold.conn)
            await hold.release(commit=True)
            return
        async with self.pool.acquire() as conn, conn.transaction():
            await self._fenced(conn)
            await save(conn)

    # change streams -----------------------------------------------------------------------------------------------

    async def _replicate(
        self,
        spec: SyncSpec,
        source: Any,
        destination: Any,
        plans: list[ObjectPlan],
        done: dict[str, ObjectCheckpoint],
    ) -> None:
        """Snapshot the objects the stream does not cover yet (after opening it), then apply its changes."""
        name = stream_slot(spec)
        # the source (secrets sealed) stays with the stream, as of the latest run: a deleted sync's slot can be
        # dropped without the sync
        kept_source = spec.source.model_dump(mode="json")
        async with self.pool.acquire() as conn:
            state = await repository.sync_state(conn, sync_id=spec.sync_id, object_key=STREAM)
        # every run: the stream follows the selection (its publication) before any new object's snapshot
        start = await source.open_stream(name=name, plans=plans)
        if state is None or state.get("source") != kept_source:
            if state is None:
                state = {"slot": name, "lsn": start["lsn"], "objects": [], "catch_up": True}
            state = state | {"source": kept_source}
            await self._set_stream(spec, state)
        covered = set(state.get("objects", []))
        if not spec.initial_load and any(p.key not in covered for p in plans):
            # changes only: every object is covered from the moment the stream opened, without a snapshot
            state = state | {"objects": sorted(covered | {p.key for p in plans}), "catch_up": False}
            await self._set_stream(spec, state)
            covered = set(state["objects"])
        fresh = [p for p in plans if p.key not in covered]
        for plan in fresh:
            await self._isolated(
                spec, plan, checkpoint=done.get(plan.key), sides=(source, destination), mode=Mode.SNAPSHOT
            )
            if plan.key in self.tally.failures or self.steering.wants_stopped(plan):
                continue  # not covered: the next run snapshots it again
            state = state | {"objects": sorted({*state.get("objects", []), plan.key})}
            await self._set_stream(spec, state)
        if fresh and len(fresh) == len(plans) and not spec.follow:
            return  # the first run: the snapshot is the data; changes since the slot opened come next run
        # only objects whose snapshot landed take changes (one that failed or was cancelled snapshots next run)
        streamed = [p for p in plans if p.key in set(state.get("objects", []))]
        if not streamed:
            return
        checkpoint = done.get(STREAM)
        while True:  # once, or until stopped when the spec follows the stream
            state = await self._changes(
                spec,
                source=source,
                destination=destination,
                plans=streamed,
                state=state,
                checkpoint=checkpoint,
                last=not spec.follow,
            )
            if not spec.follow:
                return
            checkpoint = None
            await asyncio.sleep(self.settings.follow_poll_s)

    async def _changes(
        self,
        spec: SyncSpec,
        *,
        source: Any,
        destination: Any,
        plans: list[ObjectPlan],
        state: dict[str, Any],
        checkpoint: ObjectCheckpoint | None,
        last: bool = True,
    ) -> dict[str, Any]:
        """Apply what the stream holds up to the end of the log; the stream's state after it. `last`: the run
        reads no more after this (its stream checkpoint is done)."""
        if checkpoint is not None and checkpoint.done:
            return state
        name = state["slot"]
        after = {"lsn": state["lsn"]}
        options = WriteOptions(
            mode=Mode.REPLICATE,
            conflict_policy=spec.conflict_policy,
            run_id=self.run_id,
            extra={"catch_up": bool(state.get("catch_up"))},
        )
        counters = self.tally.of(STREAM)

        async def reader(emit: Callable[[Item], Awaitable[None]]) -> None:
            await source.read_changes(name=name, plans=plans, after=after, encoding=Encoding.CHANGES, emit=emit)

        abandon = getattr(source, "abandon", None)
        async with self._holding() as hold, self._stream(reader, counters, hold, abandon=abandon) as items:
            batch_ns = tracing.now_ns()
            async for committed in destination.apply_changes(plans, items, options=options):
                self._count(counters, committed)
                state = state | {"lsn": committed.position["lsn"], "catch_up": False}
                await self._checkpoint(spec, STREAM, counters, committed.position, stream=state, hold=hold)
                for key, (written, deleted) in committed.objects.items():
                    log.info("object.changes_applied", object=key, written=written, deleted=deleted)
                    counts = {"rows_written": written, "rows_deleted": deleted}
                    await runlog.note("info", f"{key}: changes applied", object_key=key, counts=counts)
                tracing.record(
                    "destination.commit", start_ns=batch_ns, attributes=_commit_attributes(STREAM, committed)
                )
                batch_ns = tracing.now_ns()
                self.tally.lag = replication_lag(committed.position)
                await source.confirm(name=name, position=committed.position)
        if last:
            await self._checkpoint(spec, STREAM, counters, None, done=True)
        return state

    async def _drop_stream(self, spec: SyncSpec, source: Source) -> None:
        """A sync that no longer replicates gives its replication slot back."""
        if not isinstance(source, PostgresSource):
            return
        async with self.pool.acquire() as conn:
            state = await repository.sync_state(conn, sync_id=spec.sync_id, object_key=STREAM)
        if state is None:
            return
        await self._guard()
        await source.drop_stream(name=state["slot"])
        await self._set_stream(spec, None)


async def _stop_reader(
    task: "asyncio.Task[None]", abandon: Callable[[], None] | None, queue: "asyncio.Queue[Any]"
) -> None:
    """Stop a reader whose writer's side ended early: its source connection is abandoned first (terminated: asyncpg
    would wait on the server to confirm a cancelled COPY, which a connection whose reading is paused never reads,
    and the object's next attempt gets a fresh one), then the task is cancelled, and the queue is emptied while it
    ends (asyncpg may turn the cancel into a connection error, which the reader then hands over: nobody reads it).
    Its own failure on the way out is not the run's, and a reader that does not end within `READER_STOP_S` is left
    behind rather than holding the run."""
    if abandon is not None:
        abandon()
    task.cancel()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READER_STOP_S
    while not task.done() and loop.time() < deadline:
        while not queue.empty():
            queue.get_nowait()
        await asyncio.wait({task}, timeout=0.05)
    if not task.done():
        log.error("reader.left_behind", wait_s=READER_STOP_S, abandoned=abandon is not None)
        return
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()


def _commit_attributes(key: str, committed: Committed) -> dict[str, str | int]:
    """What a destination commit's span says."""
    return {"syncline.object": key, "syncline.rows": committed.rows, "syncline.bytes": committed.bytes}


def replication_lag(position: Position) -> ReplicationLag | None:
    """The lag a change stream's position shows once its batch is durable."""
    if "source_lsn" not in position:
        return None
    committed = position.get("commit_time")
    at = datetime.fromisoformat(committed) if committed else None
    return ReplicationLag(
        source_lsn=position["source_lsn"],
        applied_lsn=position["lsn"],
        bytes=max(0, lsn_int(position["source_lsn"]) - lsn_int(position["lsn"])),
        seconds=0.0 if at is None else max(0.0, (datetime.now(UTC) - at).total_seconds()),
        last_commit_at=at,
    )


def stream_slot(spec: SyncSpec) -> str:
    """The replication slot of a sync's change stream: the one its source configuration names (Polytomic's
    `replication_slot`), else one derived from the sync."""
    return str(spec.source.config.get("replication_slot") or slot_name(spec.sync_id))


def _transient(exc: BaseException) -> bool:
    """A failure that says nothing about the object (a dependency not answering): it fails the run, not the
    object, so the run's retry policy applies."""
    return isinstance(exc, RetryableError | asyncpg.PostgresConnectionError | asyncpg.InterfaceError | OSError)


def _streams(source: Any, destination: Any) -> bool:
    return isinstance(source, ChangeStreamReader) and isinstance(destination, ChangeWriter)


def _encoding(source: Source, destination: Destination) -> Encoding:
    for encoding in destination.accepts:
        if encoding in source.encodings:
            return encoding
    raise InvalidError(f"no common encoding between {type(source).__name__} and {type(destination).__name__}")


async def release_stream(*, pool: asyncpg.Pool, sealer: Sealer | None, sync_id: str) -> bool:
    """Drop a deleted sync's replication slot (through the source kept with its stream) and forget the sync's
    state; False when it had no slot to drop. Dropping again is harmless, so a redelivered deletion is too. Call
    it once the sync's last run has stopped (`wait_for_runs`): a run still going would open the stream again."""
    async with pool.acquire() as conn:
        state = await repository.sync_state(conn, sync_id=sync_id, object_key=STREAM)
    dropped = False
    if state is not None and state.get("source"):
        endpoint = Endpoint.model_validate(state["source"])
        pipeline = Pipeline(pool=pool, sealer=sealer, settings=PipelineSettings(), run_id="", tally=Tally())
        async with PostgresSource(PostgresConfig.from_values(pipeline.opened(endpoint))) as source:
            try:
                dropped = await source.drop_stream(name=state["slot"])
            except asyncpg.ObjectInUseError as exc:
                raise StreamBusyError(sync_id=sync_id, slot=state["slot"]) from exc
    elif state is not None:
        log.warning("stream.slot_left", sync_id=sync_id, slot=state.get("slot"), reason="no source kept with it")
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM executor.sync_state WHERE sync_id = $1", sync_id)
    return dropped
