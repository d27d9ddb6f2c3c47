"""`kill -USR1` on a service logs where each of its tasks waits (`service.tasks`), to find what holds a stuck run."""

import asyncio

from structlog.testing import capture_logs

from syncline_platform.tasklog import log_tasks


async def test_every_task_is_logged_with_where_it_waits() -> None:
    async def deep_down() -> None:
        await asyncio.Event().wait()

    async def waiting_on_a_reader() -> None:
        await deep_down()

    task = asyncio.create_task(waiting_on_a_reader(), name="object-public.big")
    await asyncio.sleep(0)
    try:
        with capture_logs() as logs:
            log_tasks()
    finally:
        task.cancel()
    [line] = [entry for entry in logs if entry["event"] == "service.tasks"]
    assert line["count"] == len(line["stacks"]) >= 2  # this test's own task and the waiting one
    [stack] = [s for s in line["stacks"] if "object-public.big" in s]
    assert "waiting_on_a_reader" in stack
    # the whole chain, down to the future: not only the task's outermost coroutine
    assert "deep_down" in stack
    assert "Event.wait" in stack
    assert "waits on " in stack
