"""The executor through its public interface: a run row in `scheduler.runs`, a `RunRequested` on the requests
topic, the executor as its own process; then the documents, the run row and the run events."""

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import SecretStr
from tests.support.infra import (
    bootstrap_servers,
    create_database,
    drop_database,
    kafka_options,
    kafka_settings,
    read_topic,
    unique,
)

from syncline_connectors.docstore import index_schema
from syncline_connectors.spec import run_snapshot
from syncline_contracts.envelope import Envelope
from syncline_contracts.runs import RunRequested
from syncline_contracts.status import JobType
from syncline_contracts.topics import RUN_REQUESTS
from syncline_platform.kafka import build_broker, ensure_topics, publish
from syncline_platform.migrations import apply_migrations
from syncline_platform.secrets import Sealer, generate_key
from syncline_policy.compilers.elastic import compile_connector

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCHEDULER_MIGRATIONS = ROOT / "services/scheduler/src/syncline_scheduler/migrations"
BIN = Path(sys.executable).parent
TERMINAL = {"syncline.run.completed", "syncline.run.failed", "syncline.run.canceled"}
ORG = "5f0c1d2e-8a4b-4c3d-9e2f-0a1b2c3d4e5f"
INDEX = f'{index_schema(ORG)}."big-idx"'


@dataclass
class Plant:
    """Databases, topic prefix and environment of one executor under test."""

    database: str
    docstore: str
    source: str
    source_name: str
    prefix: str
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Any] = field(default_factory=list)

    def start(self, name: str) -> subprocess.Popen[bytes]:
        log = (ROOT / ".local" / "test-logs" / f"{self.prefix}{name}.log").open("ab")
        self.logs.append(log)
        proc = subprocess.Popen([str(BIN / "syncline-executor")], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self.logs:
            log.close()


@pytest.fixture
async def plant() -> AsyncIterator[Plant]:
    names = [unique("exec"), unique("exec_docs"), unique("exec_src")]
    prefix = f"{unique('ex')}."
    result: Plant | None = None
    try:
        dsns = [await create_database(n) for n in names]
        await apply_migrations(dsn=SecretStr(dsns[0]), schema="scheduler", directory=SCHEDULER_MIGRATIONS)
        await ensure_topics(kafka_settings(topic_prefix=prefix))
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCLINE_")}
        env |= {
            "SYNCLINE_DATABASE_URL": dsns[0],
            "SYNCLINE_DOCSTORE_URL": dsns[1],
            "SYNCLINE_KAFKA__BOOTSTRAP_SERVERS": bootstrap_servers(),
            "SYNCLINE_KAFKA__TOPIC_PREFIX": prefix,
            "SYNCLINE_SECRET_KEY": generate_key(),
            "SYNCLINE_LOG__JSON_OUTPUT": "true",
            "SYNCLINE_INSTANCE_ID": "test-executor",
            "SYNCLINE_BATCH_ROWS": "1000",
        }
        (ROOT / ".local" / "test-logs").mkdir(parents=True, exist_ok=True)
        result = Plant(database=dsns[0], docstore=dsns[1], source=dsns[2], source_name=names[2], prefix=prefix, env=env)
        yield result
    finally:
        if result is not None:
            result.stop()
        for name in names:
            await drop_database(name)
        await delete_topics(prefix)


async def delete_topics(prefix: str) -> None:
    admin = AIOKafkaAdminClient(**kafka_options())
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


async def execute(dsn: str, statement: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return (
            await conn.fetchval(statement, *args)
            if args or "RETURNING" in statement or statement.startswith("SELECT")
            else await conn.execute(statement)
        )
    finally:
        await conn.close()


async def new_run(plant: Plant, *, rows: int) -> str:
    """A pending full run of an Elastic connector over a table of `rows` rows."""
    await execute(
        plant.source,
        "CREATE TABLE IF NOT EXISTS big (id int PRIMARY KEY, name text, payload jsonb);"
        f"INSERT INTO big SELECT g, 'row ' || g, jsonb_build_object('g', g)"
        f" FROM generate_series(1, {rows}) g ON CONFLICT DO NOTHING",
    )
    server = urlsplit(plant.source)
    connector = {
        "id": "big-connector",
        "index_name": "big-idx",
        "service_type": "postgresql",
        "configuration": {
            "host": server.hostname,
            "port": server.port,
            "username": server.username,
            "database": plant.source_name,
            "schema": "public",
            "tables": ["big"],
        },
        "sync_cursor": None,
    }
    if server.password:  # a cluster with passwords: the source's is sealed, as policy keeps it
        sealer = Sealer(SecretStr(plant.env["SYNCLINE_SECRET_KEY"]))
        connector["sealed_secrets"] = {"password": sealer.seal(server.password)}
    compiled = compile_connector(connector, org_id=ORG)  # what policy keeps, and the scheduler snapshots of it
    stored = {
        "definition": compiled.definition,
        "specs": {job_type: spec.model_dump(mode="json") for job_type, spec in compiled.specs.items()},
        "error": compiled.error,
    }
    run_id = unique("run")
    await execute(
        plant.database,
        "INSERT INTO scheduler.runs (id, org_id, sync_id, job_type, trigger_method, connector)"
        " VALUES ($1, $3, 'big-connector', 'full', 'on_demand', $2::text::jsonb) RETURNING id",
        run_id,
        json.dumps(run_snapshot(stored, job_type="full")),
        ORG,
    )
    return run_id


async def request(plant: Plant, run_id: str) -> None:
    broker = build_broker(kafka_settings(), service="test")
    await broker.connect()
    try:
        message = RunRequested(run_id=run_id, sync_id="big-connector", job_type=JobType.FULL)
        envelope = Envelope(ce_type=message.wire_type(), ce_source="/test", org_id=ORG)
        await publish(broker, topic=RUN_REQUESTS, message=message, envelope=envelope, prefix=plant.prefix)
    finally:
        await broker.stop()


async def wait_for(check: Any, *, timeout_s: float = 30, every_s: float = 0.05) -> Any:
    async with asyncio.timeout(timeout_s):
        while not (value := await check()):
            await asyncio.sleep(every_s)
    return value


async def run_row(plant: Plant, run_id: str) -> dict[str, Any]:
    conn = await asyncpg.connect(plant.database)
    try:
        row = await conn.fetchrow("SELECT * FROM scheduler.runs WHERE id = $1", run_id)
        assert row is not None
        return dict(row)
    finally:
        await conn.close()


async def moving(plant: Plant, run_id: str) -> bool:
    """The run is in progress and has indexed documents."""
    row = await run_row(plant, run_id)
    return bool(row["status"] == "in_progress" and row["indexed_document_count"] > 0)


def terminal_events(records: Iterator[Any] | list[Any], run_id: str) -> list[str]:
    return [r.headers["ce_type"] for r in records if r.key == run_id and r.headers.get("ce_type") in TERMINAL]


async def test_a_killed_executor_resumes_without_duplicates_or_gaps(plant: Plant) -> None:
    rows = 30_000
    run_id = await new_run(plant, rows=rows)
    first = plant.start("first")
    await request(plant, run_id)

    async def some_batches_done() -> bool:
        if not await execute(plant.database, "SELECT to_regclass('executor.checkpoints') IS NOT NULL"):
            return False  # the executor has not migrated its schema yet
        written = await execute(
            plant.database, "SELECT COALESCE(sum(rows_written), 0) FROM executor.checkpoints WHERE run_id = $1", run_id
        )
        return bool(written >= 5_000)

    await wait_for(some_batches_done)
    first.kill()  # SIGKILL: no clean-up, no terminal event
    first.wait()
    killed_at = await execute(plant.docstore, "SELECT now()")
    assert (await run_row(plant, run_id))["status"] == "in_progress"
    # what the sweep does with a run whose executor stopped checking in
    await execute(plant.database, "UPDATE scheduler.runs SET status = 'suspended' WHERE id = $1 RETURNING 1", run_id)
    plant.start("second")
    await request(plant, run_id)

    async def finished() -> dict[str, Any] | None:
        row = await run_row(plant, run_id)
        return row if row["status"] in ("completed", "error", "canceled") else None

    row = await wait_for(finished, timeout_s=60)
    assert row["status"] == "completed", row["error"]
    assert row["indexed_document_count"] == rows
    assert row["total_document_count"] == rows
    docs = await execute(plant.docstore, f"SELECT count(DISTINCT _id) FROM {INDEX}")
    assert docs == rows
    expected = {f"{plant.source_name}_public_big_{i}" for i in range(1, rows + 1)}
    conn = await asyncpg.connect(plant.docstore)
    try:
        ids = {r["_id"] for r in await conn.fetch(f"SELECT _id FROM {INDEX}")}
        early = await conn.fetchval(f"SELECT count(*) FROM {INDEX} WHERE _indexed_at < $1", killed_at)
    finally:
        await conn.close()
    assert ids == expected
    assert early >= 5_000  # batches checkpointed before the kill were not written again
    events = await read_topic(
        f"{plant.prefix}syncline.runs.events.v1", until=lambda rs: bool(terminal_events(rs, run_id)), timeout_s=20
    )
    assert terminal_events(events, run_id) == ["syncline.run.completed"]


async def test_a_running_run_stops_within_five_seconds_of_a_cancel(plant: Plant) -> None:
    run_id = await new_run(plant, rows=300_000)
    plant.start("canceled")
    await request(plant, run_id)

    await wait_for(lambda: moving(plant, run_id))
    await execute(
        plant.database,
        "UPDATE scheduler.runs SET status = 'canceling', cancelation_requested_at = now() WHERE id = $1 RETURNING 1",
        run_id,
    )
    asked = time.monotonic()

    async def canceled() -> bool:
        return bool((await run_row(plant, run_id))["status"] == "canceled")

    await wait_for(canceled, timeout_s=5)
    assert time.monotonic() - asked < 5
    row = await run_row(plant, run_id)
    assert 0 < row["indexed_document_count"] < 300_000
    events = await read_topic(
        f"{plant.prefix}syncline.runs.events.v1", until=lambda rs: bool(terminal_events(rs, run_id)), timeout_s=20
    )
    assert terminal_events(events, run_id) == ["syncline.run.canceled"]
    body = json.loads(next(r.value for r in events if r.key == run_id and r.headers["ce_type"].endswith("canceled")))
    assert body["counters"]["indexed_document_count"] == row["indexed_document_count"]


async def _written(plant: Plant, run_id: str) -> int:
    return int(
        await execute(
            plant.database, "SELECT COALESCE(sum(rows_written), 0) FROM executor.checkpoints WHERE run_id = $1", run_id
        )
    )


async def test_a_stopped_executor_hands_its_run_on_suspended_and_another_resumes_it(plant: Plant) -> None:
    rows = 200_000
    run_id = await new_run(plant, rows=rows)
    first = plant.start("draining")
    await request(plant, run_id)

    async def some_written() -> bool:
        return await execute(plant.database, "SELECT to_regclass('executor.checkpoints') IS NOT NULL") and bool(
            await _written(plant, run_id) >= 5_000
        )

    await wait_for(some_written)
    first.terminate()  # SIGTERM: the executor drains
    assert first.wait(timeout=30) == 0
    row = await run_row(plant, run_id)
    assert (row["status"], row["attempt"], row["error"]) == ("suspended", 1, None)  # no retry spent, no failure
    # requested again by the drain itself (no sweep, no client): the next executor picks it up and resumes
    plant.start("resuming")

    async def finished() -> dict[str, Any] | None:
        found = await run_row(plant, run_id)
        return found if found["status"] in ("completed", "error", "canceled") else None

    row = await wait_for(finished, timeout_s=90)
    assert row["status"] == "completed", row["error"]
    assert await execute(plant.docstore, f"SELECT count(DISTINCT _id) FROM {INDEX}") == rows
    requests = await read_topic(f"{plant.prefix}{RUN_REQUESTS.name}", until=lambda rs: len(rs) >= 2, timeout_s=10)
    assert [r.key for r in requests] == [run_id, run_id]
    events = await read_topic(
        f"{plant.prefix}syncline.runs.events.v1", until=lambda rs: bool(terminal_events(rs, run_id)), timeout_s=20
    )
    assert terminal_events(events, run_id) == ["syncline.run.completed"]


async def test_a_run_ended_elsewhere_stops_moving_and_sends_nothing(plant: Plant) -> None:
    run_id = await new_run(plant, rows=300_000)
    plant.start("overtaken")
    await request(plant, run_id)

    await wait_for(lambda: moving(plant, run_id))
    # what the sweep does with a run it judged silent (its retry would reuse the staging and checkpoints)
    await execute(
        plant.database,
        "UPDATE scheduler.runs SET status = 'error', error = 'judged silent', completed_at = now()"
        " WHERE id = $1 RETURNING 1",
        run_id,
    )
    await asyncio.sleep(4)  # past the next check-ins
    before = await _written(plant, run_id)
    await asyncio.sleep(3)
    assert await _written(plant, run_id) == before  # the mover stopped
    assert before < 300_000
    row = await run_row(plant, run_id)
    assert (row["status"], row["error"]) == ("error", "judged silent")  # nothing overwrote the sweep's verdict
    events = await read_topic(f"{plant.prefix}syncline.runs.events.v1", until=lambda _: False, timeout_s=2)
    assert terminal_events(events, run_id) == []
