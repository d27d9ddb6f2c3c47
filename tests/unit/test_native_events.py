"""The native API's event hub without a broker: which clients get an event, what a resuming client is replayed,
the bounded buffer, duplicates dropped, and a slow client let go."""

import json
from types import SimpleNamespace
from typing import Any

from syncline_gateway.dialects.native import events
from syncline_gateway.dialects.native.events import EventHub, LiveEvent
from syncline_platform.settings import KafkaSettings


def hub() -> EventHub:
    return EventHub(settings=SimpleNamespace(kafka=KafkaSettings()), pool=None)  # type: ignore[arg-type]


def event(n: int, *, org: str = "o1", run: str = "r1", sync: str = "s1") -> LiveEvent:
    return LiveEvent(id=f"e{n}", type="run.progress", time="", org_id=org, run_id=run, sync_id=sync, data={})


def record(ce_id: str, *, org: str | None, **payload: Any) -> Any:
    headers = [("ce_id", ce_id.encode()), ("ce_type", b"syncline.run.started")]
    headers += [("org_id", org.encode())] if org else []
    return SimpleNamespace(headers=headers, value=json.dumps({"type": "syncline.run.started", **payload}).encode())


def test_a_client_gets_its_organisations_events_that_match_its_filters() -> None:
    h = hub()
    mine, _, _ = h.subscribe(org_id="o1", sync_id=None, run_id=None, last_event_id=None)
    of_run, _, _ = h.subscribe(org_id="o1", sync_id=None, run_id="r2", last_event_id=None)
    theirs, _, _ = h.subscribe(org_id="o2", sync_id=None, run_id=None, last_event_id=None)
    h.publish(event(1))
    h.publish(event(2, run="r2"))
    assert [mine.queue.get_nowait().id for _ in range(2)] == ["e1", "e2"]  # type: ignore[union-attr]
    assert of_run.queue.qsize() == 1
    assert theirs.queue.empty()


def test_a_resuming_client_gets_what_came_after_its_last_event_and_no_one_elses() -> None:
    h = hub()
    for n, org in ((1, "o1"), (2, "o2"), (3, "o1"), (4, "o1")):
        h.publish(event(n, org=org))
    _, missed, found = h.subscribe(org_id="o1", sync_id=None, run_id=None, last_event_id="e1")
    assert found
    assert [e.id for e in missed] == ["e3", "e4"]
    _, missed, found = h.subscribe(org_id="o2", sync_id=None, run_id=None, last_event_id="e1")
    assert not found  # another organisation's id is as unknown as one never seen
    assert missed == []
    _, missed, found = h.subscribe(org_id="o1", sync_id=None, run_id=None, last_event_id="gone")
    assert not found
    assert missed == []


def test_the_buffer_keeps_the_last_events_only(monkeypatch: Any) -> None:
    monkeypatch.setattr(events, "REPLAY_EVENTS", 3)
    h = hub()
    for n in range(5):
        h.publish(event(n))
    assert [e.id for e in h.replay] == ["e2", "e3", "e4"]
    assert not h.subscribe(org_id="o1", sync_id=None, run_id=None, last_event_id="e1")[2]


def test_a_client_too_far_behind_is_let_go(monkeypatch: Any) -> None:
    monkeypatch.setattr(events, "QUEUE_EVENTS", 2)
    h = hub()
    slow, _, _ = h.subscribe(org_id="o1", sync_id=None, run_id=None, last_event_id=None)
    for n in range(4):
        h.publish(event(n))
    assert [slow.queue.get_nowait() for _ in range(slow.queue.qsize())][-1] is None  # the stream ends
    assert slow not in h._clients


async def test_records_are_decoded_once_with_their_organisation() -> None:
    h = hub()
    decoded = await h._decode(record("c1", org="o1", run_id="r1", sync_id="s1", worker="w"))
    assert decoded is not None
    assert (decoded.id, decoded.type, decoded.org_id, decoded.run_id, decoded.sync_id) == (
        "c1",
        "run.started",
        "o1",
        "r1",
        "s1",
    )
    assert decoded.data == {"run_id": "r1", "sync_id": "s1", "worker": "w"}
    h.publish(decoded)
    assert await h._decode(record("c1", org="o1", run_id="r1")) is None  # the outbox sent it again
    assert await h._decode(record("c2", org=None)) is None  # no organisation and no run to find it by
    frame = decoded.frame().decode()
    assert frame.startswith("id: c1\nevent: run.started\ndata: {")
    assert frame.endswith("\n\n")
