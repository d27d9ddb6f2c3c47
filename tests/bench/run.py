"""`make bench`: run every benchmark, print a table, write `.local/bench/results.json`."""

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench import aws, cdc, dataplane, drs, first_path, kafka_start, metrics_overhead, polytomic_api, scheduler

OUT = Path(__file__).resolve().parents[2] / ".local" / "bench" / "results.json"


def table(results: list[dict[str, Any]]) -> str:
    """One line per entry: its name and its figures."""
    lines = []
    for entry in results:
        figures = "  ".join(f"{k}={v}" for k, v in entry.items() if k != "name")
        lines.append(f"{entry['name']:<28} {figures}")
    return "\n".join(lines)


def main() -> None:
    results = [
        kafka_start.measure(),
        asyncio.run(first_path.measure()),
        asyncio.run(polytomic_api.measure()),
        asyncio.run(metrics_overhead.measure()),
        asyncio.run(aws.measure()),
        *dataplane.measure(),
        *cdc.measure(),
        asyncio.run(scheduler.measure()),
        *asyncio.run(drs.measure()),
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    sys.stdout.write(table(results) + f"\n\nwritten to {OUT}\n")


if __name__ == "__main__":
    main()
