"""The Polytomic dialect through the whole system with the official SDK: latency of the calls a client makes
(create a validated connection, create a bulk sync, start an execution and poll it to `completed`), and one bulk
sync of four tables run with `concurrency_limit` 1 and 4, side by side in one run. In the same run, the cost of the
hostile-input checks on one create's body and of the network rules on one connection host, measured in process,
as a share of those calls' p50."""

import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from polytomic import BulkSyncDefaultScheduleRequest, Polytomic

from syncline_gateway.bodies import BodyLimits, check, refuse_nul
from syncline_platform.network import NetworkPolicy
from syncline_platform.settings import NetworkSettings
from tests.e2e.polytomic_support import polytomic, wait_for_policy
from tests.support.infra import create_database, database_url, drop_database, unique
from tests.support.system import make_system

ROOT = Path(__file__).resolve().parents[2]
TABLES = 4
ROWS = 250_000


async def _seed(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE items (id integer PRIMARY KEY, name text)")
        await conn.execute("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 10) g")
        for n in range(TABLES):
            await conn.execute(
                f"CREATE TABLE wide{n} (id bigint PRIMARY KEY, payload text);"
                f" INSERT INTO wide{n} SELECT g, md5(g::text) FROM generate_series(1, {ROWS}) g"
            )
    finally:
        await conn.close()


def _config(database: str) -> dict[str, Any]:
    server = urlsplit(database_url())
    return {
        "hostname": server.hostname,
        "port": server.port,
        "username": server.username,
        "password": server.password or "",
        "database": database,
    }


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)


def _timed(call: Any, times: int) -> list[float]:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        spent.append(time.perf_counter() - started)
    return spent


def _checks_s(body: bytes, times: int = 5_000) -> float:
    """Median seconds of the gateway's input checks on one request body, in process: the size and depth limits
    and the NUL refusal that `LimitBodies` runs before routing (issue 14's hostile-input checks)."""
    limits = BodyLimits()
    scope = {"type": "http", "path": "/api/bulk/syncs", "query_string": b""}
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        check(body, limits)
        refuse_nul(scope, body)
        spent.append(time.perf_counter() - started)
    return statistics.median(spent)


async def _network_check_s(times: int = 200) -> float:
    """Median seconds of the network rules' check of a connection host (an address literal, as here)."""
    policy = NetworkPolicy(NetworkSettings())
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        await policy.refuse("127.0.0.1", 55432)
        spent.append(time.perf_counter() - started)
    return statistics.median(spent)


def _create_body(source: str, target: str) -> bytes:
    """What the SDK sends for the benchmark's `bulk_sync.create`."""
    body = {
        "name": unique("bench"),
        "source_connection_id": source,
        "destination_connection_id": target,
        "destination_configuration": {"schema": unique("out")},
        "default_schedule": {"frequency": "manual"},
        "mode": "snapshot",
        "schemas": ["public.items"],
    }
    return json.dumps(body).encode()


def _run(api: Polytomic, sync_id: str) -> float:
    """Start an execution and poll it until it ends; seconds from the start call to the status seen."""
    started = time.perf_counter()
    execution = api.bulk_sync.start(sync_id).data
    assert execution is not None
    while True:
        found = api.bulk_sync.executions.get(sync_id, str(execution.id)).data
        assert found is not None
        if found.status in {"completed", "failed", "errors", "canceled"}:
            assert found.status == "completed", found.status_message
            return time.perf_counter() - started
        time.sleep(0.02)


def _sync(api: Polytomic, source: str, target: str, schemas: list[str], **extra: Any) -> str:
    created = api.bulk_sync.create(
        name=unique("bench"),
        source_connection_id=source,
        destination_connection_id=target,
        destination_configuration={"schema": unique("out")},
        default_schedule=BulkSyncDefaultScheduleRequest(frequency="manual"),
        mode="snapshot",
        schemas=schemas,
        **extra,
    ).data
    assert created is not None
    return str(created.id)


def _measure(api: Polytomic, source_db: str, target_db: str, runs: int) -> dict[str, Any]:
    def connect(database: str) -> str:
        made = api.connections.create(
            name=unique("conn"), type="postgresql", configuration=_config(database), validate=True
        ).data
        assert made is not None
        return str(made.id)

    create_connection = _timed(lambda: connect(source_db), runs)
    source, target = connect(source_db), connect(target_db)
    create_sync = _timed(lambda: _sync(api, source, target, ["public.items"]), runs)
    checks = _checks_s(_create_body(source, target))
    network = asyncio.run(_network_check_s())
    small = _sync(api, source, target, ["public.items"])
    _run(api, small)  # warm up
    start_to_completed = [_run(api, small) for _ in range(runs)]
    wide = [f"public.wide{n}" for n in range(TABLES)]
    one_by_one = _run(api, _sync(api, source, target, wide, concurrency_limit=1))
    side_by_side = _run(api, _sync(api, source, target, wide, concurrency_limit=TABLES))
    return {
        "name": "polytomic_api",
        "runs": runs,
        "connection_create_validate_p50_s": _p(create_connection, 0.5),
        "bulk_sync_create_p50_s": _p(create_sync, 0.5),
        "input_checks_per_create_us": round(checks * 1e6, 1),
        "input_checks_share_of_create_p50": round(checks / _p(create_sync, 0.5), 6),
        "network_check_per_connection_us": round(network * 1e6, 1),
        "network_check_share_of_connection_p50": round(network / _p(create_connection, 0.5), 6),
        "start_to_completed_p50_s": _p(start_to_completed, 0.5),
        "start_to_completed_p90_s": _p(start_to_completed, 0.9),
        "tables": TABLES,
        "rows_per_table": ROWS,
        "concurrency_1_s": round(one_by_one, 2),
        f"concurrency_{TABLES}_s": round(side_by_side, 2),
        "concurrency_speedup": round(one_by_one / side_by_side, 2),
        "mean_create_sync_s": round(statistics.mean(create_sync), 4),
    }


async def measure(runs: int = 20) -> dict[str, Any]:
    """Latencies and the concurrency figure, on a fresh system."""
    name = unique("pbench")
    await create_database(name)
    await create_database(f"{name}_data")
    source = await create_database(f"{name}_src")
    await create_database(f"{name}_dst")
    await _seed(source)
    system = make_system(database=name, docstore=f"{name}_data", prefix=f"{name}.", log_dir=ROOT / ".local/bench/logs")
    try:
        system.key = system.admin("create-key", "--org", system.admin("create-org", "bench")["id"])
        system.start()
        with polytomic(system) as api:
            wait_for_policy(api)
            return await asyncio.to_thread(_measure, api, f"{name}_src", f"{name}_dst", runs)
    finally:
        system.stop()
        for database in (name, f"{name}_data", f"{name}_src", f"{name}_dst"):
            await drop_database(database)
