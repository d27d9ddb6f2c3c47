"""SSE delivery to the web console: from `run.completed` written to Kafka to its frame in a headless Chromium's
run page (the gateway's hub tails the topic, re-reads the run, renders the fragment, and htmx's SSE extension
receives it). Runs started from the console one after another; figures: p50 and max in ms, and how many runs
ended before their page had connected (not measured). Alone: `uv run python tests/bench/console_sse.py`."""

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from syncline_platform.kafka import delete_topics
from syncline_platform.settings import KafkaSettings
from tests.e2e.test_console import connector, seed
from tests.support.browser import chromium, delivery_s, run_status, sign_in, start_from_console, wait
from tests.support.infra import bootstrap_servers, create_database, drop_database, unique
from tests.support.system import System, make_system

ROOT = Path(__file__).resolve().parents[2]
ROWS = 20_000
"""A run of a few seconds: its page connects well before it ends."""


async def _runs(system: System, sync_id: str, times: int) -> tuple[list[float], int]:
    """`times` runs (after one that warms up), each started from the console and watched on its page."""
    driver = await asyncio.to_thread(chromium)
    took: list[float] = []
    missed = 0
    try:
        await asyncio.to_thread(sign_in, driver, system.url, system.key["encoded"])
        for round_ in range(times + 1):
            run_id = await asyncio.to_thread(start_from_console, driver, system.url, sync_id)
            await asyncio.to_thread(wait, driver, lambda d: run_status(d) == "completed", timeout_s=120)
            seconds = await delivery_s(driver, system, run_id)
            if round_ == 0:
                continue
            if seconds is None:
                missed += 1
            else:
                took.append(seconds)
        return took, missed
    finally:
        await asyncio.to_thread(driver.quit)


async def measure(times: int = 10) -> dict[str, Any]:
    """The figures, on a fresh system."""
    name = unique("uibench")
    await create_database(name)
    await create_database(f"{name}_data")
    source = await create_database(f"{name}_src")
    system = make_system(database=name, docstore=f"{name}_data", prefix=f"{name}.", log_dir=ROOT / ".local/bench/logs")
    try:
        system.key = system.admin("create-key", "--org", system.admin("create-org", "bench")["id"])
        system.start()
        await seed(source, ROWS)
        sync_id = connector(system, database=f"{name}_src", name="console bench")
        started = time.monotonic()
        took, missed = await _runs(system, sync_id, times)
        ordered = sorted(took)
        return {
            "name": "console_sse",
            "runs": len(took),
            "missed": missed,
            "rows_per_run": ROWS,
            "run_completed_to_browser_p50_ms": round(ordered[len(ordered) // 2] * 1000, 1) if ordered else None,
            "run_completed_to_browser_max_ms": round(ordered[-1] * 1000, 1) if ordered else None,
            "wall_s": round(time.monotonic() - started, 1),
        }
    finally:
        system.stop()
        await delete_topics(KafkaSettings(bootstrap_servers=bootstrap_servers(), topic_prefix=system.topic_prefix))
        for database in (name, f"{name}_data", f"{name}_src"):
            await drop_database(database)


if __name__ == "__main__":
    sys.stdout.write(json.dumps(asyncio.run(measure()), indent=2) + "\n")
