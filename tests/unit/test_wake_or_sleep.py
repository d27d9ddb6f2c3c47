"""`loops.wake_or_sleep`, which every wakeable background loop sleeps in: a wake ends it early, and a cancel that
lands with a wake is never swallowed (as Python 3.11's `asyncio.wait_for` can), so stopping a loop never hangs."""

import asyncio

import pytest

from syncline_platform import loops


async def test_a_wake_ends_the_sleep_and_the_time_ends_it_without_one() -> None:
    wake = asyncio.Event()
    asyncio.get_running_loop().call_later(0.01, wake.set)
    await asyncio.wait_for(loops.wake_or_sleep(wake, 60), timeout=5)  # the wake, not the 60 s
    assert wake.is_set()  # left for the loop to clear
    await loops.wake_or_sleep(asyncio.Event(), 0.01)


async def test_a_cancel_landing_with_a_wake_stops_the_loop() -> None:
    for _ in range(200):  # the race is a matter of scheduling: try it many times
        wake = asyncio.Event()

        async def loop(wake: asyncio.Event = wake) -> None:
            while True:
                await loops.wake_or_sleep(wake, 60)
                wake.clear()

        task = asyncio.create_task(loop())
        await asyncio.sleep(0)  # the loop is asleep
        wake.set()
        task.cancel()  # in the same tick as the wake
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)  # a swallowed cancel would sleep 60 s: a TimeoutError here
