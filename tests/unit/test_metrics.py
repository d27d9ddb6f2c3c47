"""A service's metrics without a network: a run's counters count once however often they are reported, a change
stream's lag shows while it runs and goes when it ends, each instance has its own registry, a probe that fails
leaves the scrape whole, and the ops endpoint answers the three paths."""

import asyncio

from prometheus_client.parser import text_string_to_metric_families

from syncline_contracts.runs import ReplicationLag, RunCounters
from syncline_platform.metrics import Metrics
from syncline_platform.ops import OpsServer, Readiness
from syncline_platform.settings import OpsSettings

RUN = {
    "id": "run-1",
    "sync_id": "sync-1",
    "connector": {"spec": {"source": {"type": "postgresql"}, "destination": {"type": "file"}}},
}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def counters(written: int, volume: int, lag: ReplicationLag | None = None) -> RunCounters:
    return RunCounters(indexed_document_count=written, indexed_document_volume_bytes=volume, replication_lag=lag)


async def test_a_runs_counters_are_counted_once() -> None:
    metrics = Metrics(service="executor")
    lag = ReplicationLag(source_lsn="0/20", applied_lsn="0/10", bytes=16, seconds=0.4)
    metrics.run_progress(run=RUN, counters=counters(10, 100, lag))
    metrics.run_progress(run=RUN, counters=counters(10, 100, lag))  # a check-in with nothing new
    metrics.run_progress(run=RUN, counters=counters(25, 300, lag))
    running = samples((await metrics.render()).decode())
    labels = (("destination_type", "file"), ("source_type", "postgresql"))
    assert running[("syncline_rows_moved_total", labels)] == 25
    assert running[("syncline_bytes_moved_total", labels)] == 300
    assert running[("syncline_change_capture_lag_seconds", (("sync_id", "sync-1"),))] == 0.4

    metrics.run_finished(run=RUN, status="completed", counters=counters(30, 310))
    ended = samples((await metrics.render()).decode())
    assert ended[("syncline_rows_moved_total", labels)] == 30
    assert ended[("syncline_runs_finished_total", (("status", "completed"),))] == 1
    assert ("syncline_change_capture_lag_seconds", (("sync_id", "sync-1"),)) not in ended


async def test_each_instance_has_its_own_registry_and_off_records_nothing() -> None:
    on, off = Metrics(service="executor"), Metrics(service="executor", enabled=False)
    on.observe_http(route="/api/x", dialect="polytomic", method="GET", status=200, seconds=0.01)
    off.observe_http(route="/api/x", dialect="polytomic", method="GET", status=200, seconds=0.01)
    off.run_progress(run=RUN, counters=counters(5, 5))
    assert "route=" in (await on.render()).decode()
    quiet = (await off.render()).decode()
    assert "route=" not in quiet
    assert "syncline_rows_moved_total{" not in quiet


async def test_a_failing_probe_leaves_the_scrape_whole() -> None:
    metrics = Metrics(service="policy")

    async def broken(_: Metrics) -> None:
        raise ConnectionResetError("database away")

    async def stuck(_: Metrics) -> None:
        await asyncio.sleep(60)

    metrics.add_probe(broken)
    metrics.add_probe(stuck)
    metrics.dead_lettered(topic="t")
    scraped = samples((await asyncio.wait_for(metrics.render(), timeout=10)).decode())
    assert scraped[("syncline_dead_letters_total", (("topic", "t"),))] == 1
    assert scraped[("syncline_scrape_probe_errors_total", (("probe", "broken"),))] == 1
    assert scraped[("syncline_scrape_probe_errors_total", (("probe", "stuck"),))] == 1


async def test_the_ops_endpoint_answers_its_three_paths() -> None:
    readiness = Readiness()
    ops = OpsServer(settings=OpsSettings(port=0), metrics=Metrics(service="policy"), readiness=readiness)

    async def fine() -> None:
        return None

    async def down() -> None:
        raise ConnectionRefusedError("no server")

    assert (await ops.answer("/healthz"))[0] == 200
    assert (await ops.answer("/readyz"))[0] == 503  # not started yet
    readiness.started = True
    readiness.add("postgres", fine)
    assert (await ops.answer("/readyz"))[0] == 200
    readiness.add("kafka", down)
    status, _, body = await ops.answer("/readyz?verbose=1")
    assert status == 503
    assert b"ConnectionRefusedError: no server" in body
    status, kind, _ = await ops.answer("/metrics")
    assert (status, kind.split(";")[0]) == (200, "text/plain")
    assert (await ops.answer("/nowhere"))[0] == 404
