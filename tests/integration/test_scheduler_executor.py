"""The scheduler with real executors and policy, as processes: an executor killed with SIGKILL mid-run is noticed
by the reaper, the run ends in error saying why and its retry completes on another executor; cancelling a
pending run ends it at once, cancelling a running one stops it within seconds with its counters kept; an Elastic
connector's runs carry the spec policy compiled for their job type."""

import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from faststream.kafka import KafkaBroker
from pydantic import SecretStr
from tests.integration.test_scheduler_harness import ORG, decode, of_type, wait_for
from tests.support.infra import create_database, database_url, drop_database, read_topic, unique
from tests.support.system import System, make_system

from syncline_connectors.docstore import index_schema
from syncline_connectors.spec import Mode, SyncSpec
from syncline_contracts.base import Message
from syncline_contracts.connectors import ConfigureConnector, UpdateConnector, UpsertConnector
from syncline_contracts.envelope import Envelope
from syncline_contracts.runs import CancelRun, CreateSyncJob
from syncline_contracts.schedules import RetryPolicy, Schedule, ScheduleKind, SchedulesConfigured
from syncline_contracts.status import JobType
from syncline_contracts.topics import CONNECTOR_COMMANDS, RUN_COMMANDS, RUN_EVENTS, SYNC_EVENTS, Topic
from syncline_platform.kafka import build_broker, delete_topics, publish
from syncline_platform.secrets import Sealer
from syncline_platform.settings import KafkaSettings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ROWS = 200_000


@dataclass
class Stack:
    """Policy, scheduler and (when started) an executor, with a client to send them messages."""

    system: System
    client: KafkaBroker
    kafka: KafkaSettings

    async def send(self, topic: Topic, message: Message) -> None:
        envelope = Envelope(ce_type=message.wire_type(), ce_source="/test", org_id=ORG)
        await publish(self.client, topic=topic, message=message, envelope=envelope, prefix=self.kafka.topic_prefix)

    async def run(self, run_id: str) -> dict[str, Any]:
        conn = await asyncpg.connect(self.system.database_url)
        try:
            if await conn.fetchval("SELECT to_regclass('scheduler.runs') IS NULL"):
                return {}
            row = await conn.fetchrow("SELECT * FROM scheduler.runs WHERE id = $1", run_id)
        finally:
            await conn.close()
        return dict(row) if row else {}

    async def runs(self, sync_id: str) -> list[dict[str, Any]]:
        conn = await asyncpg.connect(self.system.database_url)
        try:
            if await conn.fetchval("SELECT to_regclass('scheduler.runs') IS NULL"):
                return []
            rows = await conn.fetch("SELECT * FROM scheduler.runs WHERE sync_id = $1 ORDER BY attempt", sync_id)
        finally:
            await conn.close()
        return [dict(r) for r in rows]

    async def run_where(self, run_id: str, condition: str, *, timeout_s: float = 30) -> dict[str, Any]:
        """Wait until the run matches `condition` (Python over the row)."""

        async def matches() -> dict[str, Any] | None:
            run = await self.run(run_id)
            return run if run and eval(condition, {}, run) else None  # noqa: S307 - the tests' own conditions

        found: dict[str, Any] = await wait_for(matches, timeout_s=timeout_s, every_s=0.05)
        return found

    async def connector(self, connector_id: str, *, database: str) -> None:
        """A connector on the source database, created and configured through policy."""
        server = urlsplit(database_url())
        await self.send(
            CONNECTOR_COMMANDS,
            UpsertConnector(
                connector_id=connector_id,
                name=connector_id,
                index_name=f"{connector_id}-idx",
                service_type="postgresql",
            ),
        )
        values = {
            "host": server.hostname,
            "port": server.port,
            "username": server.username,
            "database": database,
            "schema": "public",
            "tables": ["items"],
        }
        sealer = Sealer(SecretStr(self.system.env["SYNCLINE_SECRET_KEY"]))
        sealed = {"password": sealer.seal(server.password)} if server.password else {}
        configure = ConfigureConnector(connector_id=connector_id, values=values, sealed_secrets=sealed)
        await self.send(CONNECTOR_COMMANDS, configure)

        async def connected() -> bool:
            conn = await asyncpg.connect(self.system.database_url)
            try:
                if await conn.fetchval("SELECT to_regclass('policy.connectors') IS NULL"):
                    return False  # policy is still starting
                status = await conn.fetchval("SELECT status FROM policy.connectors WHERE id = $1", connector_id)
            finally:
                await conn.close()
            return bool(status == "connected")

        await wait_for(connected, timeout_s=30)


def _stop(system: System, name: str) -> None:
    """SIGTERM one service and wait: it leaves its consumer group at once, so the next one starts quickly."""
    system.processes[name].terminate()
    system.processes[name].wait(timeout=15)


