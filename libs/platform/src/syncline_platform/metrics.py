"""A service's Prometheus metrics: one registry per service instance (no process-wide globals), the figures its
code records as things happen, and the figures read when `/metrics` is scraped.

Recorded as they happen: HTTP latency per route and dialect (gateway), handling time per topic (FastStream's
`KafkaPrometheusMiddleware`, as `syncline_received_processed_messages_duration_seconds` and its siblings), dead
letters, rows and bytes moved and change-capture lag (executor). Read at scrape time (`Probe`s, each bounded in
time): consumer lag, outbox backlog and parked rows, runs by status and dialect (scheduler), webhook deliveries by
outcome (gateway). A probe that fails is logged and leaves its figures as they were.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from syncline_contracts.runs import RunCounters

log = structlog.get_logger(__name__)

PREFIX = "syncline"
PROBE_TIMEOUT_S = 2.0
"""Longest a scrape waits for one probe (a database that does not answer must not hang the scrape)."""
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST

Probe = Callable[["Metrics"], Awaitable[None]]
"""Refreshes some of the registry's figures when `/metrics` is scraped."""


@dataclass
class _Moved:
    """What one run in flight has already added to the counters."""

    source: str
    destination: str
    rows: int = 0
    deleted: int = 0
    bytes: int = 0


