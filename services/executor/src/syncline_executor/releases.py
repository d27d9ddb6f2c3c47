"""Giving replication slots back: the deletion handlers record a pending release (`executor.stream_releases`),
and this supervised loop works through them, trying each again with a capped backoff until it is done.

A release waits while the sync's last run still moves (a run going on would open the stream again); a run that
died is ended by the scheduler's sweep, and the release goes through at its next attempt. Each attempt's count
and error stay on the record (`executor_read.stream_releases`, and the `syncline_stream_releases_pending` gauge),
so a slot that cannot be dropped (the source unreachable, its credentials revoked) is visible, never forgotten.
"""

import asyncio

import structlog

from syncline_executor import repository
from syncline_executor.pipeline import STREAM, release_stream
from syncline_platform import loops
from syncline_platform.db import Conn
from syncline_platform.loops import forever
from syncline_platform.secrets import Sealer
from syncline_platform.service import ServiceApp

log = structlog.get_logger(__name__)

BATCH = 10
"""Releases attempted per pass."""
ATTEMPT_TIMEOUT_S = 30.0
"""Longest one attempt may take (an unreachable source must not hold the loop)."""
BACKOFF_S = 1.0
"""First pause after a failed attempt; it doubles up to `BACKOFF_CAP_S`."""
BACKOFF_CAP_S = 60.0
PENDING = """
    SELECT CASE WHEN attempts = 0 THEN 'new' ELSE 'retrying' END AS state, count(*)
    FROM stream_releases GROUP BY 1
"""
"""Pending releases by state, for `/metrics`."""


def backoff(attempts: int) -> float:
    """The pause after the `attempts`-th failed attempt."""
    return float(min(BACKOFF_CAP_S, BACKOFF_S * 2 ** min(attempts, 16)))


class StreamReleases:
    """The executor's release loop (started and stopped with the service)."""

    def __init__(self, *, app: ServiceApp, sealer: Sealer, poll_s: float = 1.0) -> None:
        self.app = app
        self.sealer = sealer
        self.poll_s = poll_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """A release was requested: attempt it now rather than at the next poll."""
        self._wake.set()

    async def start(self, _: ServiceApp) -> None:
        """Run the loop in the background (a `ServiceApp.on_started` hook)."""
        self._task = asyncio.create_task(forever(self._step, name="stream-releases"), name="stream-releases")

    async def stop(self, _: ServiceApp) -> None:
        """Stop the loop; a release in flight is tried again by the next executor (its row stays)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _step(self) -> None:
        await self.release_due()
        await loops.wake_or_sleep(self._wake, self.poll_s)
        self._wake.clear()

    async def release_due(self) -> int:
        """One pass over the releases due; how many it attempted."""
        async with self.app.pool.acquire() as conn, conn.transaction():
            due = await repository.due_releases(conn, limit=BATCH)
            for row in due:
                with structlog.contextvars.bound_contextvars(sync_id=row["run_sync_id"]):
                    await self._attempt(conn, row)
        return len(due)

    async def _attempt(self, conn: Conn, row: dict[str, object]) -> None:
        key, attempts = str(row["sync_id"]), int(str(row["attempts"]))
        error = await self._blocked(conn, row)
        if error is None:
            try:
                async with asyncio.timeout(ATTEMPT_TIMEOUT_S):
                    dropped = await release_stream(pool=self.app.pool, sealer=self.sealer, sync_id=key)
            except Exception as exc:  # whatever it was, the release is tried again; its reason stays on the record
                error = f"{type(exc).__name__}: {exc}"
            else:
                await repository.release_done(conn, sync_id=key)
                log.info("sync.released", slot_dropped=dropped, attempts=attempts + 1)
                return
        await repository.release_failed(conn, sync_id=key, error=error, retry_in_s=backoff(attempts))
        log.warning("sync.release_failed", error=error, attempts=attempts + 1)

    @staticmethod
    async def _blocked(conn: Conn, row: dict[str, object]) -> str | None:
        """Why the release must wait: the sync's last run still moves (only a streaming sync could reopen its
        slot; the sweep ends a run whose executor died)."""
        streams = await repository.sync_state(conn, sync_id=str(row["sync_id"]), object_key=STREAM) is not None
        org_id, sync_id = str(row["org_id"]), str(row["run_sync_id"])
        if streams and await repository.has_running_run(conn, org_id=org_id, sync_id=sync_id):
            return "the sync's last run is still stopping"
        return None