async def _seed(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL);"
            f"INSERT INTO items SELECT g, 'item number ' || g FROM generate_series(1, {ROWS}) g"
        )
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[Stack]:
    """Policy and scheduler processes (reaper after 3 s), a big source table and a connector on it."""
    name = unique("schedexec")
    await create_database(name)
    await create_database(f"{name}_data")
    source = await create_database(f"{name}_src")
    await _seed(source)
    system = make_system(
        database=name, docstore=f"{name}_data", prefix=f"{name}.", log_dir=ROOT / ".local" / "test-logs" / name
    )
    system.env |= {
        "SYNCLINE_REAPER_AFTER_S": "3",
        "SYNCLINE_REAPER_INTERVAL_S": "0.5",
        "SYNCLINE_POLL_INTERVAL_S": "0.2",
        "SYNCLINE_BATCH_ROWS": "100",  # many small batches: a run long enough to be killed or cancelled midway
    }
    kafka = KafkaSettings(bootstrap_servers=system.env["SYNCLINE_KAFKA__BOOTSTRAP_SERVERS"], topic_prefix=f"{name}.")
    client = build_broker(kafka, service="test-client")
    try:
        system.start("policy", "scheduler")
        await client.start()
        s = Stack(system=system, client=client, kafka=kafka)
        await s.connector("big", database=f"{name}_src")
        yield s
    finally:
        await client.stop()
        system.stop()
        for database in (f"{name}_src", f"{name}_data", name):
            await drop_database(database)
        await delete_topics(kafka)


async def test_cancel_ends_a_pending_run_at_once_and_stops_a_running_one_keeping_its_counters(stack: Stack) -> None:
    await stack.send(RUN_COMMANDS, CreateSyncJob(run_id="pending-1", sync_id="big"))
    await stack.run_where("pending-1", "status == 'pending'")
    await stack.send(RUN_COMMANDS, CancelRun(run_id="pending-1"))  # no executor is running: it stays pending
    canceled = await stack.run_where("pending-1", "status == 'canceled'")
    assert canceled["canceled_at"] is not None
    assert canceled["started_at"] is None

    stack.system.start("executor")
    try:
        await stack.send(RUN_COMMANDS, CreateSyncJob(run_id="running-1", sync_id="big"))
        running = await stack.run_where("running-1", "status == 'in_progress' and rows_read > 0")
        asked = time.monotonic()
        await stack.send(RUN_COMMANDS, CancelRun(run_id="running-1"))
        stopped = await stack.run_where("running-1", "status == 'canceled'", timeout_s=10)
        assert time.monotonic() - asked < 5.0  # the executor noticed within its check-in interval
        assert stopped["cancelation_requested_at"] is not None
        assert stopped["rows_read"] >= running["rows_read"] > 0  # what it moved before stopping stays on the run
        assert stopped["rows_read"] < ROWS
    finally:
        _stop(stack.system, "executor")

    events = decode(
        await read_topic(
            RUN_EVENTS.qualified(stack.kafka.topic_prefix),
            until=lambda rs: sum(r.headers.get("ce_type") == "syncline.run.canceled" for r in rs) >= 2,
        )
    )
    canceled_events = {e["run_id"]: e for e in of_type(events, "syncline.run.canceled")}
    assert set(canceled_events) == {"pending-1", "running-1"}
    assert canceled_events["running-1"]["counters"]["rows_read"] == stopped["rows_read"]
    assert [e["run_id"] for e in of_type(events, "syncline.run.cancel_requested")] == ["running-1"]


