"""One trace from an HTTP request to `run.completed`, through every Kafka hop and the outbox.

The four services run as processes with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at a real OTLP/HTTP receiver this
test runs (`tests.support.otlp`). One boto3 call that creates an AWS association goes through the gateway
(FastAPI's server span), policy (the association command), the scheduler (the run's creation) and the executor
(the run, its destination commits, its queries); every one of their spans is in the trace the request started,
the `traceparent` header of the `run.completed` event (published from the executor's outbox) carries it, and so
do the executor's log lines of the run (`trace_id`)."""

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from tests.e2e.aws_support import client, integration, seed_events, wait_status, window
from tests.e2e.polytomic_support import connection, polytomic, wait_for_policy
from tests.support.infra import bootstrap_servers, create_database, drop_database, read_topic, unique
from tests.support.otlp import Receiver, Span, start_receiver
from tests.support.system import ROOT, System, make_system

from syncline_platform.kafka import delete_topics
from syncline_platform.settings import KafkaSettings

pytestmark = pytest.mark.e2e

SERVER, CLIENT = 2, 3
"""OTLP span kinds."""
SERVICES = {"syncline-gateway", "syncline-policy", "syncline-scheduler", "syncline-executor"}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    running = start_receiver()
    yield running
    running.stop()


@pytest.fixture(scope="module")
async def traced(receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    """The four services exporting their spans to `receiver`, with their own databases and topics."""
    name = unique("syncline_trace")
    await create_database(name)
    await create_database(f"{name}_data")
    system = make_system(
        database=name,
        docstore=f"{name}_data",
        prefix=f"{name}.",
        log_dir=ROOT / ".local" / "test-logs" / name,
        files_root=tmp_path_factory.getbasetemp(),
    )
    system.env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    try:
        org = system.admin("create-org", "traced")
        system.key = system.admin("create-key", "--org", org["id"])
        system.start()
        yield system
    finally:
        system.stop()
        await delete_topics(KafkaSettings(bootstrap_servers=bootstrap_servers(), topic_prefix=system.topic_prefix))
        await drop_database(f"{name}_data")
        await drop_database(name)


def _of_trace(receiver: Receiver, trace_id: str, *, timeout_s: float = 20.0) -> list[Span]:
    """The trace's spans, once every service's and the executor's run and commits have arrived."""
    deadline = time.monotonic() + timeout_s
    while True:
        spans = [s for s in receiver.received() if s.trace_id == trace_id]
        names = {s.name for s in spans}
        if {s.service for s in spans} >= SERVICES and {"executor.run", "destination.commit"} <= names:
            return spans
        if time.monotonic() > deadline:
            return spans
        time.sleep(0.2)


async def test_one_trace_from_the_request_to_run_completed(
    traced: System, receiver: Receiver, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    await seed_events(source_dsn, rows=range(1, 4))
    with polytomic(traced) as api:
        wait_for_policy(api)
        source, target = connection(api, source_name, "source"), connection(api, target_db[0], "destination")
    aws = client(traced)
    created = integration(aws, source)
    association = aws.create_data_integration_association(
        DataIntegrationIdentifier=created["Id"],
        DestinationURI=f"postgresql://Syncline/{target}",
        ExecutionConfiguration=window(0, 5),
    )
    assert wait_status(aws, created["Id"])["ExecutionStatus"] == "COMPLETED"
    sync_id = association["DataIntegrationAssociationId"]

    def completed(records: list[Any]) -> list[Any]:
        return [
            r
            for r in records
            if r.headers.get("ce_type") == "syncline.run.completed" and json.loads(r.value)["sync_id"] == sync_id
        ]

    records = await read_topic(traced.topic("syncline.runs.events.v1"), until=lambda rs: bool(completed(rs)))
    [event] = completed(records)
    version, trace_id, parent_id, _ = event.headers["traceparent"].split("-")
    assert version == "00"
    assert event.headers.get("traceparent") != ""

    spans = _of_trace(receiver, trace_id)
    assert {s.service for s in spans} >= SERVICES, sorted({(s.service, s.name) for s in spans})
    # the trace starts at the HTTP request: one root, the gateway's server span of the association's create
    [root] = [s for s in spans if not s.parent_id]
    assert root.service == "syncline-gateway"
    assert root.kind == SERVER
    assert root.name.startswith("POST")
    by_service = {service: {s.name for s in spans if s.service == service} for service in SERVICES}
    assert any("data_integrations.commands" in n and n.endswith("process") for n in by_service["syncline-policy"])
    assert any("runs.commands" in n and n.endswith("process") for n in by_service["syncline-scheduler"])
    assert any("runs.requests" in n and n.endswith("process") for n in by_service["syncline-executor"])
    [run] = [s for s in spans if s.name == "executor.run"]
    assert run.attributes["syncline.sync_id"] == sync_id
    commits = [s for s in spans if s.name == "destination.commit"]
    assert commits
    assert all(c.attributes["syncline.object"] == "public.events" for c in commits)
    assert sum(c.attributes["syncline.rows"] for c in commits) == 3  # rows 1-3 of the window
    # database spans (asyncpg's instrumentation) inside the run, and the event's parent is a span of this trace
    assert any(s.kind == CLIENT and s.service == "syncline-executor" for s in spans)
    assert parent_id in {s.span_id for s in spans if s.service == "syncline-executor"}
    # and the executor's log lines of the run name the trace
    lines = [json.loads(line) for line in (traced.log_dir / "executor.log").read_text().splitlines() if "{" in line]
    [finished] = [line for line in lines if line.get("event") == "run.finished" and line.get("sync_id") == sync_id]
    assert finished["trace_id"] == trace_id
