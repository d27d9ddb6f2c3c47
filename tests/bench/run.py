"""`make bench`: run every benchmark, print a table, write `.local/bench/results.json` (`SYNCLINE_BENCH_ONLY=a,b`:
run some, their entries merged into the file's others)."""

import asyncio
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench import (
    aws,
    cdc,
    console_sse,
    dataplane,
    drs,
    first_path,
    kafka_interface,
    kafka_sasl_cost,
    kafka_start,
    metrics_overhead,
    polytomic_api,
    scheduler,
    snapshot_metrics_overhead,
)

OUT = Path(__file__).resolve().parents[2] / ".local" / "bench" / "results.json"


def table(results: list[dict[str, Any]]) -> str:
    """One line per entry: its name and its figures."""
    lines = []
    for entry in results:
        figures = "  ".join(f"{k}={v}" for k, v in entry.items() if k != "name")
        lines.append(f"{entry['name']:<28} {figures}")
    return "\n".join(lines)


ENTRIES: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "kafka_start": lambda: [kafka_start.measure()],
    "first_path": lambda: [asyncio.run(first_path.measure())],
    "polytomic_api": lambda: [asyncio.run(polytomic_api.measure())],
    "metrics_overhead": lambda: [asyncio.run(metrics_overhead.measure())],
    "aws": lambda: [asyncio.run(aws.measure())],
    "dataplane": dataplane.measure,
    "cdc": cdc.measure,
    "scheduler": lambda: [asyncio.run(scheduler.measure())],
    "drs": lambda: asyncio.run(drs.measure()),
    "console_sse": lambda: [asyncio.run(console_sse.measure())],
    "kafka_interface": lambda: [asyncio.run(kafka_interface.measure())],
    "kafka_sasl_cost": kafka_sasl_cost.measure,
    "snapshot_metrics_overhead": snapshot_metrics_overhead.measure,
}
"""Every benchmark module, in the order `make bench` runs them (`SYNCLINE_BENCH_ONLY=a,b` runs some)."""


def merge(kept: list[dict[str, Any]], benchmark: str, fresh: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`kept` with a benchmark's earlier entries (its own name, names starting `<name>_`, the names it wrote now)
    replaced by `fresh`, in the place of the first of them (at the end if there was none)."""
    names = {e["name"] for e in fresh}

    def earlier(e: dict[str, Any]) -> bool:
        return e["name"] in names or e["name"] == benchmark or e["name"].startswith(f"{benchmark}_")

    at = next((i for i, e in enumerate(kept) if earlier(e)), len(kept))
    rest = [e for e in kept if not earlier(e)]
    return rest[:at] + fresh + rest[at:]


def main() -> None:
    only = [n for n in os.environ.get("SYNCLINE_BENCH_ONLY", "").split(",") if n]
    # some benchmarks: merged into the last results (the others' figures kept); all of them: written afresh
    results: list[dict[str, Any]] = json.loads(OUT.read_text()) if only and OUT.exists() else []
    ran: list[dict[str, Any]] = []
    failed = []
    OUT.parent.mkdir(parents=True, exist_ok=True)
    for name, measure in ENTRIES.items():
        if only and name not in only:
            continue
        try:
            fresh = measure()
        except Exception as exc:  # one broken benchmark must not lose the others' figures
            failed.append(name)
            fresh = [{"name": name, "error": repr(exc)}]
            traceback.print_exc()
        ran += fresh
        results = merge(results, name, fresh)
        OUT.write_text(json.dumps(results, indent=2) + "\n")  # written as it goes
    sys.stdout.write(table(ran) + f"\n\nwritten to {OUT}\n")
    if failed:
        sys.exit(f"benchmarks that failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
