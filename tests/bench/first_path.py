"""Time from `POST /_connector/_sync_job` to its `run.completed` event, for a 10-row table (the whole system)."""

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from aiokafka import AIOKafkaConsumer
from elasticsearch import Elasticsearch

from tests.support.infra import create_database, database_url, drop_database, kafka_options, unique
from tests.support.system import make_system

ROOT = Path(__file__).resolve().parents[2]


async def _seed(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE items (id integer PRIMARY KEY, name text);"
            "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 10) g"
        )
    finally:
        await conn.close()


async def _completed(consumer: AIOKafkaConsumer, run_id: str) -> None:
    while True:
        for batch in (await consumer.getmany(timeout_ms=100)).values():
            for record in batch:
                headers = dict(record.headers)
                if record.key == run_id.encode() and headers.get("ce_type") == b"syncline.run.completed":
                    return


async def measure(runs: int = 20) -> dict[str, Any]:
    """Median, p90 and max latency over `runs` sync jobs."""
    name = unique("bench")
    await create_database(name)
    await create_database(f"{name}_data")
    source = await create_database(f"{name}_src")
    await _seed(source)
    system = make_system(database=name, docstore=f"{name}_data", prefix=f"{name}.", log_dir=ROOT / ".local/bench/logs")
    consumer: AIOKafkaConsumer | None = None
    try:
        system.key = system.admin("create-key", "--org", system.admin("create-org", "bench")["id"])
        system.start()
        es = Elasticsearch(system.url, api_key=system.key["encoded"])
        server = urlsplit(database_url())
        es.connector.put(connector_id="bench", index_name="bench", service_type="postgresql", name="bench")
        es.connector.update_configuration(
            connector_id="bench",
            values={
                "host": server.hostname,
                "port": server.port,
                "username": server.username,
                "password": server.password or "",
                "database": f"{name}_src",
                "tables": ["items"],
            },
        )
        consumer = AIOKafkaConsumer(
            system.topic("syncline.runs.events.v1"),
            **kafka_options(),
            auto_offset_reset="latest",
            enable_auto_commit=False,
        )
        await consumer.start()
        await consumer.getmany(timeout_ms=500)  # join and position at the end before the first job
        latencies = []
        for _ in range(runs + 2):
            started = time.perf_counter()
            job = es.connector.sync_job_post(id="bench")
            await asyncio.wait_for(_completed(consumer, job["id"]), timeout=30)
            latencies.append(time.perf_counter() - started)
        latencies = latencies[2:]  # the first jobs warm connections up
        return {
            "name": "first_path_latency",
            "runs": runs,
            "rows": 10,
            "p50_s": round(statistics.median(latencies), 4),
            "p90_s": round(statistics.quantiles(latencies, n=10)[-1], 4),
            "max_s": round(max(latencies), 4),
        }
    finally:
        if consumer is not None:
            await consumer.stop()
        system.stop()
        for db in (f"{name}_src", f"{name}_data", name):
            await drop_database(db)
