"""Fencing: two executors race for the same run, and only the one holding the run's current claim writes.

The first executor is frozen (SIGSTOP: a long pause, a partition) in the middle of a run; meanwhile the run is
handed on (suspended and requested again) and a second executor, with the same instance id (a restarted pod that
kept its hostname, so no worker-name check can tell them apart), claims it and moves it. When the first one wakes
up, its claim is no longer the run's: it must write nothing more (no checkpoint, no batch, no finish) and stop.
"""

import asyncio
import functools
import os
import signal
import time
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr
from tests.integration.test_executor_dataplane import (  # the executor under test, as its own process
    INDEX,
    ROOT,
    Plant,
    _written,
    execute,
    new_run,
    plant,
    request,
    run_row,
    terminal_events,
    wait_for,
)
from tests.support.infra import read_topic

from syncline_executor import repository
from syncline_executor.errors import RunEndedElsewhereError
from syncline_executor.pipeline import Hold
from syncline_executor.repository import ObjectCheckpoint
from syncline_platform.db import create_pool
from syncline_platform.migrations import apply_migrations

pytestmark = pytest.mark.integration

__all__ = ["plant"]  # the fixture, shared with the data-plane tests

EXECUTOR_MIGRATIONS = ROOT / "services/executor/src/syncline_executor/migrations"

WRITES = """
CREATE TABLE public.checkpoint_writes (pid int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE FUNCTION public.note_checkpoint_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.checkpoint_writes (pid) VALUES (pg_backend_pid());
    RETURN NEW;
END $$;
CREATE TRIGGER note_write AFTER INSERT OR UPDATE ON executor.checkpoints
    FOR EACH ROW EXECUTE FUNCTION public.note_checkpoint_write();
"""
"""Which backend wrote each checkpoint: the first executor's connections are told from the second's."""


async def _hand_on(plant: Plant, run_id: str, frozen: int) -> None:
    """What a drain does, done for the frozen executor: suspended, requested again. A frozen process may hold the
    run's row locked in a checkpoint's transaction: then it is let go on for a moment and frozen again."""
    conn = await asyncpg.connect(plant.database)
    try:
        await conn.execute("SET lock_timeout = '1s'")
        while True:
            try:
                moved = await conn.fetchval(
                    "UPDATE scheduler.runs SET status = 'suspended' WHERE id = $1 AND status = 'in_progress'"
                    " RETURNING claim_seq",
                    run_id,
                )
                assert moved == 1
                return
            except asyncpg.LockNotAvailableError:
                os.kill(frozen, signal.SIGCONT)
                await asyncio.sleep(0.05)
                os.kill(frozen, signal.SIGSTOP)
    finally:
        await conn.close()


async def _writers(plant: Plant, *, before: bool, instant: float) -> set[int]:
    conn = await asyncpg.connect(plant.database)
    try:
        rows = await conn.fetch(
            "SELECT DISTINCT pid FROM public.checkpoint_writes WHERE (at < to_timestamp($1)) = $2", instant, before
        )
        return {r["pid"] for r in rows}
    finally:
        await conn.close()


def _log_events(plant: Plant, name: str) -> str:
    return (Path(ROOT) / ".local" / "test-logs" / f"{plant.prefix}{name}.log").read_text()


