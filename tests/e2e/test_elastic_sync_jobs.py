"""Elasticsearch sync jobs beyond the first path, with the official client: scheduled jobs, cancel, list filters,
delete, incremental jobs and the worker protocol an external worker uses."""

import asyncio
from typing import Any

import asyncpg
import pytest
from elasticsearch import BadRequestError, Elasticsearch, NotFoundError
from tests.e2e.test_elastic_first_path import configure, documents, seed, wait_for_job
from tests.support.system import System

pytestmark = pytest.mark.e2e


@pytest.fixture
def es(system: System) -> Elasticsearch:
    return Elasticsearch(system.url, api_key=system.key["encoded"], request_timeout=30)


async def jobs_of(
    es: Elasticsearch, connector_id: str, *, at_least: int, timeout_s: float = 30
) -> list[dict[str, Any]]:
    async with asyncio.timeout(timeout_s):
        while True:
            listed = es.connector.sync_job_list(connector_id=connector_id)
            if listed["count"] >= at_least:
                return [dict(j) for j in listed["results"]]
            await asyncio.sleep(0.2)


async def test_a_cron_schedule_creates_scheduled_jobs(es: Elasticsearch, source_db: tuple[str, str]) -> None:
    database, dsn = source_db
    await seed(dsn)
    configure(es, "cron", database=database, index="cron-idx")
    es.connector.update_scheduling(
        connector_id="cron", scheduling={"full": {"enabled": True, "interval": "*/2 * * * * ?"}}
    )
    jobs = await jobs_of(es, "cron", at_least=1)
    job = await wait_for_job(es, jobs[0]["id"])
    assert job["trigger_method"] == "scheduled"
    assert job["job_type"] == "full"
    assert job["status"] == "completed"
    assert job["indexed_document_count"] == 12
    # disabling the schedule stops new jobs
    es.connector.update_scheduling(
        connector_id="cron", scheduling={"full": {"enabled": False, "interval": "*/2 * * * * ?"}}
    )
    await asyncio.sleep(1)
    settled = es.connector.sync_job_list(connector_id="cron")["count"]
    await asyncio.sleep(4)
    assert es.connector.sync_job_list(connector_id="cron")["count"] == settled


async def test_list_filters_and_ordering(es: Elasticsearch, source_db: tuple[str, str]) -> None:
    database, dsn = source_db
    await seed(dsn)
    configure(es, "lister", database=database, index="lister-idx")
    first = await wait_for_job(es, es.connector.sync_job_post(id="lister", job_type="full")["id"])
    second = await wait_for_job(es, es.connector.sync_job_post(id="lister", job_type="full")["id"])
    listed = es.connector.sync_job_list(connector_id="lister", status="completed", job_type=["full", "incremental"])
    assert [j["id"] for j in listed["results"]] == [first["id"], second["id"]]  # ascending by creation
    assert es.connector.sync_job_list(connector_id="lister", status="error")["count"] == 0
    assert es.connector.sync_job_list(connector_id="lister", job_type="incremental")["count"] == 0
    page = es.connector.sync_job_list(connector_id="lister", from_=1, size=1)
    assert page["count"] == 2
    assert [j["id"] for j in page["results"]] == [second["id"]]


async def test_cancel_a_pending_job_and_refuse_cancelling_a_finished_one(es: Elasticsearch, system: System) -> None:
    # a connector whose service type Syncline has no worker for: its jobs wait, pending, for an external worker
    es.connector.put(connector_id="ext", name="external", index_name="ext-idx", service_type="github")
    job_id = es.connector.sync_job_post(id="ext")["id"]
    assert es.connector.sync_job_get(connector_sync_job_id=job_id)["status"] == "pending"
    assert es.connector.sync_job_cancel(connector_sync_job_id=job_id)["result"] == "updated"
    canceled = es.connector.sync_job_get(connector_sync_job_id=job_id)
    assert canceled["status"] == "canceled"
    assert canceled["canceled_at"]
    with pytest.raises(BadRequestError) as refused:
        es.connector.sync_job_cancel(connector_sync_job_id=job_id)
    assert "canceled" in refused.value.body["error"]["reason"]
    with pytest.raises(NotFoundError):
        es.connector.sync_job_cancel(connector_sync_job_id="nope")


async def test_cancel_a_running_job(es: Elasticsearch, source_db: tuple[str, str]) -> None:
    database, dsn = source_db
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE big (id integer PRIMARY KEY, pad text);"
            "INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 400000) g"
        )
    finally:
        await conn.close()
    configure(es, "slow", database=database, index="slow-idx")
    job_id = es.connector.sync_job_post(id="slow")["id"]
    async with asyncio.timeout(20):
        while es.connector.sync_job_get(connector_sync_job_id=job_id)["status"] == "pending":
            await asyncio.sleep(0.05)
    es.connector.sync_job_cancel(connector_sync_job_id=job_id)
    canceling = es.connector.sync_job_get(connector_sync_job_id=job_id)
    assert canceling["status"] in ("canceling", "canceled")
    assert canceling["cancelation_requested_at"]
    ended = await wait_for_job(es, job_id, timeout_s=10)  # the executor stops within seconds
    assert ended["status"] == "canceled"
    assert ended["indexed_document_count"] < 400000  # counters kept, the run stopped early


