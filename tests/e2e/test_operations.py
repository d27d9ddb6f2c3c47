"""Operations through the whole system: every service answers `/healthz` and `/readyz` on its ops port, and a
Polytomic execution run with the official SDK moves the figures of `/metrics`: the gateway's latency of the route
used (by template and dialect), policy's handling time per topic (FastStream's middleware), the executor's rows
moved and runs finished, the scheduler's runs by status and dialect."""

import time
from collections.abc import Iterable
from typing import Any

import httpx
import pytest
from polytomic import Polytomic
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.polytomic_support import bulk_sync, connections, seed, wait
from tests.support.system import SERVICES, System

pytestmark = pytest.mark.e2e

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(system: System, service: str) -> Samples:
    """Every sample of a service's `/metrics`, by (name, labels)."""
    answer = httpx.get(f"{system.ops_url(service)}/metrics", timeout=10)
    assert answer.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in samples.items() if n == name and wanted <= got)


def names(samples: Samples) -> Iterable[str]:
    return {n for n, _ in samples}


def wait_ready(system: System, service: str, timeout_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        answer = httpx.get(f"{system.ops_url(service)}/readyz", timeout=10)
        if answer.status_code == 200:
            body: dict[str, Any] = answer.json()
            return body
        assert time.monotonic() < deadline, f"{service} not ready: {answer.text}"
        time.sleep(0.3)


async def test_every_service_is_ready_and_a_run_moves_its_metrics(
    system: System, api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    for service in SERVICES:
        assert httpx.get(f"{system.ops_url(service)}/healthz", timeout=10).json() == {"status": "ok"}
        ready = wait_ready(system, service)
        assert set(ready["checks"]) >= {"postgres", "kafka", "migrations"}
    before = {service: scrape(system, service) for service in SERVICES}

    source_name, source_dsn = source_db
    target_name, _ = target_db
    await seed(source_dsn)  # 5 customers
    source, target = connections(api, source_name, target_name)
    sync_id = bulk_sync(api, source, target, ["public.customers"])
    started = api.bulk_sync.start(sync_id).data
    assert started is not None
    assert started.id
    done = wait(api, sync_id, started.id)
    assert done.status == "completed", done.status_message

    after = {service: scrape(system, service) for service in SERVICES}

    def grew(service: str, name: str, **labels: str) -> float:
        return total(after[service], name, **labels) - total(before[service], name, **labels)

    # at least: runs of other tests' schedules may end meanwhile in the same session
    pg = {"source_type": "postgresql", "destination_type": "postgresql"}
    assert grew("executor", "syncline_rows_moved_total", **pg) >= 5
    assert grew("executor", "syncline_bytes_moved_total", **pg) > 0
    assert grew("executor", "syncline_runs_finished_total", status="completed") >= 1
    assert grew("scheduler", "syncline_runs", status="completed", dialect="polytomic") >= 1
    start_route = {"route": "/api/bulk/syncs/{sync_id}/executions", "dialect": "polytomic", "method": "POST"}
    assert grew("gateway", "syncline_http_request_duration_seconds_count", **start_route) == 1
    assert grew("gateway", "syncline_http_request_duration_seconds_sum", **start_route) > 0
    commands = {"handler": system.topic("syncline.syncs.commands.v1")}
    assert grew("policy", "syncline_received_processed_messages_duration_seconds_count", **commands) >= 1
    for service in ("policy", "scheduler", "executor", "gateway"):
        schema = {"schema": service}
        assert total(after[service], "syncline_outbox_backlog", **schema) >= 0
        assert ("syncline_outbox_parked", frozenset(schema.items())) in after[service]
    assert "syncline_consumer_lag_messages" in names(after["executor"])
    assert "syncline_webhook_deliveries" not in names(after["policy"])