async def test_two_executors_racing_for_a_run_only_the_current_claim_writes(plant: Plant) -> None:
    rows = 200_000
    await apply_migrations(dsn=SecretStr(plant.database), schema="executor", directory=EXECUTOR_MIGRATIONS)
    await execute(plant.database, WRITES)
    run_id = await new_run(plant, rows=rows)
    first = plant.start("frozen")
    await request(plant, run_id)
    await wait_for(lambda: _some_written(plant, run_id), timeout_s=60)

    first.send_signal(signal.SIGSTOP)
    try:
        await _hand_on(plant, run_id, first.pid)
        takeover = time.time()
        await request(plant, run_id)
        plant.start("second")  # gets the requests' partition once the frozen one's session expires

        async def reclaimed() -> bool:
            row = await run_row(plant, run_id)
            return bool(row["status"] == "in_progress" and row["claim_seq"] == 2)

        await wait_for(reclaimed, timeout_s=60)
    finally:
        first.send_signal(signal.SIGCONT)  # it wakes up in the middle of its batch, its claim lost

    async def finished() -> dict[str, object] | None:
        found = await run_row(plant, run_id)
        return found if found["status"] in ("completed", "error", "canceled") else None

    row = await wait_for(finished, timeout_s=120)
    assert (row["status"], row["claim_seq"], row["error"]) == ("completed", 2, None)
    # the woken executor noticed it was fenced out, and none of its connections wrote a checkpoint after the takeover
    await wait_for(lambda: _said(plant, "frozen", "run.ended_elsewhere"), timeout_s=10)
    stale = await _writers(plant, before=True, instant=takeover)
    assert stale
    assert not stale & await _writers(plant, before=False, instant=takeover)
    # every row once in the destination, one terminal event, sent by the claim that finished
    assert await execute(plant.docstore, f"SELECT count(DISTINCT _id) FROM {INDEX}") == rows
    await asyncio.sleep(2)  # a late terminal event from the fenced mover would land by now
    events = await read_topic(f"{plant.prefix}syncline.runs.events.v1", until=lambda _: False, timeout_s=3)
    assert terminal_events(events, run_id) == ["syncline.run.completed"]


async def _some_written(plant: Plant, run_id: str) -> bool:
    return await _written(plant, run_id) >= 5_000


async def _said(plant: Plant, name: str, event: str) -> bool:
    return f'"{event}"' in _log_events(plant, name)


async def test_a_claim_waits_for_the_batch_its_fence_let_through(plant: Plant) -> None:
    """The fence of a destination commit is held from the check until the batch's checkpoint: a new claim (or the
    sweep) arriving in between waits for both, then finds the batch checkpointed; a hold taken after the claim
    moved on is refused and gives its connection back."""
    await apply_migrations(dsn=SecretStr(plant.database), schema="executor", directory=EXECUTOR_MIGRATIONS)
    run_id = await new_run(plant, rows=10)
    await execute(
        plant.database, f"UPDATE scheduler.runs SET status = 'in_progress', claim_seq = 1 WHERE id = '{run_id}'"
    )
    pool = await create_pool(dsn=SecretStr(plant.database), schema="executor", application="test", max_size=2)
    other = await asyncpg.connect(plant.database)
    try:
        hold = Hold(pool, functools.partial(repository.fence, run_id=run_id, claim=1))
        await hold.take()  # the batch's end mark handed over: the destination commits now
        await other.execute("SET lock_timeout = '300ms'")
        with pytest.raises(asyncpg.LockNotAvailableError):  # a re-claim cannot land before the checkpoint
            await other.execute("UPDATE scheduler.runs SET claim_seq = 2 WHERE id = $1", run_id)
        assert hold.conn is not None
        checkpoint = ObjectCheckpoint(
            position={"n": 10}, done=False, rows_read=10, rows_written=10, rows_deleted=0, bytes=100
        )
        await repository.save_checkpoint(hold.conn, run_id=run_id, object_key="big", checkpoint=checkpoint)
        await hold.release(commit=True)
        await other.execute("UPDATE scheduler.runs SET claim_seq = 2 WHERE id = $1", run_id)  # now it can
        saved = await other.fetchval("SELECT count(*) FROM executor.checkpoints WHERE run_id = $1", run_id)
        assert saved == 1  # the next mover resumes after the batch

        stale = Hold(pool, functools.partial(repository.fence, run_id=run_id, claim=1))
        with pytest.raises(RunEndedElsewhereError):
            await stale.take()
        assert stale.conn is None
        async with asyncio.timeout(5):  # both connections are back in the pool of two
            async with pool.acquire(), pool.acquire():
                pass
    finally:
        await other.close()
        await pool.close()