async def test_delete_a_job_and_a_connector_with_its_jobs(es: Elasticsearch, source_db: tuple[str, str]) -> None:
    database, dsn = source_db
    await seed(dsn)
    configure(es, "deleter", database=database, index="deleter-idx")
    one = await wait_for_job(es, es.connector.sync_job_post(id="deleter")["id"])
    two = await wait_for_job(es, es.connector.sync_job_post(id="deleter")["id"])
    assert es.connector.sync_job_delete(connector_sync_job_id=one["id"])["acknowledged"] is True
    with pytest.raises(NotFoundError):
        es.connector.sync_job_get(connector_sync_job_id=one["id"])
    with pytest.raises(NotFoundError):
        es.connector.sync_job_delete(connector_sync_job_id=one["id"])
    es.connector.delete(connector_id="deleter", delete_sync_jobs=True)
    async with asyncio.timeout(10):
        while True:
            try:
                es.connector.sync_job_get(connector_sync_job_id=two["id"])
            except NotFoundError:
                break
            await asyncio.sleep(0.1)


async def test_incremental_jobs_index_only_changed_rows(
    es: Elasticsearch, system: System, source_db: tuple[str, str]
) -> None:
    database, dsn = source_db
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE items (id integer PRIMARY KEY, name text, updated_at timestamptz NOT NULL DEFAULT now());"
            "INSERT INTO items (id, name) SELECT g, 'item ' || g FROM generate_series(1, 20) g"
        )
    finally:
        await conn.close()
    configure(es, "incr", database=database, index="incr-idx")
    es.connector.update_configuration(connector_id="incr", values={"tracking_field": "updated_at"})
    full = await wait_for_job(es, es.connector.sync_job_post(id="incr", job_type="full")["id"])
    assert full["indexed_document_count"] == 20
    assert es.connector.get(connector_id="incr")["sync_cursor"] is not None  # stored when the job completed

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "UPDATE items SET name = 'changed', updated_at = now() WHERE id IN (1, 2);"
            "INSERT INTO items (id, name) VALUES (21, 'new')"
        )
    finally:
        await conn.close()
    incremental = await wait_for_job(es, es.connector.sync_job_post(id="incr", job_type="incremental")["id"])
    assert incremental["status"] == "completed", incremental["error"]
    assert incremental["job_type"] == "incremental"
    assert incremental["indexed_document_count"] == 3
    assert incremental["deleted_document_count"] == 0
    docs = await documents(system, "incr-idx")
    assert len(docs) == 21
    assert docs[f"{database}_public_items_1"]["public_items_name"] == "changed"
    connector = es.connector.get(connector_id="incr")
    assert connector["last_sync_status"] == "completed"
    assert connector["last_indexed_document_count"] == 3


def test_access_control_jobs_are_refused_for_connectors_without_dls(es: Elasticsearch) -> None:
    es.connector.put(connector_id="nodls", name="n", index_name="nodls", service_type="postgresql")
    with pytest.raises(BadRequestError) as refused:
        es.connector.sync_job_post(id="nodls", job_type="access_control")
    assert "document level security" in refused.value.body["error"]["reason"]


async def test_an_external_worker_runs_a_job_through_the_protocol(es: Elasticsearch) -> None:
    es.connector.put(connector_id="worker", name="w", index_name="worker-idx", service_type="github")
    job_id = es.connector.sync_job_post(id="worker")["id"]
    es.connector.sync_job_claim(connector_sync_job_id=job_id, worker_hostname="ext-worker-1", sync_cursor={"page": 1})
    claimed = es.connector.sync_job_get(connector_sync_job_id=job_id)
    assert claimed["status"] == "in_progress"
    assert claimed["worker_hostname"] == "ext-worker-1"
    assert claimed["started_at"]
    with pytest.raises(BadRequestError):  # a claimed job cannot be claimed again
        es.connector.sync_job_claim(connector_sync_job_id=job_id, worker_hostname="ext-worker-2")
    es.connector.sync_job_check_in(connector_sync_job_id=job_id)
    es.connector.sync_job_update_stats(
        connector_sync_job_id=job_id,
        deleted_document_count=1,
        indexed_document_count=10,
        indexed_document_volume=3,
        total_document_count=42,
    )
    stats = es.connector.sync_job_get(connector_sync_job_id=job_id)
    assert (stats["indexed_document_count"], stats["deleted_document_count"]) == (10, 1)
    assert stats["indexed_document_volume"] == 3
    assert stats["total_document_count"] == 42
    es.connector.sync_job_error(connector_sync_job_id=job_id, error="upstream API said no")
    failed = es.connector.sync_job_get(connector_sync_job_id=job_id)
    assert failed["status"] == "error"
    assert failed["error"] == "upstream API said no"
    with pytest.raises(NotFoundError):
        es.connector.sync_job_check_in(connector_sync_job_id="nope")


async def test_sync_rules_decide_what_is_indexed(es: Elasticsearch, system: System, source_db: tuple[str, str]) -> None:
    database, dsn = source_db
    await seed(dsn)
    configure(es, "rules", database=database, index="rules-idx")
    first = await wait_for_job(es, es.connector.sync_job_post(id="rules")["id"])
    assert first["indexed_document_count"] == 12
    es.connector.update_filtering(
        connector_id="rules",
        rules=[
            {
                "id": "keep-7",
                "order": 0,
                "policy": "include",
                "field": "public_customers_id",
                "rule": "equals",
                "value": "7",
            },
            {
                "id": "no-big",
                "order": 1,
                "policy": "exclude",
                "field": "public_customers_id",
                "rule": ">",
                "value": "5",
            },
            {"id": "no-lines", "order": 2, "policy": "exclude", "field": "Table", "rule": "regex", "value": "order_.*"},
        ],
    )
    second = await wait_for_job(es, es.connector.sync_job_post(id="rules")["id"])
    assert second["status"] == "completed"
    assert second["indexed_document_count"] == 6  # customers 1-5, and 7 (the first matching rule wins)
    assert second["deleted_document_count"] == 6  # what the rules now exclude leaves the index
    docs = await documents(system, "rules-idx")
    assert sorted(d["public_customers_id"] for d in docs.values()) == [1, 2, 3, 4, 5, 7]
