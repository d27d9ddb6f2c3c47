"""Live run events over server-sent events (`GET /v1/events`): a client connected to its sync's events sees a
run started through `/v1` from `run.created` to `run.completed`; after disconnecting it resumes with
`Last-Event-ID` and gets only what came after that event; another organisation's streams never carry them, not
even when it resumes with one of their ids. The delay from `run.completed` on Kafka to the client is measured."""

import contextlib
import sys
from collections.abc import Callable

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from elasticsearch import Elasticsearch
from tests.e2e.native_support import Frame, events
from tests.e2e.test_elastic_first_path import configure, seed
from tests.support.infra import kafka_options, unique
from tests.support.system import System

pytestmark = pytest.mark.e2e


def of_run(run_id: str) -> Callable[[list[Frame]], bool]:
    return lambda frames: any(f.event == "run.completed" and f.data["run_id"] == run_id for f in frames)


async def kafka_timestamp(system: System, ce_id: str) -> float:
    """When the event with `ce_id` was written to the run events topic (epoch seconds, producer's clock)."""
    consumer = AIOKafkaConsumer(
        system.topic("syncline.runs.events.v1"),
        **kafka_options(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while True:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if dict(record.headers).get("ce_id", b"").decode() == ce_id:
                        return float(record.timestamp) / 1000
    finally:
        await consumer.stop()


async def test_a_run_live_then_resumed_after_last_event_id(system: System, source_db: tuple[str, str]) -> None:
    database, dsn = source_db
    await seed(dsn)
    connector_id = unique("live")
    configure(
        Elasticsearch(system.url, api_key=system.key["encoded"], request_timeout=30),
        connector_id,
        database=database,
        index=f"{connector_id}-idx",
    )
    org = system.key["org_id"]
    other = system.admin("create-key", "--org", system.admin("create-org", "sse-other")["id"])

    async with (
        events(system, key=other["encoded"]) as elsewhere,
        events(system) as everything,
        events(system, sync_id=connector_id) as live,
    ):
        async with httpx.AsyncClient(
            base_url=system.url, headers={"Authorization": f"Bearer {system.key['encoded']}"}, timeout=30
        ) as v1:
            started = await v1.post("/v1/runs", json={"sync_id": connector_id})
        assert started.status_code == 201, started.text
        run_id = started.json()["id"]
        frames = [f for f in await live.until(of_run(run_id)) if f.data["run_id"] == run_id]
        await everything.until(of_run(run_id))
    types = [f.event for f in frames]
    assert types[0] == "run.created"
    assert types[1] == "run.started"
    assert types[-1] == "run.completed"
    assert set(types) <= {"run.created", "run.started", "run.progress", "run.updated", "run.completed"}
    assert all(f.data["sync_id"] == connector_id and f.data["org_id"] == org for f in frames)
    assert frames[-1].data["data"]["counters"]["indexed_document_count"] == 12
    assert {f.data["org_id"] for f in everything.frames} == {org}
    assert all(f.data["org_id"] == other["org_id"] for f in elsewhere.frames)
    assert run_id not in {f.data["run_id"] for f in elsewhere.frames}

    completed = frames[-1]
    latency = completed.received - await kafka_timestamp(system, completed.id or "")
    sys.stderr.write(f"\nSSE delivery latency (run.completed on Kafka -> client): {latency * 1000:.1f} ms\n")
    assert latency < 2.0

    started_frame = frames[1]
    async with events(system, sync_id=connector_id, last_event_id=started_frame.id or "") as resumed:
        again = [f for f in await resumed.until(of_run(run_id)) if f.data["run_id"] == run_id]
    assert [f.id for f in again] == [f.id for f in frames[2:]]

    # another organisation resuming with this organisation's event id gets none of its events
    async with events(system, key=other["encoded"], last_event_id=frames[0].id or "") as foreign:
        with contextlib.suppress(TimeoutError):
            await foreign.until(lambda fs: any(f.data.get("run_id") == run_id for f in fs), timeout_s=2)
    assert run_id not in {f.data.get("run_id") for f in foreign.frames}


async def test_an_unknown_last_event_id_starts_with_a_reset(system: System) -> None:
    async with events(system, last_event_id="not-an-event") as stream:
        frames = await stream.until(lambda fs: len(fs) >= 1, timeout_s=10)
    assert frames[0].event == "stream.reset"
    assert frames[0].data["last_event_id"] == "not-an-event"
