"""OpenTelemetry traces: one set-up per process, exported by OTLP/HTTP only when `OTEL_EXPORTER_OTLP_ENDPOINT`
is set.

`setup_tracing(service=...)` (called by each service's `run()`, after logging) installs a tracer provider with
a batching OTLP exporter (the SDK reads the standard `OTEL_EXPORTER_OTLP_*` variables itself), and instruments
asyncpg and httpx; the gateway adds FastAPI's instrumentation and every broker FastStream's
`KafkaTelemetryMiddleware` (`kafka_middlewares()`), which starts a span for each publish and each consumed message
and carries the W3C `traceparent` in the Kafka headers. Without the variable nothing is installed: the helpers
below check one module attribute and return, no middleware is added, no library is patched, no span is made.

A trace survives the outbox: `outbox.enqueue` stores the current span's `traceparent` in the row's headers, and
the relay publishes the row under that context (`restored`), so the consumer's span joins the trace of the
request that caused the row. Root spans of database or HTTP clients (the outbox relay's polls, scrape-time
probes) are not sampled: outside a request, message or run they are noise.
"""

import contextlib
import os
import time
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import Any

from opentelemetry import context, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
"""Where spans go (an OTLP/HTTP receiver, e.g. `http://127.0.0.1:4318`); unset, tracing is off."""
TRACER_NAME = "syncline"

_PROPAGATOR = TraceContextTextMapPropagator()


class _State:
    provider: TracerProvider | None = None
    tracer: trace.Tracer | None = None


_state = _State()


class _NoOrphanClients(Sampler):
    """Samples every root span except a client call's (a database query or HTTP call outside any request,
    message or run)."""

    def should_sample(  # noqa: PLR0917 - the SDK's signature
        self,
        parent_context: context.Context | None,
        trace_id: int,
        name: str,
        kind: trace.SpanKind | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
        links: Sequence[trace.Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if kind is trace.SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return "NoOrphanClients"


def setup_tracing(*, service: str, environ: Mapping[str, str] | None = None) -> bool:
    """Install tracing for this process when `OTEL_EXPORTER_OTLP_ENDPOINT` is set; True when it is on. Once per
    process: a second call keeps the first set-up."""
    environ = os.environ if environ is None else environ
    if not environ.get(ENDPOINT_VARIABLE):
        return False
    if _state.provider is not None:
        return True
    # imported here, not with the module: they take a second or more to load, and processes that do not trace
    # (with the module imported for its no-op helpers: every service, the admin command) never need them
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor  # noqa: PLC0415
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor  # noqa: PLC0415

    resource = Resource.create({"service.name": environ.get("OTEL_SERVICE_NAME") or f"syncline-{service}"})
    provider = TracerProvider(resource=resource, sampler=ParentBased(root=_NoOrphanClients()))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    _state.provider = provider
    _state.tracer = provider.get_tracer(TRACER_NAME)
    return True


def enabled() -> bool:
    """Is tracing on in this process?"""
    return _state.provider is not None


def provider() -> TracerProvider | None:
    """The tracer provider (None when tracing is off)."""
    return _state.provider


def kafka_middlewares() -> list[Any]:
    """FastStream's telemetry middleware for a broker, first in its chain (empty when tracing is off)."""
    if _state.provider is None:
        return []
    from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware  # noqa: PLC0415 - see setup_tracing

    return [KafkaTelemetryMiddleware(tracer_provider=_state.provider, include_messages_counters=False)]


def add_trace_ids(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the current span's `trace_id` and `span_id` on a log line (with tracing on), so a
    line leads to its trace."""
    if _state.provider is not None:
        found = trace.get_current_span().get_span_context()
        if found.is_valid:
            event["trace_id"] = format(found.trace_id, "032x")
            event["span_id"] = format(found.span_id, "016x")
    return event


def current_traceparent() -> str:
    """The W3C `traceparent` of the current span ("" when tracing is off or no span is current)."""
    if _state.provider is None:
        return ""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent", "")


@contextlib.contextmanager
def restored(traceparent: str | None) -> Iterator[None]:
    """Run the block in the trace `traceparent` names (as it was stored with an outbox row, say)."""
    if _state.provider is None or not traceparent:
        yield
        return
    token = context.attach(_PROPAGATOR.extract({"traceparent": traceparent}))
    try:
        yield
    finally:
        context.detach(token)


@contextlib.contextmanager
def span(name: str, attributes: Mapping[str, AttributeValue] | None = None) -> Iterator[None]:
    """A span around the block, a child of the current one (nothing when tracing is off)."""
    if _state.tracer is None:
        yield
        return
    with _state.tracer.start_as_current_span(name, attributes=attributes):
        yield


def now_ns() -> int:
    """A span start time (0 when tracing is off: nothing will be recorded)."""
    return time.time_ns() if _state.tracer is not None else 0


def record(name: str, *, start_ns: int, attributes: Mapping[str, AttributeValue] | None = None) -> None:
    """A span that began at `start_ns` and ends now, a child of the current one (a destination's commit of a
    batch: read, written and made durable since the previous one)."""
    if _state.tracer is None:
        return
    _state.tracer.start_span(name, start_time=start_ns, attributes=attributes).end()