class Metrics:
    """The metrics of one service instance."""

    def __init__(self, *, service: str, enabled: bool = True) -> None:
        self.service = service
        self.enabled = enabled
        """Off, nothing is recorded as it happens (the bench's baseline); probes still run at scrape time."""
        self.registry = CollectorRegistry()
        self._probes: list[Probe] = []
        self._runs: dict[str, _Moved] = {}
        self._build()

    def _build(self) -> None:
        def counter(name: str, doc: str, labels: Iterable[str]) -> Counter:
            return Counter(f"{PREFIX}_{name}", doc, list(labels), registry=self.registry)

        def gauge(name: str, doc: str, labels: Iterable[str] = ()) -> Gauge:
            return Gauge(f"{PREFIX}_{name}", doc, list(labels), registry=self.registry)

        self.http_duration = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "HTTP request latency by route template, dialect, method and status.",
            ["route", "dialect", "method", "status"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self.dead_letters = counter("dead_letters_total", "Messages sent to a dead-letter topic.", ["topic"])
        self.rows_moved = counter(
            "rows_moved_total", "Rows written to destinations.", ["source_type", "destination_type"]
        )
        self.rows_deleted = counter(
            "rows_deleted_total", "Rows deleted at destinations.", ["source_type", "destination_type"]
        )
        self.bytes_moved = counter(
            "bytes_moved_total", "Bytes written to destinations.", ["source_type", "destination_type"]
        )
        self.runs_finished = counter("runs_finished_total", "Runs this executor ended, by final status.", ["status"])
        self.capture_lag_s = gauge(
            "change_capture_lag_seconds", "Commit at the source to durable at the destination.", ["sync_id"]
        )
        self.capture_lag_bytes = gauge(
            "change_capture_lag_bytes", "Log bytes from the applied position to the source's flushed end.", ["sync_id"]
        )
        self.consumer_lag = gauge(
            "consumer_lag_messages", "Messages in assigned partitions not yet consumed.", ["topic", "partition"]
        )
        self.outbox_backlog = gauge("outbox_backlog", "Events written to the outbox and not yet published.", ["schema"])
        self.outbox_oldest_s = gauge("outbox_oldest_seconds", "Age of the oldest unpublished outbox event.", ["schema"])
        self.outbox_parked = gauge("outbox_parked", "Outbox events the broker refused, set aside.", ["schema"])
        self.runs = gauge("runs", "Runs by status and dialect.", ["status", "dialect"])
        self.webhook_deliveries = gauge(
            "webhook_deliveries", "Webhook deliveries kept, by outcome (pending, delivered, failed).", ["status"]
        )
        self.stream_releases = gauge(
            "stream_releases_pending", "Replication slots of deleted syncs not yet given back, by state.", ["state"]
        )
        self.scrape_errors = counter("scrape_probe_errors_total", "Probes that failed during a scrape.", ["probe"])

    def kafka_middleware(self) -> KafkaPrometheusMiddleware:
        """FastStream's middleware recording handling time, sizes and outcomes per topic into this registry."""
        return KafkaPrometheusMiddleware(registry=self.registry, app_name=self.service, metrics_prefix=PREFIX)

    def observe_http(self, *, route: str, dialect: str, method: str, status: int, seconds: float) -> None:
        """One HTTP request answered."""
        if self.enabled:
            self.http_duration.labels(route, dialect, method, str(status)).observe(seconds)

    def dead_lettered(self, *, topic: str) -> None:
        """One message sent to `topic`'s dead-letter topic."""
        self.dead_letters.labels(topic).inc()

    def run_progress(self, *, run: Mapping[str, Any], counters: RunCounters) -> None:
        """A run's counters as of now (`run`: its row, with the spec it carries): what they grew by since its last
        report goes to the totals, and a change stream's lag to its gauges."""
        if not self.enabled:
            return
        seen = self._runs.get(run["id"])
        if seen is None:
            seen = self._runs[run["id"]] = _Moved(*endpoint_types(run))
        labels = (seen.source, seen.destination)
        written, deleted = counters.indexed_document_count, counters.deleted_document_count
        volume = counters.indexed_document_volume_bytes or 0
        self.rows_moved.labels(*labels).inc(max(written - seen.rows, 0))
        self.rows_deleted.labels(*labels).inc(max(deleted - seen.deleted, 0))
        self.bytes_moved.labels(*labels).inc(max(volume - seen.bytes, 0))
        seen.rows, seen.deleted = max(written, seen.rows), max(deleted, seen.deleted)
        seen.bytes = max(volume, seen.bytes)
        lag = counters.replication_lag
        if lag is not None:
            self.capture_lag_s.labels(run["sync_id"]).set(lag.seconds)
            self.capture_lag_bytes.labels(run["sync_id"]).set(lag.bytes)

    def run_finished(self, *, run: Mapping[str, Any], status: str, counters: RunCounters) -> None:
        """A run ended with `status` and these last counters."""
        self.run_progress(run=run, counters=counters)
        self._runs.pop(run["id"], None)
        if self.enabled:
            self.runs_finished.labels(str(status)).inc()
        for gauge in (self.capture_lag_s, self.capture_lag_bytes):
            with contextlib.suppress(KeyError):
                gauge.remove(run["sync_id"])

    def add_probe(self, probe: Probe) -> None:
        """Refresh some figures with `probe` at every scrape."""
        self._probes.append(probe)

    async def render(self) -> bytes:
        """Run the probes (each bounded in time), then the registry in Prometheus' text format."""
        for probe in self._probes:
            try:
                await asyncio.wait_for(probe(self), timeout=PROBE_TIMEOUT_S)
            except Exception as exc:  # one figure stale is better than no figures
                name = getattr(probe, "name", getattr(probe, "__name__", "probe"))
                self.scrape_errors.labels(name).inc()
                log.warning("metrics.probe_failed", probe=name, error=repr(exc))
        return generate_latest(self.registry)


def endpoint_types(run: Mapping[str, Any]) -> tuple[str, str]:
    """(source type, destination type) of the spec a run carries ("none" when it carries none)."""
    spec = (run.get("connector") or {}).get("spec") or {}
    return (spec.get("source") or {}).get("type", "none"), (spec.get("destination") or {}).get("type", "none")


def _set_all(gauge: Gauge, values: dict[tuple[str, ...], float]) -> None:
    """Replace every series of `gauge` (label sets that are gone disappear)."""
    gauge.clear()
    for labels, value in values.items():
        gauge.labels(*labels).set(value)


@dataclass
class OutboxProbe:
    """The outbox backlog (count and age of the oldest row) and the parked rows of one service schema."""

    pool: Callable[[], asyncpg.Pool]
    schema: str
    name: str = "outbox"

    async def __call__(self, metrics: Metrics) -> None:
        async with self.pool().acquire() as conn:
            row = await conn.fetchrow(
                f"""
                SELECT (SELECT count(*) FROM "{self.schema}".outbox) AS backlog,
                       (SELECT extract(epoch FROM now() - min(created_at)) FROM "{self.schema}".outbox) AS oldest,
                       (SELECT count(*) FROM "{self.schema}".outbox_parked) AS parked
                """
            )
        assert row is not None  # noqa: S101 - an aggregate always has a row
        metrics.outbox_backlog.labels(self.schema).set(row["backlog"])
        metrics.outbox_oldest_s.labels(self.schema).set(float(row["oldest"] or 0))
        metrics.outbox_parked.labels(self.schema).set(row["parked"])


@dataclass
class ConsumerLagProbe:
    """Per assigned partition of the broker's subscribers: the partition's end minus the consumer's position."""

    broker: KafkaBroker
    name: str = "consumer_lag"

    async def __call__(self, metrics: Metrics) -> None:
        lags: dict[tuple[str, ...], float] = {}
        for consumer in subscriber_consumers(self.broker):
            for tp in consumer.assignment():
                end = consumer.highwater(tp)
                if end is None:
                    continue  # nothing fetched from it yet
                lags[(tp.topic, str(tp.partition))] = max(end - await consumer.position(tp), 0)
        _set_all(metrics.consumer_lag, lags)


def subscriber_consumers(broker: KafkaBroker) -> list[Any]:
    """The started aiokafka consumers of a broker's subscribers."""
    found = (getattr(sub, "consumer", None) for sub in broker.subscribers)
    return [consumer for consumer in found if consumer is not None]


@dataclass
class QueryProbe:
    """A gauge whose series are the rows of one query: every column but the last is a label, the last the value."""

    pool: Callable[[], asyncpg.Pool]
    gauge: Callable[[Metrics], Gauge]
    query: str
    name: str = "query"

    async def __call__(self, metrics: Metrics) -> None:
        async with self.pool().acquire() as conn:
            rows = await conn.fetch(self.query)
        series = {}
        for row in rows:
            *labels, value = row.values()
            series[tuple(str(label) for label in labels)] = float(value)
        _set_all(self.gauge(metrics), series)
