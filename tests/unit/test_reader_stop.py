"""A reader whose writer's side ended early is stopped without waiting on its source: the connection is abandoned
before the cancel (asyncpg would wait on the server to confirm a cancelled COPY, which a connection whose reading
is paused never reads), and a reader that still does not end is left behind, so the run fails and records its end
instead of hanging."""

import asyncio

import pytest

from syncline_executor import pipeline


def stuck_reader(connection_gone: "asyncio.Future[None]") -> "asyncio.Task[None]":
    async def read() -> None:
        try:
            await asyncio.Event().wait()  # in the middle of a COPY
        except asyncio.CancelledError:
            await connection_gone  # asyncpg's wait for the cancel's confirmation: only a dead connection ends it
            raise

    return asyncio.create_task(read())


async def test_a_reader_in_a_copy_has_its_connection_abandoned_before_the_cancel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pipeline, "READER_STOP_S", 30)  # it must not take that long
    gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    abandoned: list[bool] = []

    def abandon() -> None:  # what `PostgresSource.abandon` does to asyncpg: the connection is terminated
        abandoned.append(True)
        gone.set_exception(ConnectionError("connection terminated"))

    task = stuck_reader(gone)
    await asyncio.sleep(0)
    await asyncio.wait_for(pipeline._stop_reader(task, abandon, asyncio.Queue()), timeout=5)
    assert abandoned == [True]
    assert task.done()  # at once: the dead connection ended its wait


async def test_a_reader_without_a_way_out_is_left_behind_not_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "READER_STOP_S", 0.1)
    gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    task = stuck_reader(gone)
    await asyncio.sleep(0)
    await asyncio.wait_for(
        pipeline._stop_reader(task, None, asyncio.Queue()), timeout=5
    )  # it returns: the run is not held
    assert not task.done()
    gone.set_result(None)
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_reader_that_stops_is_waited_for_and_its_error_is_not_the_runs() -> None:
    async def read() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise ConnectionError("the source went away while stopping") from None

    task = asyncio.create_task(read())
    await asyncio.sleep(0)
    await pipeline._stop_reader(task, None, asyncio.Queue())
    assert task.done()


async def test_a_reader_handing_over_its_failure_to_a_full_queue_is_not_left_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """asyncpg may turn the cancel into a connection error; the reader then hands the error over, and the queue
    is full with nobody reading it any more."""
    monkeypatch.setattr(pipeline, "READER_STOP_S", 30)  # it must not take that long
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=1)
    queue.put_nowait("a piece the writer never took")

    async def read() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            asyncio.current_task().uncancel()  # type: ignore[union-attr]  # what asyncpg's cancel handling does
            await queue.put(ConnectionError("connection terminated"))

    task = asyncio.create_task(read())
    await asyncio.sleep(0)
    await asyncio.wait_for(pipeline._stop_reader(task, None, queue), timeout=5)
    assert task.done()
