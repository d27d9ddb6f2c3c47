"""Scheduler fire lag and CPU: 10,000 active schedules due within one minute, fired by two scheduler processes.

Fire lag is due time → the run request's Kafka record timestamp (set when the outbox relay hands it to the
producer). CPU is the schedulers' utime + stime (from /proc) over the minute, per 1,000 fires; it includes
claiming, the outbox relay publishing three messages per fire and consuming the scheduler's own run events.

The schedules (Quartz, `S M H * * ?`, one per sync, spread evenly over the minute) are written straight into the
scheduler's tables before the minute starts, so the figures are about firing, not about taking in 10,000
configurations. `SYNCLINE_BENCH_SCHEDULES` sets another count (e.g. for a quick `make bench`).
"""

import asyncio
import json
import os
import statistics
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer
from pydantic import SecretStr

import syncline_policy
from syncline_contracts.schedules import RetryPolicy, Schedule, ScheduleKind
from syncline_contracts.topics import RUN_REQUESTS
from syncline_platform.kafka import delete_topics
from syncline_platform.migrations import apply_migrations
from syncline_scheduler.schedules import fingerprint
from tests.support.connectors import insert_connectors
from tests.support.infra import create_database, drop_database, kafka_options, kafka_settings, unique
from tests.support.system import BIN, make_system

ROOT = Path(__file__).resolve().parents[2]
ORG = "bench-org"
REPLICAS = 2
WINDOW_S = 60


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _start(env: dict[str, str], log_dir: Path) -> list[subprocess.Popen[bytes]]:
    processes = []
    for i in range(REPLICAS):
        with (log_dir / f"scheduler-{i}.log").open("ab") as log:
            processes.append(
                subprocess.Popen(
                    [str(BIN / "syncline-scheduler")],
                    env=env | {"SYNCLINE_INSTANCE_ID": f"scheduler-{i}"},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    return processes


async def _until(check: Any, timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while not await check():
            await asyncio.sleep(0.1)


async def _seed(conn: asyncpg.Connection, *, dsn: str, count: int, start: datetime) -> None:
    """Connectors (policy's table) and one active sync with one Quartz schedule each, due within the window."""
    syncs = [f"sync-{i:05d}" for i in range(count)]
    plain = await asyncpg.connect(dsn)  # insert_connectors encodes its JSON itself: no codec on this connection
    try:
        await insert_connectors(plain, org_id=ORG, ids=syncs, status="connected")
    finally:
        await plain.close()
    retry = RetryPolicy().model_dump(mode="json")
    await conn.executemany(
        "INSERT INTO scheduler.syncs (org_id, sync_id, active, retry, configured_at) VALUES ($1, $2, true, $3, $4)",
        [(ORG, s, retry, start) for s in syncs],
    )
    rows = []
    for i, sync_id in enumerate(syncs):
        due = start + timedelta(seconds=int(i * WINDOW_S / count))
        schedule = Schedule(kind=ScheduleKind.QUARTZ, expression=f"{due.second} {due.minute} {due.hour} * * ?")
        definition = schedule.model_dump(mode="json")
        rows.append((ORG, sync_id, "default", "quartz", definition, fingerprint(schedule), start, due))
    await conn.executemany(
        "INSERT INTO scheduler.schedules (org_id, sync_id, schedule_id, kind, definition, fingerprint,"
        " configured_at, next_fire_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        rows,
    )


async def _request_times(topic: str, count: int) -> dict[str, float]:
    """run id → Kafka timestamp (s) of its run request."""
    consumer = AIOKafkaConsumer(topic, **kafka_options(), auto_offset_reset="earliest")
    await consumer.start()
    times: dict[str, float] = {}
    try:
        async with asyncio.timeout(60):
            while len(times) < count:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    for record in batch:
                        times.setdefault(record.key.decode(), record.timestamp / 1000)
    finally:
        await consumer.stop()
    return times


async def measure(schedules: int | None = None) -> dict[str, Any]:
    """Fire `schedules` (default 10,000) due within one minute on two replicas; lag percentiles and CPU."""
    count = schedules or int(os.environ.get("SYNCLINE_BENCH_SCHEDULES", "10000"))
    name = unique("bench_sched")
    dsn = await create_database(name)
    log_dir = ROOT / ".local" / "bench" / "logs" / name
    system = make_system(database=name, docstore=f"{name}_data", prefix=f"{name}.", log_dir=log_dir)
    env = system.env | {"SYNCLINE_LOG__LEVEL": "WARNING"}
    env.pop("SYNCLINE_KAFKA__MAX_PARTITIONS", None)  # the registry's partition counts, as in production
    await apply_migrations(
        dsn=SecretStr(dsn), schema="policy", directory=Path(syncline_policy.__file__).parent / "migrations"
    )
    processes = _start(env, log_dir)
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "scheduler"})
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    try:
        await _until(lambda: conn.fetchval("SELECT to_regclass('scheduler.ticks') IS NOT NULL"), 60)
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=10)
        await _seed(conn, dsn=dsn, count=count, start=start)
        await asyncio.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds() - 1))
        cpu_before = sum(_cpu_s(p.pid) for p in processes)

        async def fired() -> bool:
            done = await conn.fetchval("SELECT count(*) FROM scheduler.runs") >= count
            return bool(done and await conn.fetchval("SELECT count(*) = 0 FROM scheduler.outbox"))

        await _until(fired, WINDOW_S + 120)
        await asyncio.sleep(2)  # the schedulers take in their own run events
        cpu = sum(_cpu_s(p.pid) for p in processes) - cpu_before
        runs = await conn.fetch("SELECT id, due_at FROM scheduler.runs")
        deciders = await conn.fetch("SELECT decided_by, count(*) FROM scheduler.ticks GROUP BY decided_by")
    finally:
        await conn.close()
        for proc in processes:
            proc.terminate()
        for proc in processes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    try:
        published = await _request_times(RUN_REQUESTS.qualified(f"{name}."), len(runs))
    finally:
        await drop_database(name)
        await delete_topics(kafka_settings(topic_prefix=f"{name}."))
    lags = sorted(published[r["id"]] - r["due_at"].timestamp() for r in runs)
    return {
        "name": "scheduler",
        "fires": len(runs),
        "replicas": REPLICAS,
        "p50_lag_s": round(statistics.median(lags), 3),
        "p99_lag_s": round(lags[max(0, int(len(lags) * 0.99) - 1)], 3),
        "max_lag_s": round(lags[-1], 3),
        "cpu_s_per_1000": round(cpu / len(runs) * 1000, 3),
        "fires_per_replica": sorted(r["count"] for r in deciders),
    }
