"""The envelope travels as Kafka headers and chains causes."""

from datetime import UTC, datetime

from syncline_contracts.envelope import SPEC_VERSION, Envelope


def _envelope(**overrides: str) -> Envelope:
    fields: dict[str, str] = {
        "ce_type": "syncline.connector.upsert",
        "ce_source": "/syncline/gateway",
        "org_id": "org-1",
        "correlation_id": "req-1",
        "causation_id": "cause-1",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    }
    return Envelope.model_validate(fields | overrides)


def test_round_trip() -> None:
    envelope = _envelope()
    headers = envelope.to_headers()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
    back = Envelope.from_headers(headers)
    assert back == envelope
    assert back.ce_time == envelope.ce_time
    assert back.ce_time.tzinfo is not None


def test_headers_carry_every_field() -> None:
    moment = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    envelope = Envelope(ce_id="id-1", ce_type="t", ce_source="/s", ce_time=moment, org_id="o", correlation_id="c")
    headers = envelope.to_headers()
    assert headers["ce_id"] == "id-1"
    assert headers["ce_type"] == "t"
    assert headers["ce_source"] == "/s"
    assert headers["ce_specversion"] == SPEC_VERSION
    assert headers["org_id"] == "o"
    assert headers["correlation_id"] == "c"
    assert datetime.fromisoformat(headers["ce_time"]) == moment


def test_content_type_header() -> None:
    assert _envelope().to_headers()["content-type"] == "application/json"


def test_empty_strings_are_omitted() -> None:
    headers = _envelope(org_id="", correlation_id="", causation_id="", traceparent="").to_headers()
    for name in ("org_id", "causation_id", "traceparent"):
        assert name not in headers
    assert "" not in headers.values()
    assert {"ce_id", "ce_type", "ce_source", "ce_time", "ce_specversion", "content-type"} <= set(headers)


def test_a_chain_root_correlates_to_itself() -> None:
    envelope = _envelope(correlation_id="")
    assert envelope.correlation_id == envelope.ce_id
    assert envelope.to_headers()["correlation_id"] == envelope.ce_id
    assert envelope.caused(ce_type="syncline.run.started", ce_source="/x").correlation_id == envelope.ce_id


def test_omitted_headers_come_back_empty() -> None:
    envelope = _envelope(org_id="", causation_id="")
    back = Envelope.from_headers(envelope.to_headers())
    assert back.org_id == ""
    assert back.causation_id == ""
    assert back == envelope


def test_from_headers_ignores_foreign_headers() -> None:
    envelope = _envelope()
    headers = envelope.to_headers() | {"x-dlq-reason": "boom", "reply_to": "somewhere"}
    back = Envelope.from_headers(headers)
    assert back == envelope
    assert set(back.model_dump()) == set(Envelope.model_fields)


def test_fresh_ids_and_utc_time() -> None:
    a, b = _envelope(), _envelope()
    assert a.ce_id != b.ce_id
    assert a.ce_time.utcoffset() is not None
    assert a.ce_time.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_caused_keeps_tenant_and_correlation() -> None:
    parent = _envelope()
    child = parent.caused(ce_type="syncline.connector.configured", ce_source="/syncline/policy")
    assert child.org_id == parent.org_id == "org-1"
    assert child.correlation_id == parent.correlation_id == "req-1"
    assert child.traceparent == parent.traceparent


def test_caused_points_at_the_parent() -> None:
    parent = _envelope()
    child = parent.caused(ce_type="syncline.connector.configured", ce_source="/syncline/policy")
    assert child.causation_id == parent.ce_id
    assert child.causation_id != parent.causation_id
    assert child.ce_id != parent.ce_id
    assert child.ce_type == "syncline.connector.configured"
    assert child.ce_source == "/syncline/policy"


def test_caused_chain() -> None:
    first = _envelope()
    second = first.caused(ce_type="b", ce_source="/b")
    third = second.caused(ce_type="c", ce_source="/c")
    assert third.causation_id == second.ce_id
    assert len({first.ce_id, second.ce_id, third.ce_id}) == 3
    assert third.correlation_id == first.correlation_id
