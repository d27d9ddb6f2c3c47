"""A clean stop of a policy or scheduler replica hands its work over at once: on SIGTERM it stops consuming,
finishes what it handles, commits, and leaves its consumer groups, so the other replica takes its partitions
within seconds, not after the broker's session timeout. (The scheduler holds no lease: its ticks and sweeps are
shared by row locks, which a stopped replica no longer holds.)"""

import asyncio
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from tests.integration.test_scheduler_harness import ORG
from tests.support.infra import create_database, drop_database, unique
from tests.support.system import System, make_system

from syncline_contracts.base import Message
from syncline_contracts.connectors import UpsertConnector
from syncline_contracts.envelope import Envelope
from syncline_contracts.runs import CreateSyncJob
from syncline_contracts.topics import CONNECTOR_COMMANDS, RUN_COMMANDS, Topic
from syncline_platform.kafka import build_broker, delete_topics, publish
from syncline_platform.settings import KafkaSettings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SESSION_TIMEOUT_S = 10.0
"""The consumers' session timeout (aiokafka's default): a replica that vanished without leaving is noticed no
sooner than this."""


@pytest.fixture
async def system() -> AsyncIterator[System]:
    name = unique("handover")
    await create_database(name)
    await create_database(f"{name}_data")
    made = make_system(
        database=name, docstore=f"{name}_data", prefix=f"{name}.", log_dir=ROOT / ".local" / "test-logs" / name
    )
    try:
        yield made
    finally:
        made.stop()
        for database in (f"{name}_data", name):
            await drop_database(database)
        await delete_topics(
            KafkaSettings(bootstrap_servers=made.env["SYNCLINE_KAFKA__BOOTSTRAP_SERVERS"], topic_prefix=f"{name}.")
        )


def ready(system: System, key: str) -> bool:
    try:
        with urllib.request.urlopen(f"{system.ops_url(key)}/readyz", timeout=1) as answer:  # noqa: S310 - loopback
            return bool(answer.status == 200)
    except OSError:
        return False


async def count(system: System, query: str, ids: list[str]) -> int:
    conn = await asyncpg.connect(system.database_url)
    try:
        return int(await conn.fetchval(query, ids) or 0)
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


async def test_a_stopped_replica_hands_over_within_seconds(system: System) -> None:
    keys = [system.start_replica(name, replica=i) for name in ("policy", "scheduler") for i in (0, 1)]
    async with asyncio.timeout(90):
        while not all(ready(system, key) for key in keys):
            await asyncio.sleep(0.2)
    kafka = KafkaSettings(
        bootstrap_servers=system.env["SYNCLINE_KAFKA__BOOTSTRAP_SERVERS"], topic_prefix=system.topic_prefix
    )
    client = build_broker(kafka, service="test-client")
    await client.start()

    async def send(topic: Topic, message: Message) -> None:
        envelope = Envelope(ce_type=message.wire_type(), ce_source="/test", org_id=ORG)
        await publish(client, topic=topic, message=message, envelope=envelope, prefix=kafka.topic_prefix)

    try:
        connectors = [f"handover-{i}" for i in range(16)]  # keys over every partition
        stopped = time.monotonic()
        for key in ("policy-0", "scheduler-0"):
            system.processes[key].terminate()
        for connector_id in connectors:
            await send(
                CONNECTOR_COMMANDS,
                UpsertConnector(
                    connector_id=connector_id,
                    name=connector_id,
                    index_name=f"{connector_id}-idx",
                    service_type="github",
                ),  # no worker of Syncline's: its jobs wait for one
            )
        stored = "SELECT count(*) FROM policy.connectors WHERE id = ANY($1::text[])"
        async with asyncio.timeout(30):
            while await count(system, stored, connectors) < len(connectors):
                await asyncio.sleep(0.05)
        for connector_id in connectors:
            await send(RUN_COMMANDS, CreateSyncJob(run_id=f"{connector_id}-run", sync_id=connector_id))
        runs = [f"{c}-run" for c in connectors]
        created = "SELECT count(*) FROM scheduler.runs WHERE id = ANY($1::text[])"
        async with asyncio.timeout(30):
            while await count(system, created, runs) < len(runs):
                await asyncio.sleep(0.05)
        handed_over = time.monotonic() - stopped
        for key in ("policy-0", "scheduler-0"):
            assert system.processes[key].wait(timeout=15) == 0  # a clean stop
        # both chains went through the remaining replicas sooner than one session timeout would allow
        assert handed_over < SESSION_TIMEOUT_S * 0.8, handed_over
    finally:
        await client.stop()
