"""Supervised background loops: a step that fails is logged and tried again after a capped backoff, so a crash
never ends the loop silently (a dead outcome waiter would turn every create into a 202)."""

import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


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
