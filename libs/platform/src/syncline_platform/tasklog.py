"""Where a stuck process's tasks wait: `kill -USR1 <pid>` on any Syncline service logs them (`service.tasks`)."""

import asyncio
import signal

import structlog

log = structlog.get_logger(__name__)


def log_tasks_on_sigusr1() -> None:
    """From now on, SIGUSR1 makes the running event loop log its tasks (`log_tasks`); the process goes on."""
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, log_tasks)


def log_tasks() -> None:
    """Log where every task of the event loop waits (`kill -USR1 <pid>`): one `service.tasks` line, for a service
    that seems stuck. Each task's whole await chain is followed, down to the future it waits on (a task's own
    stack shows only its outermost coroutine)."""
    stacks = []
    for task in asyncio.all_tasks():
        lines = [f"{task.get_name()}:"]
        lines.extend(_awaiting(task.get_coro()))
        stacks.append("\n".join(lines))
    log.warning("service.tasks", count=len(stacks), stacks=stacks)


def _awaiting(awaitable: object, depth: int = 40) -> list[str]:
    """Where a coroutine (and each coroutine or async generator it awaits, in turn) is suspended, and the
    innermost thing it waits on."""
    lines: list[str] = []
    while awaitable is not None and depth > 0:
        depth -= 1
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "ag_frame", None)
        if frame is None:
            lines.append(f"  waits on {awaitable!r}"[:500])
            break
        code = frame.f_code
        lines.append(f"  {code.co_filename}:{frame.f_lineno} in {code.co_qualname}")
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "ag_await", None)
    return lines
