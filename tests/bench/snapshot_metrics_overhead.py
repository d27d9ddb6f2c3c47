"""What recording metrics costs the 1M-row snapshot PostgreSQL → PostgreSQL (the data plane's main case).

The executor's pipeline records no metric itself: the executor service records a run's progress at each check-in
(`Metrics.run_progress`, every `checkin_interval_s`) and its end (`run_finished`). So each run here is the data
plane's snapshot, in its own process, with that recording beside it as the service does it: a `Metrics` of the
executor, on or off (`SYNCLINE_OPS__METRICS`'s switch, `Metrics.enabled`), fed every check-in interval, then
scraped once at the end. Interleaved (on off on off …), medians of wall time and of the process's CPU seconds;
beside them, one `run_progress` timed alone (the recording's CPU per run: that, once per second of the run).
Alone: `uv run python tests/bench/snapshot_metrics_overhead.py`.
"""

import asyncio
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench import dataplane  # noqa: E402

RUNS = int(os.environ.get("SYNCLINE_BENCH_METRICS_RUNS", "3"))


async def _beat(metrics: Any, run: dict[str, Any], tally: Any, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        metrics.run_progress(run=run, counters=tally.counters())


async def run_case(case: str, params: dict[str, Any]) -> dict[str, Any]:
    """One snapshot with metrics recorded (`on`) or not (`off`), in this process."""
    from prometheus_client.parser import text_string_to_metric_families

    from syncline_executor.pipeline import Tally
    from syncline_platform.metrics import Metrics

    del params
    metrics = Metrics(service="executor", enabled={"on": True, "off": False}[case])
    run_id = f"bench-metrics-{case}-{time.time_ns()}"
    endpoints = {"source": {"type": "postgresql"}, "destination": {"type": "postgresql"}}
    run = {"id": run_id, "sync_id": "bench-snapshot", "connector": {"spec": endpoints}}
    spec = dataplane._spec(sync_id="bench-snapshot", destination=dataplane._pg_target(), tables=["events"])
    tally = Tally()
    beat = asyncio.create_task(_beat(metrics, run, tally, _interval_s()))
    try:
        result = await dataplane._pipeline(spec, run_id, tally=tally)
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
    metrics.run_finished(run=run, status="completed", counters=tally.counters())
    scraped = text_string_to_metric_families((await metrics.render()).decode())
    moved = sum(s.value for f in scraped for s in f.samples if s.name == "syncline_rows_moved_total")
    return result | {"recorded": moved == result["rows"]}


def _interval_s() -> float:
    from syncline_executor.settings import ExecutorSettings

    return float(ExecutorSettings.model_fields["checkin_interval_s"].default)


def _recording_cost_us(calls: int = 20_000) -> float:
    """Microseconds one `run_progress` takes with metrics on (the counters growing each time), in this process."""
    from syncline_executor.pipeline import Tally
    from syncline_platform.metrics import Metrics

    metrics, tally = Metrics(service="executor", enabled=True), Tally()
    run = {"id": "r", "sync_id": "s", "connector": {"spec": {"source": {"type": "a"}, "destination": {"type": "b"}}}}
    started = time.perf_counter()
    for i in range(calls):
        tally.of("events").rows_written = i
        metrics.run_progress(run=run, counters=tally.counters())
    return (time.perf_counter() - started) / calls * 1e6


def measure() -> list[dict[str, Any]]:
    """`RUNS` snapshots with metrics on and as many off, interleaved; one results.json entry."""
    asyncio.run(dataplane.prepare(everything=False))
    runs: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
    for _ in range(RUNS):
        for case in ("on", "off"):
            runs[case].append(dataplane.syncline(case, script=__file__))
    if [r["recorded"] for r in runs["on"]] != [True] * RUNS or any(r["recorded"] for r in runs["off"]):
        raise RuntimeError("metrics on did not record the rows moved, or off did")
    if {r["rows"] for found in runs.values() for r in found} != {dataplane.ROWS}:
        raise RuntimeError(f"a snapshot did not move {dataplane.ROWS} rows")
    figures: dict[str, Any] = {"name": "snapshot_metrics_overhead", "rows": dataplane.ROWS, "runs_each": RUNS}
    for case, found in runs.items():
        wall = statistics.median(r["wall_s"] for r in found)
        figures |= {
            f"metrics_{case}_rows_per_s": round(dataplane.ROWS / wall),
            f"metrics_{case}_wall_s": round(wall, 2),
            f"metrics_{case}_walls_s": [round(r["wall_s"], 2) for r in found],
            f"metrics_{case}_pipeline_cpu_s": round(statistics.median(r["pipeline_cpu_s"] for r in found), 2),
        }
    per_call = _recording_cost_us()
    figures |= {
        "run_progress_us": round(per_call, 1),
        "recording_cpu_s_per_run": round(per_call * 1e-6 * (figures["metrics_on_wall_s"] / _interval_s() + 1), 6),
        "wall_ratio_on_to_off": round(figures["metrics_on_wall_s"] / figures["metrics_off_wall_s"], 3),
        "cpu_ratio_on_to_off": round(figures["metrics_on_pipeline_cpu_s"] / figures["metrics_off_pipeline_cpu_s"], 3),
    }
    return [figures]


if __name__ == "__main__":
    dataplane.cli(run_case, measure)
