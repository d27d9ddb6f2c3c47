"""Several scheduler processes on one database: 500 schedules due within two seconds each fire exactly once."""

import asyncio
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from tests.integration.test_scheduler_harness import (
    ORG,
    add_connectors,
    decode,
    of_type,
    prepare_database,
    wait_for,
)
from tests.support.infra import create_database, drop_database, read_topic, unique
from tests.support.system import BIN, TEST_PARTITIONS, make_system

from syncline_contracts.envelope import Envelope
from syncline_contracts.schedules import Schedule, ScheduleKind, SchedulesConfigured
from syncline_contracts.topics import RUN_EVENTS, RUN_REQUESTS, SYNC_EVENTS
from syncline_platform.kafka import build_broker, delete_topics, ensure_topics, publish
from syncline_platform.settings import KafkaSettings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCHEDULES = 500


def start_schedulers(env: dict[str, str], count: int, log_dir: Path) -> list[subprocess.Popen[bytes]]:
    processes = []
    for i in range(count):
        log = (log_dir / f"scheduler-{i}.log").open("ab")
        replica_env = env | {"SYNCLINE_INSTANCE_ID": f"scheduler-{i}"}
        processes.append(
            subprocess.Popen([str(BIN / "syncline-scheduler")], env=replica_env, stdout=log, stderr=subprocess.STDOUT)
        )
        log.close()
    return processes


async def wait_started(log_dir: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    """Until every replica logged that it started (migrated, consuming, firing); says which did not, and why."""
    logs = [log_dir / f"scheduler-{i}.log" for i in range(len(processes))]

    def has_started(log: Path) -> bool:
        return log.exists() and '"service.started"' in log.read_text()

    async def started() -> bool:
        return all(has_started(log) for log in logs)

    try:
        await wait_for(started, timeout_s=60, every_s=0.1)
    except TimeoutError:
        late = [
            f"{log.name} (exit {proc.poll()}): {log.read_text()[-1500:] if log.exists() else 'no log'}"
            for log, proc in zip(logs, processes, strict=True)
            if not has_started(log)
        ]
        raise AssertionError("replicas not started within 60 s:\n" + "\n".join(late)) from None


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for proc in processes:
        proc.terminate()
    for proc in processes:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("replicas", [2, 3])
async def test_replicas_fire_each_due_schedule_exactly_once(replicas: int) -> None:
    name = unique("replicas")
    dsn = await create_database(name)
    system = make_system(
        database=name, docstore=f"{name}_data", prefix=f"{name}.", log_dir=ROOT / ".local/test-logs" / name
    )
    env = system.env | {"SYNCLINE_FIRE_BATCH_SIZE": "25", "SYNCLINE_POLL_INTERVAL_S": "0.2"}
    kafka = KafkaSettings(
        bootstrap_servers=env["SYNCLINE_KAFKA__BOOTSTRAP_SERVERS"],
        topic_prefix=f"{name}.",
        max_partitions=TEST_PARTITIONS,
    )
    syncs = [f"s{i:03d}" for i in range(SCHEDULES)]
    await prepare_database(dsn)
    await add_connectors(dsn, syncs)
    await ensure_topics(kafka)
    processes = start_schedulers(env, replicas, system.log_dir)
    client = build_broker(kafka, service="test-client")
    await client.start()
    try:
        await wait_started(system.log_dir, processes)
        start = datetime.now(UTC) + timedelta(seconds=3)  # time to take in the 500 configurations first
        for i, sync_id in enumerate(syncs):  # due within two seconds, in bunches on the same milliseconds
            due = start + timedelta(milliseconds=(i % 50) * 40)
            event = SchedulesConfigured(
                sync_id=sync_id, schedules=(Schedule(kind=ScheduleKind.ONCE, start_at=due.isoformat()),)
            )
            envelope = Envelope(ce_type=event.wire_type(), ce_source="/test", org_id=ORG)
            await publish(client, topic=SYNC_EVENTS, message=event, envelope=envelope, prefix=kafka.topic_prefix)

        conn = await asyncpg.connect(dsn)
        try:

            async def all_fired() -> bool:
                if await conn.fetchval("SELECT to_regclass('scheduler.ticks') IS NULL"):
                    return False  # the replicas are still starting
                fired = await conn.fetchval("SELECT count(*) FROM scheduler.ticks")
                drained = await conn.fetchval("SELECT count(*) = 0 FROM scheduler.outbox")
                return bool(fired >= SCHEDULES and drained)

            await wait_for(all_fired, timeout_s=60)
            await asyncio.sleep(0.5)  # room for a second fire, if there were one
            runs = await conn.fetch("SELECT sync_id, id FROM scheduler.runs")
            ticks = await conn.fetch("SELECT sync_id, outcome, decided_by, run_id FROM scheduler.ticks")
        finally:
            await conn.close()
        requests = await read_topic(  # read past the 500th, to see a second request if there were one
            RUN_REQUESTS.qualified(kafka.topic_prefix), until=lambda rs: len(rs) > SCHEDULES, timeout_s=1.5
        )
        events = decode(
            await read_topic(
                RUN_EVENTS.qualified(kafka.topic_prefix),
                until=lambda rs: sum(r.headers["ce_type"] == "syncline.schedule.fired" for r in rs) >= SCHEDULES,
            )
        )
    finally:
        await client.stop()
        stop(processes)
        await drop_database(name)
        await delete_topics(kafka)

    assert all(proc.returncode in (0, -15) for proc in processes)
    assert Counter(r["sync_id"] for r in runs) == dict.fromkeys(syncs, 1)  # every schedule fired, none twice
    assert len(ticks) == SCHEDULES
    assert {t["outcome"] for t in ticks} == {"fired"}
    assert {t["run_id"] for t in ticks} == {r["id"] for r in runs}
    deciders = Counter(t["decided_by"] for t in ticks)
    assert len(deciders) >= 2, deciders  # the replicas really shared the work
    assert sorted(r.key or "" for r in requests) == sorted(r["id"] for r in runs)  # one request per run
    fired = of_type(events, "syncline.schedule.fired")
    assert Counter(e["sync_id"] for e in fired) == dict.fromkeys(syncs, 1)
