"""Time from an organisation producing `syncline.tenant.run.start` on its commands topic to its consumer reading
`syncline.run.completed` on its events topic, for a 10-row table: the whole system on a secured broker of its own
(SASL/SCRAM-SHA-512 and ACLs), with plain aiokafka clients authenticated by the organisation's key pair."""

import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.e2e.polytomic_support import connection, polytomic, wait_for_policy
from tests.support.infra import create_database, drop_database, unique
from tests.support.secured_kafka import secured_broker, secured_system, tenant_topics

ROOT = Path(__file__).resolve().parents[2]
ROWS = 10


async def _seed(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE items (id integer PRIMARY KEY, name text);"
            f"INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, {ROWS}) g"
        )
    finally:
        await conn.close()


def _headers(ce_type: str) -> tuple[str, list[tuple[str, bytes]]]:
    ce_id = str(uuid.uuid4())
    fields = {"ce_id": ce_id, "ce_type": ce_type, "ce_source": "/bench", "ce_specversion": "1.0"}
    return ce_id, [(k, v.encode()) for k, v in (fields | {"content-type": "application/json"}).items()]


async def _answer(consumer: AIOKafkaConsumer, found: Any) -> dict[str, Any]:
    while True:
        for batch in (await consumer.getmany(timeout_ms=50)).values():
            for record in batch:
                body: dict[str, Any] = json.loads(record.value)
                if found(dict(record.headers).get("ce_type", b"").decode(), body):
                    return body


async def measure(runs: int = 20) -> dict[str, Any]:
    """Median, p90 and max of produce → `run.completed` over `runs` runs (after two warm-up runs)."""
    source, target = unique("kbench_src"), unique("kbench_dst")
    await _seed(await create_database(source))
    await create_database(target)
    with tempfile.TemporaryDirectory(prefix="kafka-bench-") as home:
        async with (
            secured_broker(Path(home)) as broker,
            secured_system(broker, log_dir=ROOT / ".local/bench/logs", files_root=Path(home)) as system,
        ):
            org = system.admin("create-org", "kafka-bench")
            key = system.admin("create-key", "--org", org["id"])
            system.start()
            with polytomic(system, token=key["encoded"]) as api:
                wait_for_policy(api)
                ids = {"source": connection(api, source, "source"), "target": connection(api, target, "target")}
            topics = tenant_topics(system, org["id"])
            producer = AIOKafkaProducer(**broker.tenant_options(key), acks="all", linger_ms=0)
            consumer = AIOKafkaConsumer(
                topics.events,
                **broker.tenant_options(key),
                group_id=f"{topics.base}bench",
                auto_offset_reset="earliest",
            )
            await producer.start()
            await consumer.start()
            try:
                definition = {
                    "name": "bench",
                    "source_connection_id": ids["source"],
                    "destination_connection_id": ids["target"],
                    "destination_configuration": {"schema": "copy"},
                    "schedules": [],
                    "schemas": [{"id": "public.items", "enabled": True}],
                }
                ce_id, headers = _headers("syncline.tenant.sync.create")
                body = json.dumps({"definition": definition}).encode()
                await producer.send_and_wait(topics.commands, body, key=b"bench", headers=headers)
                created = await asyncio.wait_for(_answer(consumer, lambda _t, b: b.get("command_id") == ce_id), 60)
                sync_id = created["resource_id"]
                latencies: list[float] = []
                finished: set[str] = set()

                def done(ce_type: str, b: dict[str, Any]) -> bool:  # runs go one at a time: the next one done
                    return ce_type == "syncline.run.completed" and b.get("run_id") not in finished

                for _ in range(runs + 2):
                    started = time.perf_counter()
                    _, headers = _headers("syncline.tenant.run.start")
                    body = json.dumps({"sync_id": sync_id}).encode()
                    await producer.send_and_wait(topics.commands, body, key=sync_id.encode(), headers=headers)
                    finished.add((await asyncio.wait_for(_answer(consumer, done), 30))["run_id"])
                    latencies.append(time.perf_counter() - started)
            finally:
                await consumer.stop()
                await producer.stop()
    for db in (source, target):
        await drop_database(db)
    latencies = latencies[2:]  # the first runs warm connections up
    return {
        "name": "kafka_interface_latency",
        "runs": runs,
        "rows": ROWS,
        "p50_s": round(statistics.median(latencies), 4),
        "p90_s": round(statistics.quantiles(latencies, n=10)[-1], 4),
        "max_s": round(max(latencies), 4),
    }
