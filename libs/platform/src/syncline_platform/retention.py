"""Retention: every service purges its own old rows (the inbox, parked outbox rows, and what each service adds:
decided ticks, checkpoints of ended runs) by age, in batches, from a supervised loop (`loops.forever`).

Each purge is one DELETE of at most `batch_rows` rows older than its cutoff, repeated while batches come back
full, so a large backlog never holds locks for long. Rows still needed stay: a purge's condition says which.
"""

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import structlog
from pydantic import BaseModel

from syncline_platform.loops import forever

log = structlog.get_logger(__name__)


class RetentionSettings(BaseModel):
    """How long rows are kept (`SYNCLINE_RETENTION__INBOX_DAYS`, …) and how the purge goes."""

    inbox_days: float = 7.0
    """Handled message ids: a redelivery older than this is not expected (Kafka keeps offsets committed)."""
    parked_days: float = 30.0
    """Outbox rows parked for an operator."""
    ticks_days: float = 30.0
    """Decided schedule ticks (the scheduler's history of fires and skips)."""
    checkpoints_days: float = 7.0
    """Checkpoints of runs no longer moving (a retry within this window still resumes from them)."""
    idempotency_hours: float = 24.0
    """Outcomes stored against `Idempotency-Key`s (never less than the 24 hours they are replayed for)."""
    batch_rows: int = 5_000
    """Rows deleted per statement."""
    interval_s: float = 300.0
    """Pause between two purges."""


@dataclass(frozen=True)
class Purge:
    """One table's purge: `delete` removes at most `$2` rows older than `$1` (a timestamptz) and still unneeded."""

    name: str
    keep: timedelta
    delete: str


def by_age(name: str, *, table: str, column: str, keep: timedelta, needed: str = "false") -> Purge:
    """A purge of `table`'s rows whose `column` is older than the cutoff, except those `needed` (SQL on `t`)."""
    delete = (
        f"DELETE FROM {table} WHERE ctid = ANY(ARRAY("
        f"SELECT t.ctid FROM {table} t WHERE t.{column} < $1 AND NOT ({needed}) LIMIT $2))"
    )
    return Purge(name=name, keep=keep, delete=delete)


class Retention:
    """The purges of one service, run every `interval_s`."""

    def __init__(self, settings: RetentionSettings) -> None:
        self.settings = settings
        self._task: asyncio.Task[None] | None = None
        self.purges: list[Purge] = [
            by_age("inbox", table="inbox", column="handled_at", keep=timedelta(days=settings.inbox_days)),
            by_age(
                "outbox_parked", table="outbox_parked", column="parked_at", keep=timedelta(days=settings.parked_days)
            ),
        ]

    def add(self, purge: Purge) -> None:
        """Purge one more of the service's tables."""
        self.purges.append(purge)

    async def step(self, pool: asyncpg.Pool) -> dict[str, int]:
        """Purge every table once, to its cutoff; how many rows each lost."""
        purged: dict[str, int] = {}
        for purge in self.purges:
            purged[purge.name] = await self._purge(pool, purge)
        if any(purged.values()):
            log.info("retention.purged", **purged)
        return purged

    async def _purge(self, pool: asyncpg.Pool, purge: Purge) -> int:
        total = 0
        while True:
            async with pool.acquire() as conn:
                cutoff = await conn.fetchval("SELECT now() - $1::interval", purge.keep)
                status: str = await conn.execute(purge.delete, cutoff, self.settings.batch_rows)
            deleted = int(status.rsplit(maxsplit=1)[-1])
            total += deleted
            if deleted < self.settings.batch_rows:
                return total

    def start(self, pool: asyncpg.Pool) -> None:
        """Run the purges in the background (`run`)."""
        self._task = asyncio.create_task(self.run(pool), name="retention")

    async def stop(self) -> None:
        """Stop the background purges (a purge cut short is done again next time)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def run(self, pool: asyncpg.Pool) -> None:
        """Purge, pause, again, until cancelled; a failed purge is logged and tried again (`loops.forever`)."""

        async def step() -> None:
            await self.step(pool)
            await asyncio.sleep(self.settings.interval_s)

        await forever(step, name="retention", cap_s=60.0)
