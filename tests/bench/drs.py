"""Huawei DRS through the whole system with the official SDK (`huaweicloudsdkdrs`), PostgreSQL → PostgreSQL:

- `drs_lifecycle`: a `FULL_INCR_TRANS` job of a 10,000-row table from `batch_create_jobs` to
  `INCRE_TRANSFER_STARTED` (configuration calls: create, both connection tests, modify, select objects, sync
  policy, precheck and its result; then start, polled every 50 ms);
- `drs_lag`: while the job replicates, a writer commits 1,000 rows/s (100 rows every 0.1 s) for
  `SYNCLINE_BENCH_DRS_LAG_S` seconds (30); a poller on the target reads new rows every 20 ms, and a row's lag is
  the target server's clock when it was seen minus the source's clock when it was inserted (same server, so one
  clock; the poll adds up to 20 ms).
"""

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from syncline_platform.kafka import delete_topics  # noqa: E402
from syncline_platform.settings import KafkaSettings  # noqa: E402
from tests.support.infra import (  # noqa: E402
    bootstrap_servers,
    create_database,
    database_url,
    drop_database,
    unique,
    with_database,
)
from tests.support.system import System, make_system  # noqa: E402

ROWS = 10_000
LAG_SECONDS = float(os.environ.get("SYNCLINE_BENCH_DRS_LAG_S", "30"))
RATE = 1_000
"""Rows a second the writer commits."""


async def _seed(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE bench_rows (id bigint PRIMARY KEY, name text NOT NULL, price numeric(10, 2), at timestamptz);"
            f" INSERT INTO bench_rows SELECT g, md5(g::text), g / 3.0, now() FROM generate_series(1, {ROWS}) g;"
            " CREATE TABLE lag_rows (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(),"
            " pad text)"
        )
    finally:
        await conn.close()


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else float("nan")


def _lifecycle(system: System, source_db: str, target_db: str) -> tuple[Any, str, dict[str, float]]:
    from tests.e2e import drs_support as d

    client = d.drs(system)
    started = time.perf_counter()
    job = d.ready(
        client,
        source_db=source_db,
        target=d.postgres(target_db),
        tables=("bench_rows", "lag_rows"),
        task_type="FULL_INCR_TRANS",
        policy={"conflict_policy": "overwrite"},
    )
    configured = time.perf_counter()
    assert d.start(client, job).status == "success"
    d.wait_for(
        lambda: d.status(client, job) == "INCRE_TRANSFER_STARTED", what="replication", timeout_s=300, every_s=0.05
    )
    done = time.perf_counter()
    return (
        client,
        job,
        {
            "create_to_incre_s": round(done - started, 2),
            "configure_calls_s": round(configured - started, 2),
            "start_to_incre_s": round(done - configured, 2),
        },
    )


async def _writer(dsn: str, *, seconds: float) -> int:
    conn = await asyncpg.connect(dsn)
    written, batch = 0, RATE // 10
    try:
        loop = asyncio.get_running_loop()
        begin = loop.time()
        while loop.time() - begin < seconds:
            await conn.execute(
                "INSERT INTO lag_rows (id, pad) SELECT g, md5(g::text) FROM generate_series($1::bigint, $2) g",
                written + 1,
                written + batch,
            )
            written += batch
            await asyncio.sleep(max(0.0, begin + written / RATE - loop.time()))
    finally:
        await conn.close()
    return written


async def _poller(dsn: str, *, until: asyncio.Event, expected: list[int]) -> list[float]:
    conn = await asyncpg.connect(dsn)
    lags: list[float] = []
    last = 0
    try:
        while not (until.is_set() and expected and last >= expected[0]):
            rows = await conn.fetch(
                "SELECT id, extract(epoch FROM clock_timestamp() - at)::float8 AS lag FROM public.lag_rows"
                " WHERE id > $1 ORDER BY id",
                last,
            )
            if rows:
                lags += [r["lag"] for r in rows]
                last = rows[-1]["id"]
            await asyncio.sleep(0.02)
    finally:
        await conn.close()
    return lags


async def _lag(source: str, target: str) -> dict[str, Any]:
    done, expected = asyncio.Event(), list[int]()
    poller = asyncio.create_task(_poller(target, until=done, expected=expected))
    written = await _writer(source, seconds=LAG_SECONDS)
    expected.append(written)
    done.set()
    lags = await asyncio.wait_for(poller, timeout=120)
    return {
        "name": "drs_lag",
        "rate_rows_per_s": RATE,
        "seconds": LAG_SECONDS,
        "rows": len(lags),
        "p50_s": _p(lags, 0.5),
        "p99_s": _p(lags, 0.99),
        "max_s": _p(lags, 1.0),
    }


async def measure() -> list[dict[str, Any]]:
    """Both figures, on a fresh system."""
    name = unique("drsbench")
    for database in (name, f"{name}_data", f"{name}_src", f"{name}_dst"):
        await create_database(database)
    source = f"{name}_src"
    source_dsn, target_dsn = with_database(database_url(), source), with_database(database_url(), f"{name}_dst")
    await _seed(source_dsn)
    system = make_system(database=name, docstore=f"{name}_data", prefix=f"{name}.", log_dir=ROOT / ".local/bench/logs")
    try:
        org = system.admin("create-org", "bench")
        system.key = system.admin("create-key", "--org", org["id"])
        system.start()
        client, job, lifecycle = await asyncio.to_thread(_lifecycle, system, source, f"{name}_dst")
        lag = await _lag(source_dsn, target_dsn)
        from tests.e2e import drs_support as d

        await asyncio.to_thread(d.terminate, client, job)  # gives the slot back before the databases go
        await asyncio.to_thread(d.wait_status, client, job, "RELEASE_RESOURCE_COMPLETE")
        return [{"name": "drs_lifecycle", "rows": ROWS} | lifecycle, lag]
    finally:
        system.stop()
        await delete_topics(KafkaSettings(bootstrap_servers=bootstrap_servers(), topic_prefix=system.topic_prefix))
        for database in (name, f"{name}_data", f"{name}_src", f"{name}_dst"):
            await drop_database(database)


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    for entry in asyncio.run(measure()):
        sys.stdout.write(f"{entry}\n")
