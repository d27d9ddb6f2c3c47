"""Supervised background loops: a step that fails is logged and tried again after a capped backoff, so a crash
never ends the loop silently (a dead outcome waiter would turn every create into a 202)."""

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from syncline_platform.errors import is_transient

log = structlog.get_logger(__name__)

T = TypeVar("T")


async def forever(step: Callable[[], Awaitable[None]], *, name: str, cap_s: float = 5.0) -> None:
    """Run `step` again and again until cancelled; after a failure, wait 0.1 s doubling up to `cap_s`."""
    failures = 0
    while True:
        try:
            await step()
            failures = 0
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # logged; the loop goes on
            failures += 1
            log.error("loop.step_failed", loop=name, error=repr(exc), failures=failures)
            await asyncio.sleep(min(cap_s, 0.1 * 2**failures))


async def until_done(op: Callable[[], Awaitable[T]], *, name: str, cap_s: float = 5.0) -> T:
    """Run `op` until it succeeds, waiting out transient failures (`errors.is_transient`: the database or the
    broker away) with a capped, jittered backoff; any other failure propagates. For writes that must not be
    dropped, such as recording the end of a run: `op` must be one transaction, safe to try again."""
    failures = 0
    while True:
        try:
            return await op()
        except Exception as exc:
            if not is_transient(exc):
                raise
            failures += 1
            pause = random.uniform(0.5, 1.0) * min(cap_s, 0.1 * 2**failures)  # noqa: S311 (jitter, not a secret)
            log.warning("retry.transient", op=name, error=repr(exc), failures=failures, pause_s=round(pause, 2))
            await asyncio.sleep(pause)


async def wake_or_sleep(wake: asyncio.Event, seconds: float) -> None:
    """Return when `wake` is set or after `seconds`, whichever comes first (`wake` stays as it is). Not
    `asyncio.wait_for`: on Python 3.11 it can return a wake that lands with a cancel and swallow the cancel, so a
    loop being stopped goes round again and its stop waits."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wake.wait()