async def test_a_run_whose_executor_was_killed_ends_in_error_and_its_retry_completes(stack: Stack) -> None:
    retry = RetryPolicy(max_attempts=3, base_delay_s=0.5, max_delay_s=1)
    schedule = Schedule(kind=ScheduleKind.ONCE, start_at=datetime.now(UTC).isoformat())
    await stack.send(SYNC_EVENTS, SchedulesConfigured(sync_id="big", schedules=(schedule,), retry=retry))
    stack.system.start("executor")

    async def fired() -> dict[str, Any] | None:
        scheduled = [r for r in await stack.runs("big") if r["trigger_method"] == "scheduled"]
        return scheduled[0] if scheduled else None

    first = await wait_for(fired, timeout_s=30)
    running = await stack.run_where(first["id"], "status == 'in_progress' and rows_read > 0")
    stack.system.kill("executor")  # SIGKILL mid-run: it never checks in again

    failed = await stack.run_where(first["id"], "status == 'error'", timeout_s=15)
    assert re.fullmatch(r"no check-in from worker test-worker since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", failed["error"])
    assert failed["rows_read"] >= running["rows_read"]

    async def retried() -> dict[str, Any] | None:
        later = [r for r in await stack.runs("big") if r["retry_of"] == first["id"]]
        return later[0] if later else None

    second = await wait_for(retried, timeout_s=15)
    assert (second["attempt"], second["trigger_method"], second["status"]) == (2, "scheduled", "pending")

    stack.system.env["SYNCLINE_BATCH_ROWS"] = "100000"
    stack.system.start("executor")  # another executor takes the retry and finishes it
    try:
        done = await stack.run_where(second["id"], "status in ('completed', 'error', 'canceled')", timeout_s=60)
    finally:
        stack.system.kill("executor")
    assert done["status"] == "completed", done["error"]
    assert done["total_document_count"] == ROWS

    events = decode(
        await read_topic(
            RUN_EVENTS.qualified(stack.kafka.topic_prefix),
            until=lambda rs: any(
                r.key == second["id"] and r.headers.get("ce_type") == "syncline.run.completed" for r in rs
            ),
        )
    )
    [failed_event] = [e for e in of_type(events, "syncline.run.failed") if e["run_id"] == first["id"]]
    assert failed_event["error"] == failed["error"]
    [retry_event] = [e for e in of_type(events, "syncline.run.retry_scheduled") if e["run_id"] == first["id"]]
    assert (retry_event["attempt"], retry_event["delay_s"]) == (2, 0.5)


async def _compiled_index(stack: Stack, connector_id: str) -> str | None:
    """The index of the connector's compiled form in policy (once policy compiled its last change)."""
    conn = await asyncpg.connect(stack.system.database_url)
    try:
        index: str | None = await conn.fetchval(
            "SELECT definition->>'index_name' FROM policy.sync_specs WHERE org_id = $1 AND sync_id = $2",
            ORG,
            connector_id,
        )
    finally:
        await conn.close()
    return index


async def test_an_elastic_connectors_runs_carry_the_spec_policy_compiled_for_their_job_type(stack: Stack) -> None:
    """The executor reads only the spec a run carries, whatever the dialect: policy compiles the connector at each
    change, and the scheduler snapshots the spec of the run's job type into the run."""
    source = urlsplit(stack.system.database_url).path.lstrip("/") + "_src"
    await stack.connector("compiled", database=source)
    rules = {"rules": [{"id": "no-7", "policy": "exclude", "field": "name", "rule": "ends_with", "value": "7"}]}
    changes = {"index_name": "moved-idx", "filtering": rules, "sync_cursor": {"tracking_field": "id"}}
    await stack.send(CONNECTOR_COMMANDS, UpdateConnector(connector_id="compiled", changes=changes))

    async def recompiled() -> bool:
        return await _compiled_index(stack, "compiled") == "moved-idx"

    await wait_for(recompiled, timeout_s=30)  # connector commands and run commands are different topics
    runs = {"compiled-full": JobType.FULL, "compiled-incremental": JobType.INCREMENTAL}
    for run_id, job_type in runs.items():
        await stack.send(RUN_COMMANDS, CreateSyncJob(run_id=run_id, sync_id="compiled", job_type=job_type))
    rows = {job_type: await stack.run_where(run_id, "status == 'pending'") for run_id, job_type in runs.items()}
    for run_id in runs:  # no executor is running: they end canceled at once
        await stack.send(RUN_COMMANDS, CancelRun(run_id=run_id))
        await stack.run_where(run_id, "status == 'canceled'")

    snapshots = {job_type: json.loads(row["connector"]) for job_type, row in rows.items()}
    specs = {job_type: SyncSpec.model_validate(snapshot["spec"]) for job_type, snapshot in snapshots.items()}
    assert specs[JobType.FULL].mode is Mode.FULL_WITH_DELETES
    assert specs[JobType.INCREMENTAL].mode is Mode.INCREMENTAL
    assert [o.tracking_field for o in specs[JobType.INCREMENTAL].objects] == ["id"]
    assert [o.tracking_field for o in specs[JobType.FULL].objects] == [None]
    for job_type, spec in specs.items():
        assert spec.sync_id == f"{ORG}/compiled"  # connector ids repeat across organisations: state is keyed by both
        assert [(o.schema_name, o.name) for o in spec.objects] == [("public", "items")]
        assert spec.source.config["database"] == source
        assert spec.destination.type == "docstore"
        assert spec.destination.config["index"] == "moved-idx"
        assert spec.destination.config["schema"] == index_schema(ORG)
        assert "dsn" not in spec.destination.config  # the document store's address is the executor's own
        [block] = spec.destination.config["filtering"]
        assert [r["id"] for r in block["active"]["rules"]] == ["no-7", "DEFAULT"]
        assert snapshots[job_type]["index_name"] == "moved-idx"  # what the sync job shows stays beside the spec
        assert snapshots[job_type]["service_type"] == "postgresql"
