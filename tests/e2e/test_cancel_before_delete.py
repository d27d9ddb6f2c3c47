"""Deleting what runs cancels it first, with the official clients: an Elasticsearch sync job deleted while it
moves, a connector deleted with its jobs (one moving, one waiting for an external worker), a Polytomic bulk sync
deleted while its execution moves, and a DRS job terminated while it replicates, then deleted. Each run ends
with exactly one terminal event on the run events topic before its record goes. (An AWS DataIntegration with an
association, whose runs these are, cannot be deleted: AWS's own rule.)"""

import asyncio
import uuid

import asyncpg
import pytest
from elasticsearch import Elasticsearch, NotFoundError
from polytomic import Polytomic
from tests.e2e.polytomic_support import big_table as polytomic_table
from tests.e2e.polytomic_support import connections, create_sync, running, start, wait_for
from tests.e2e.test_elastic_first_path import configure
from tests.support.infra import Record, read_topic
from tests.support.system import System

pytestmark = pytest.mark.e2e

TERMINAL = {"syncline.run.completed", "syncline.run.failed", "syncline.run.canceled"}


@pytest.fixture
def es(system: System) -> Elasticsearch:
    return Elasticsearch(system.url, api_key=system.key["encoded"], request_timeout=30)


async def big_table(dsn: str, rows: int = 400_000) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS big (id integer PRIMARY KEY, pad text);"
            f"INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, {rows}) g ON CONFLICT DO NOTHING"
        )
    finally:
        await conn.close()


async def moving_job(es: Elasticsearch, connector_id: str) -> str:
    job_id = str(es.connector.sync_job_post(id=connector_id)["id"])
    async with asyncio.timeout(20):
        while es.connector.sync_job_get(connector_sync_job_id=job_id)["status"] != "in_progress":
            await asyncio.sleep(0.05)
    return job_id


async def gone(es: Elasticsearch, job_id: str, *, timeout_s: float = 20) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            try:
                es.connector.sync_job_get(connector_sync_job_id=job_id)
            except NotFoundError:
                return
            await asyncio.sleep(0.1)


async def terminal_events(system: System, job_ids: list[str]) -> dict[str, list[str]]:
    """Each job's terminal events, once every job has one (and a moment more, for a second one to show)."""

    def ended(records: list[Record]) -> bool:
        return all(any(r.key == j and r.headers.get("ce_type") in TERMINAL for r in records) for j in job_ids)

    topic = system.topic("syncline.runs.events.v1")
    await read_topic(topic, until=ended, timeout_s=30)
    await asyncio.sleep(2)
    records = await read_topic(topic, until=lambda _: False, timeout_s=3)
    return {
        j: [r.headers["ce_type"] for r in records if r.key == j and r.headers["ce_type"] in TERMINAL] for j in job_ids
    }


async def test_deleting_a_moving_sync_job_cancels_it_first(
    es: Elasticsearch, system: System, source_db: tuple[str, str]
) -> None:
    database, dsn = source_db
    await big_table(dsn)
    configure(es, "doomed-job", database=database, index="doomed-job-idx")
    job_id = await moving_job(es, "doomed-job")
    assert es.connector.sync_job_delete(connector_sync_job_id=job_id)["acknowledged"] is True
    await gone(es, job_id)  # its record goes once its executor stopped it
    assert await terminal_events(system, [job_id]) == {job_id: ["syncline.run.canceled"]}


async def test_deleting_a_connector_cancels_its_jobs_first(
    es: Elasticsearch, system: System, source_db: tuple[str, str]
) -> None:
    database, dsn = source_db
    await big_table(dsn)
    configure(es, "doomed", database=database, index="doomed-idx")
    moving = await moving_job(es, "doomed")
    # a connector Syncline has no worker for: its job waits, pending, for an external worker
    es.connector.put(connector_id="doomed-ext", name="external", index_name="doomed-ext-idx", service_type="github")
    waiting = str(es.connector.sync_job_post(id="doomed-ext")["id"])
    es.connector.delete(connector_id="doomed", delete_sync_jobs=True)
    es.connector.delete(connector_id="doomed-ext", delete_sync_jobs=True)
    await gone(es, moving)
    await gone(es, waiting)
    assert await terminal_events(system, [moving, waiting]) == {
        moving: ["syncline.run.canceled"],
        waiting: ["syncline.run.canceled"],
    }


async def run_records(system: System, run_id: str) -> int:
    conn = await asyncpg.connect(system.database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM scheduler.runs WHERE id = $1", run_id))
    finally:
        await conn.close()


async def test_deleting_a_bulk_sync_cancels_its_moving_execution_first(
    api: Polytomic, system: System, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, _ = target_db
    await polytomic_table(source_dsn, "doomed", rows=800_000)
    source, target = connections(api, source_name, target_name)
    sync_id = create_sync(api, source, target, ["public.doomed"])
    run_id = start(api, sync_id)
    wait_for(lambda: running(api, sync_id, run_id), what="the execution starting")
    api.bulk_sync.delete(sync_id)
    assert await terminal_events(system, [run_id]) == {run_id: ["syncline.run.canceled"]}
    async with asyncio.timeout(20):
        while await run_records(system, run_id):  # its record goes once its executor ended it
            await asyncio.sleep(0.1)


async def runs_of(system: System, sync_id: str) -> list[str]:
    conn = await asyncpg.connect(system.database_url)
    try:
        return [r["id"] for r in await conn.fetch("SELECT id FROM scheduler.runs WHERE sync_id = $1", sync_id)]
    finally:
        await conn.close()


@pytest.mark.filterwarnings("ignore:Method .* of DrsClient is deprecated")  # the SDK's own warning
async def test_terminating_and_deleting_a_replicating_drs_job_ends_its_run_once(
    system: System, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    from tests.e2e import drs_support as d
    from tests.e2e.test_drs_postgres import _seed

    (source_name, source), (target_name, _) = source_db, target_db
    await _seed(source)
    client = d.drs(system)
    job = d.ready(
        client,
        source_db=source_name,
        target=d.postgres(target_name),
        tables=("items",),
        task_type="FULL_INCR_TRANS",
        policy={"conflict_policy": "overwrite", "slot_name": f"drs_{uuid.uuid4().hex[:12]}"},
    )
    assert d.start(client, job).status == "success"
    d.wait_status(client, job, "INCRE_TRANSFER_STARTED", timeout_s=90)  # its run follows the change stream
    runs = await runs_of(system, job)
    assert runs
    assert d.terminate(client, job).status == "success"
    d.wait_status(client, job, "RELEASE_RESOURCE_COMPLETE")
    assert d.terminate(client, job, delete_type="delete").status == "success"
    ended = await terminal_events(system, runs)
    assert all(len(types) == 1 for types in ended.values()), ended
    assert ended[runs[-1]] == ["syncline.run.canceled"]
