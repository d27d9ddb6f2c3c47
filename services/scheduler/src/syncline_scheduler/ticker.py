"""The scheduler's background loop: fires due schedules and retries, and sweeps silent and unclaimed runs.

Every replica runs one; they share the work through `FOR UPDATE SKIP LOCKED` claims, so each due tick fires
once. The loop sleeps until the earliest due time (at most `poll_interval_s`, so schedules configured on
another replica are seen) and wakes early when something this replica stored comes due sooner. It is supervised
(`loops.forever`): a failed pass (the database away, say) is logged and tried again with a capped backoff, so a
replica never stops firing, retrying and sweeping.
"""

import asyncio
import contextlib
from datetime import datetime, timedelta

import structlog

from syncline_platform import loops
from syncline_platform.loops import forever
from syncline_platform.service import ServiceApp
from syncline_scheduler import repository, schedules, service
from syncline_scheduler.service import Clock
from syncline_scheduler.settings import SchedulerSettings

log = structlog.get_logger(__name__)

_MIN_SLEEP_S = 0.01


class Ticker:
    """Fires due schedules and retries, and sweeps, until stopped."""

    def __init__(self, *, app: ServiceApp, settings: SchedulerSettings, clock: Clock) -> None:
        self.app = app
        self.settings = settings
        self.clock = clock
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._stepping = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._next_sweep: datetime | None = None
        self._wake_at: datetime | None = None

    def due_by(self, instant: datetime | None) -> None:
        """Something (a schedule configured, a retry, a continuous schedule re-armed in this process) is due at
        `instant`: wake up early if the loop would otherwise sleep past it."""
        if instant is not None and (self._wake_at is None or instant < self._wake_at):
            self._wake.set()

    async def start(self, _: ServiceApp) -> None:
        """Run the loop in the background (a `ServiceApp.on_started` hook)."""
        self._task = asyncio.create_task(forever(self._once, name="scheduler-ticker"), name="scheduler-ticker")

    async def stop(self, _: ServiceApp) -> None:
        """Finish the current pass and stop (a `ServiceApp.on_stopping` hook)."""
        self._stopping.set()
        self._wake.set()
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await self._stepping.acquire()  # the pass under way ends first
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _once(self) -> None:
        """One pass, then sleep until the next due time unless the batch was full. A failure propagates to
        `forever`, which logs it and calls again after its backoff."""
        if self._stopping.is_set():
            # stopping: end the loop here rather than wait for the cancel, which a wake racing it could have
            # swallowed (Python 3.11's wait_for returns a result that lands with a cancel)
            raise asyncio.CancelledError
        async with self._stepping:
            delay = 0.0 if await self.step() else await self._delay()
        if delay > 0:
            self._wake_at = self.clock() + timedelta(seconds=delay)
            try:
                await self._sleep(delay)
            finally:
                self._wake_at = None

    async def step(self) -> bool:
        """One pass: a batch of due schedules, a batch of due retries, and the sweep when it is time.
        Returns True when a batch was full (more may be due)."""
        now = self.clock()
        fired, retried = await self._fire(now), await self._retry(now)
        if self._next_sweep is None or now >= self._next_sweep:
            await self._sweep(now)
            self._next_sweep = now + timedelta(seconds=self.settings.reaper_interval_s)
        return max(fired, retried) >= self.settings.fire_batch_size

    async def _fire(self, now: datetime) -> int:
        async with self.app.pool.acquire() as conn, conn.transaction():
            claimed, emitted = await schedules.fire_due(conn, now=now, settings=self.settings)
            await service.publish(conn, emitted)
        return claimed

    async def _retry(self, now: datetime) -> int:
        async with self.app.pool.acquire() as conn, conn.transaction():
            claimed, emitted = await schedules.fire_retries(conn, now=now, settings=self.settings)
            await service.publish(conn, emitted)
        return claimed

    async def _sweep(self, now: datetime) -> None:
        async with self.app.pool.acquire() as conn, conn.transaction():
            await service.publish(conn, await service.sweep(conn, now=now, settings=self.settings))

    async def _delay(self) -> float:
        async with self.app.pool.acquire() as conn:
            due = await repository.next_due(conn)
        delay = self.settings.poll_interval_s
        if due is not None:
            delay = min(delay, (due - self.clock()).total_seconds())
        if self._next_sweep is not None:
            delay = min(delay, (self._next_sweep - self.clock()).total_seconds())
        return max(delay, _MIN_SLEEP_S)

    async def _sleep(self, seconds: float) -> None:
        await loops.wake_or_sleep(self._wake, seconds)
        self._wake.clear()
