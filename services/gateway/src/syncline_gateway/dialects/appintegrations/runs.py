"""On-demand runs of associations: started at once, or queued behind the association's run that is still going
(an association never runs twice at once; the scheduler refuses an `exclusive` run while another is pending or
running). `QueuedRuns` starts the queued ones once their association is free: every replica polls
`gateway.aws_queued_runs`, leasing the rows it tries (`not_before`), so one run is created per queued rerun; the
run id is derived from the queued row, so trying again after a lost answer creates nothing twice."""

import asyncio
import contextlib
import uuid
from datetime import datetime

import asyncpg
import structlog

from syncline_contracts.connectors import CommandRejected
from syncline_contracts.runs import CreateSyncJob
from syncline_contracts.topics import RUN_COMMANDS
from syncline_gateway.commands import CommandBus
from syncline_gateway.credentials import Principal
from syncline_gateway.errors import RejectedError
from syncline_gateway.service import Gateway
from syncline_gateway.settings import GatewaySettings

log = structlog.get_logger(__name__)

ON_DEMAND_OPTIONS = {"fetch_mode": "full"}
"""An on-demand run reads its whole window, whatever earlier runs read."""
POLL_S = 1.0
LEASE_S = 10.0
BATCH = 20


def _command(*, run_id: str, association_id: str) -> CreateSyncJob:
    return CreateSyncJob(run_id=run_id, sync_id=association_id, options=ON_DEMAND_OPTIONS, exclusive=True)


async def queue(pool: asyncpg.Pool, *, org_id: str, association_id: str) -> None:
    """Run the association once more when its current run has ended (one queued rerun at most)."""
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO aws_queued_runs (org_id, association_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            org_id,
            association_id,
        )


async def start(*, bus: CommandBus, pool: asyncpg.Pool, org_id: str, association_id: str, request_id: str) -> None:
    """Start an on-demand run of the association now, or queue it behind the run that is still going."""
    async with pool.acquire() as conn:
        queued = await conn.fetchval(
            "SELECT 1 FROM aws_queued_runs WHERE org_id = $1 AND association_id = $2", org_id, association_id
        )
    if queued:  # a rerun already waits: it runs the association's newest configuration
        return
    command = _command(run_id=str(uuid.uuid4()), association_id=association_id)
    principal = Principal(org_id=org_id, key_id="")
    outcome = await bus.send(topic=RUN_COMMANDS, message=command, principal=principal, request_id=request_id)
    if isinstance(outcome, CommandRejected):
        if outcome.code != "conflict":
            raise RejectedError(code=outcome.code, reason=outcome.reason)
        await queue(pool, org_id=org_id, association_id=association_id)
        log.info("appintegrations.run_queued", association_id=association_id)


_CLAIM = """
UPDATE aws_queued_runs SET not_before = now() + make_interval(secs => $2)
WHERE (org_id, association_id) IN (
    SELECT org_id, association_id FROM aws_queued_runs WHERE not_before <= now()
    ORDER BY queued_at LIMIT $1 FOR UPDATE SKIP LOCKED
)
RETURNING org_id, association_id, queued_at
"""


class QueuedRuns:
    """Starts queued on-demand runs once their association is free (a gateway worker)."""

    def __init__(self, settings: GatewaySettings, gateway: Gateway) -> None:
        del settings
        self.gateway = gateway
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="appintegrations-queued-runs")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception as exc:  # the loop must outlive any one failure
                log.warning("appintegrations.queued_runs_failed", error=repr(exc))
            await asyncio.sleep(POLL_S)

    async def tick(self) -> None:
        """Try every due queued run once."""
        async with self.gateway.pool.acquire() as conn:
            rows = await conn.fetch(_CLAIM, BATCH, LEASE_S)
        for row in rows:
            await self._try(org_id=row["org_id"], association_id=row["association_id"], queued_at=row["queued_at"])

    async def _try(self, *, org_id: str, association_id: str, queued_at: datetime) -> None:
        run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"syncline:aws-rerun:{org_id}:{association_id}:{queued_at}"))
        outcome = await self.gateway.commands.send(
            topic=RUN_COMMANDS,
            message=_command(run_id=run_id, association_id=association_id),
            principal=Principal(org_id=org_id, key_id=""),
            request_id=run_id,
        )
        if outcome is None:
            return  # no answer yet: the lease runs out and the same run id is tried again
        busy = isinstance(outcome, CommandRejected) and outcome.code == "conflict"
        async with self.gateway.pool.acquire() as conn:
            if busy:
                await conn.execute(
                    "UPDATE aws_queued_runs SET not_before = now() + make_interval(secs => $3)"
                    " WHERE org_id = $1 AND association_id = $2",
                    org_id,
                    association_id,
                    POLL_S,
                )
                return
            await conn.execute(
                "DELETE FROM aws_queued_runs WHERE org_id = $1 AND association_id = $2", org_id, association_id
            )
        if isinstance(outcome, CommandRejected):
            log.warning("appintegrations.queued_run_refused", association_id=association_id, reason=outcome.reason)
        else:
            log.info("appintegrations.queued_run_started", association_id=association_id, run_id=run_id)
