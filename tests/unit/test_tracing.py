"""Tracing off (no `OTEL_EXPORTER_OTLP_ENDPOINT`) installs nothing and makes no span; the sampler drops only
orphan client spans; the test receiver decodes what the SDK's OTLP encoder sends."""

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision
from tests.support.otlp import decode

from syncline_platform import tracing


def test_without_an_endpoint_tracing_stays_off() -> None:
    assert tracing.setup_tracing(service="test", environ={}) is False
    assert tracing.setup_tracing(service="test", environ={tracing.ENDPOINT_VARIABLE: ""}) is False
    assert not tracing.enabled()
    assert tracing.provider() is None
    assert tracing.kafka_middlewares() == []
    assert tracing.current_traceparent() == ""
    assert tracing.now_ns() == 0
    with tracing.span("nothing"), tracing.restored("00-" + "1" * 32 + "-" + "2" * 16 + "-01"):
        assert not trace.get_current_span().get_span_context().is_valid
    tracing.record("nothing", start_ns=0)


def test_root_client_spans_are_not_sampled() -> None:
    sampler = tracing._NoOrphanClients()
    assert sampler.should_sample(None, 1, "SELECT", kind=trace.SpanKind.CLIENT).decision is Decision.DROP
    for kind in (trace.SpanKind.SERVER, trace.SpanKind.PRODUCER, trace.SpanKind.CONSUMER, trace.SpanKind.INTERNAL):
        assert sampler.should_sample(None, 1, "x", kind=kind).decision is Decision.RECORD_AND_SAMPLE


def test_the_receiver_decodes_an_export() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "syncline-test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with (
        tracer.start_as_current_span("parent", kind=trace.SpanKind.SERVER),
        tracer.start_as_current_span("child", attributes={"syncline.rows": 5}),
    ):
        pass
    spans = decode(encode_spans(exporter.get_finished_spans()).SerializeToString())
    by_name = {s.name: s for s in spans}
    assert by_name["child"].parent_id == by_name["parent"].span_id
    assert by_name["child"].trace_id == by_name["parent"].trace_id
    assert by_name["child"].attributes == {"syncline.rows": 5}
    assert by_name["parent"].kind == 2
    assert {s.service for s in spans} == {"syncline-test"}
