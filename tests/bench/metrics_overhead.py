"""What recording metrics and traces costs a request: three gateways side by side on one system, one recording
metrics (HTTP latency, FastStream's Kafka middleware), one with `SYNCLINE_OPS__METRICS=false`, and one recording
metrics and exporting traces (`OTEL_EXPORTER_OTLP_ENDPOINT` at an OTLP/HTTP receiver in this process), called in
turn with the official Polytomic SDK. Figures: p50 of a read (`bulk_sync.list`, PostgreSQL only) and of
`bulk_sync.create` (a command through policy and its outcome) on each, and the differences (the traced gateway's
spans only: policy, which answers the command, does not trace here). Alone:
`uv run python tests/bench/metrics_overhead.py`."""

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import asyncpg
import httpx
from polytomic import BulkSyncDefaultScheduleRequest, Polytomic

from tests.bench.polytomic_api import _config
from tests.e2e.polytomic_support import polytomic, wait_for_policy
from tests.support.infra import create_database, drop_database, unique
from tests.support.otlp import Receiver, start_receiver
from tests.support.system import BIN, System, free_port, make_system

ROOT = Path(__file__).resolve().parents[2]


def _p50(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[len(ordered) // 2] * 1000, 2)


def _sync(api: Polytomic, connection: str) -> Callable[[], None]:
    def create() -> None:
        made = api.bulk_sync.create(
            name=unique("bench"),
            source_connection_id=connection,
            destination_connection_id=connection,
            destination_configuration={"schema": "copy"},
            default_schedule=BulkSyncDefaultScheduleRequest(frequency="manual"),
            mode="snapshot",
            schemas=["public.items"],
        ).data
        assert made is not None

    return create


def _list(api: Polytomic) -> Callable[[], None]:
    def read() -> None:
        api.bulk_sync.list()

    return read


def _interleaved(calls: dict[str, Callable[[], None]], times: int) -> dict[str, list[float]]:
    """Each call `times` times, in turn, the order reversed every round (so load on the shared machine, and what
    one call leaves running, falls on both alike)."""
    spent: dict[str, list[float]] = {name: [] for name in calls}
    for round_ in range(times):
        for name, call in list(calls.items())[:: 1 if round_ % 2 else -1]:
            started = time.perf_counter()
            call()
            spent[name].append(time.perf_counter() - started)
    return spent


def _start_gateway(system: System, *, name: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """Another gateway on the same system, with `env` on top of the system's."""
    port = free_port()
    env = system.env | {"SYNCLINE_PORT": str(port), "SYNCLINE_OPS__PORT": "0"} | env
    log = (system.log_dir / f"gateway-{name}.log").open("ab")
    process = subprocess.Popen([str(BIN / "syncline-gateway")], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):  # noqa: S310 - loopback
                return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the gateway {name} did not start")


def _measure(system: System, urls: dict[str, str], source_db: str, times: int) -> dict[str, Any]:
    with polytomic(system) as recording, httpx.Client(timeout=30) as http:
        bare, traced = (
            Polytomic(base_url=urls[name], token=system.key["encoded"], httpx_client=http, timeout=30)
            for name in ("bare", "traced")
        )
        wait_for_policy(recording)
        made = recording.connections.create(name=unique("pg"), type="postgresql", configuration=_config(source_db))
        assert made.data is not None
        connection = str(made.data.id)
        for api in (recording, bare, traced):  # warm them up
            _interleaved({"list": _list(api), "create": _sync(api, connection)}, 5)
        spent = _interleaved(
            {"list_on": _list(recording), "list_off": _list(bare), "list_traced": _list(traced)}, times
        )
        creates = {"create_on": _sync(recording, connection), "create_off": _sync(bare, connection)}
        spent |= _interleaved(creates | {"create_traced": _sync(traced, connection)}, times)
    figures = {name: _p50(values) for name, values in spent.items()}
    return {
        "name": "metrics_overhead",
        "requests_each": times,
        "bulk_sync_list_p50_ms_metrics_on": figures["list_on"],
        "bulk_sync_list_p50_ms_metrics_off": figures["list_off"],
        "bulk_sync_create_p50_ms_metrics_on": figures["create_on"],
        "bulk_sync_create_p50_ms_metrics_off": figures["create_off"],
        "list_overhead_ms": round(figures["list_on"] - figures["list_off"], 2),
        "create_overhead_ms": round(figures["create_on"] - figures["create_off"], 2),
        "bulk_sync_list_p50_ms_traced": figures["list_traced"],
        "bulk_sync_create_p50_ms_traced": figures["create_traced"],
        "list_trace_overhead_ms": round(figures["list_traced"] - figures["list_on"], 2),
        "create_trace_overhead_ms": round(figures["create_traced"] - figures["create_on"], 2),
    }


async def measure(times: int = 60) -> dict[str, Any]:
    """The figures, on a fresh system."""
    name = unique("mbench")
    await create_database(name)
    await create_database(f"{name}_data")
    source = await create_database(f"{name}_src")
    conn = await asyncpg.connect(source)
    try:
        await conn.execute("CREATE TABLE items AS SELECT g AS id, 'item ' || g AS name FROM generate_series(1, 10) g")
        await conn.execute("ALTER TABLE items ADD PRIMARY KEY (id)")
    finally:
        await conn.close()
    system = make_system(database=name, docstore=f"{name}_data", prefix=f"{name}.", log_dir=ROOT / ".local/bench/logs")
    gateways: list[subprocess.Popen[bytes]] = []
    receiver: Receiver = start_receiver()
    try:
        system.key = system.admin("create-key", "--org", system.admin("create-org", "bench")["id"])
        system.start()
        urls = {}
        for gateway, env in (
            ("bare", {"SYNCLINE_OPS__METRICS": "false"}),
            ("traced", {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}),
        ):
            process, urls[gateway] = _start_gateway(system, name=gateway, env=env)
            gateways.append(process)
        figures = await asyncio.to_thread(_measure, system, urls, f"{name}_src", times)
        return figures | {"spans_received": len(receiver.received())}
    finally:
        for process in gateways:
            process.terminate()
            process.wait(timeout=15)
        receiver.stop()
        system.stop()
        for database in (name, f"{name}_data", f"{name}_src"):
            await drop_database(database)


if __name__ == "__main__":
    sys.stdout.write(json.dumps(asyncio.run(measure()), indent=2) + "\n")
