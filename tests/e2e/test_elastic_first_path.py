"""The first path, driven with the official `elasticsearch` client only: connector → configuration → sync job →
documents in the store and run events on `syncline.runs.events.v1`."""

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from elasticsearch import AuthenticationException, BadRequestError, Elasticsearch, NotFoundError
from tests.support.docstore import documents as read_index
from tests.support.infra import database_url, read_topic
from tests.support.system import System

pytestmark = pytest.mark.e2e

TERMINAL = {"completed", "error", "canceled"}


def client(system: System, *, key: str | None = None) -> Elasticsearch:
    """The official client, configured only with the gateway's URL and an API key."""
    return Elasticsearch(system.url, api_key=key or system.key["encoded"], request_timeout=30)


async def wait_for_job(es: Elasticsearch, job_id: str, *, timeout_s: float = 30) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        while True:
            job = dict(es.connector.sync_job_get(connector_sync_job_id=job_id))
            if job["status"] in TERMINAL:
                return job
            await asyncio.sleep(0.1)


async def seed(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """
            CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, balance numeric(10,2), tags text[],
                                    profile jsonb, joined timestamptz NOT NULL DEFAULT now());
            CREATE TABLE order_lines (order_id integer, line integer, sku text, PRIMARY KEY (order_id, line));
            INSERT INTO customers (id, name, balance, tags, profile)
                SELECT g, 'customer ' || g, g * 1.5, ARRAY['t' || g], jsonb_build_object('n', g)
                FROM generate_series(1, 10) g;
            INSERT INTO order_lines VALUES (1, 1, 'a'), (1, 2, 'b');
            """
        )
    finally:
        await conn.close()


def configure(es: Elasticsearch, connector_id: str, *, database: str, index: str, tables: Any = "*") -> None:
    server = urlsplit(database_url())
    es.connector.put(connector_id=connector_id, name=f"pg {connector_id}", index_name=index, service_type="postgresql")
    es.connector.update_configuration(
        connector_id=connector_id,
        values={
            "host": server.hostname,
            "port": server.port,
            "username": server.username,
            "password": server.password or "not-needed-on-trust",
            "database": database,
            "schema": "public",
            "tables": tables,
        },
    )


async def documents(system: System, index: str) -> dict[str, dict[str, Any]]:
    """The session organisation's index, read from its schema in the document store."""
    return await read_index(system.docstore_url, org_id=system.key["org_id"], index=index)


async def test_full_sync_indexes_rows_and_deletes_missing_ones(system: System, source_db: tuple[str, str]) -> None:
    database, dsn = source_db
    await seed(dsn)
    es = client(system)
    configure(es, "first-path", database=database, index="first-path-idx")

    connector = es.connector.get(connector_id="first-path")
    assert connector["status"] == "connected"  # the configuration was checked against the live source
    assert connector["error"] is None
    assert connector["index_name"] == "first-path-idx"
    assert connector["configuration"]["password"]["value"] == ""  # secrets are never echoed
    assert connector["configuration"]["database"]["value"] == database

    created = es.connector.sync_job_post(id="first-path", job_type="full", trigger_method="on_demand")
    assert created.meta.status == 201
    job = await wait_for_job(es, created["id"])
    assert job["status"] == "completed", job["error"]
    assert job["indexed_document_count"] == 12
    assert job["deleted_document_count"] == 0
    assert job["total_document_count"] == 12
    assert job["indexed_document_volume"] == 0  # MiB, as Elasticsearch reports it
    assert job["worker_hostname"] == "test-worker"
    assert job["started_at"]
    assert job["completed_at"]
    assert job["last_seen"]
    assert job["started_at"] <= job["completed_at"]
    assert job["connector"]["id"] == "first-path"
    assert job["trigger_method"] == "on_demand"

    docs = await documents(system, "first-path-idx")
    assert len(docs) == 12
    first = docs[f"{database}_public_customers_1"]
    assert first["public_customers_name"] == "customer 1"
    assert first["public_customers_tags"] == ["t1"]
    assert first["public_customers_profile"] == {"n": 1}
    assert first["Table"] == "customers"
    assert f"{database}_public_order_lines_1_2" in docs  # composite keys joined with _

    # Change the source: 3 rows deleted, one updated. The next full sync mirrors it.
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "DELETE FROM customers WHERE id IN (8, 9, 10); UPDATE customers SET name = 'renamed' WHERE id = 1"
        )
    finally:
        await conn.close()
    second = await wait_for_job(es, es.connector.sync_job_post(id="first-path")["id"])
    assert second["status"] == "completed"
    assert second["job_type"] == "full"
    assert second["indexed_document_count"] == 9
    assert second["deleted_document_count"] == 3
    assert second["total_document_count"] == 9
    docs = await documents(system, "first-path-idx")
    assert docs[f"{database}_public_customers_1"]["public_customers_name"] == "renamed"
    assert f"{database}_public_customers_10" not in docs

    listed = es.connector.sync_job_list(connector_id="first-path")
    assert listed["count"] == 2
    assert [j["id"] for j in listed["results"]] == [created["id"], second["id"]]
    assert es.connector.get(connector_id="first-path")["last_sync_status"] == "completed"

    events = await read_topic(
        system.topic("syncline.runs.events.v1"),
        until=lambda rs: sum(r.headers.get("ce_type") == "syncline.run.completed" for r in rs) >= 2,
    )
    for run_id in (created["id"], second["id"]):
        mine = [r for r in events if r.key == run_id]
        types = [r.headers["ce_type"] for r in mine]
        assert types.count("syncline.run.started") == 1
        terminal = [t for t in types if t in {"syncline.run.completed", "syncline.run.failed", "syncline.run.canceled"}]
        assert terminal == ["syncline.run.completed"]
        completed = next(r for r in mine if r.headers["ce_type"] == "syncline.run.completed")
        assert completed.headers["org_id"] == system.key["org_id"]
        assert completed.headers["correlation_id"]  # the HTTP request that started the chain
        assert completed.headers["ce_source"] == "/syncline/executor"
    body = json.loads(
        next(r for r in events if r.key == second["id"] and r.headers["ce_type"].endswith("completed")).value
    )
    assert body["counters"]["deleted_document_count"] == 3


async def test_a_failing_sync_ends_in_error_with_the_reason(system: System) -> None:
    es = client(system)
    configure(es, "broken", database="no_such_database_here", index="broken-idx")
    connector = es.connector.get(connector_id="broken")
    assert connector["status"] == "error"
    assert "no_such_database_here" in connector["error"]
    job = await wait_for_job(es, es.connector.sync_job_post(id="broken")["id"])
    assert job["status"] == "error"
    assert "no_such_database_here" in job["error"]
    assert job["completed_at"]
    events = await read_topic(
        system.topic("syncline.runs.events.v1"),
        until=lambda rs: any(r.key == job["id"] and r.headers.get("ce_type") == "syncline.run.failed" for r in rs),
    )
    failed = [r for r in events if r.key == job["id"] and r.headers["ce_type"] == "syncline.run.failed"]
    assert len(failed) == 1
    assert "no_such_database_here" in json.loads(failed[0].value)["error"]


async def test_errors_come_in_elasticsearch_shape(system: System) -> None:
    es = client(system)
    with pytest.raises(NotFoundError) as missing:
        es.connector.sync_job_post(id="no-such-connector")
    assert missing.value.meta.status == 404
    assert missing.value.body["error"]["type"] == "resource_not_found_exception"
    assert (
        missing.value.body["error"]["root_cause"][0]["reason"]
        == "Connector with id 'no-such-connector' does not exist."
    )
    assert missing.value.meta.headers["X-Elastic-Product"] == "Elasticsearch"

    with pytest.raises(BadRequestError) as unknown:
        es.perform_request(
            "POST",
            "/_connector/_sync_job",
            body={"id": "x", "surprise": 1},
            headers={"content-type": "application/json", "accept": "application/json"},
        )
    assert "unknown field [surprise]" in unknown.value.body["error"]["reason"]
    assert unknown.value.body["status"] == 400

    with pytest.raises(BadRequestError) as empty_id:
        es.connector.sync_job_post(id="")
    assert "[id] of the connector cannot be null or empty" in empty_id.value.body["error"]["reason"]

    with pytest.raises(BadRequestError):
        es.perform_request(
            "POST",
            "/_connector/_sync_job",
            body={"id": "x", "job_type": "sideways"},
            headers={"content-type": "application/json", "accept": "application/json"},
        )

    with pytest.raises(NotFoundError):
        es.connector.sync_job_get(connector_sync_job_id="nope")
    with pytest.raises(NotFoundError):
        es.connector.get(connector_id="nope")

    wrong = Elasticsearch(system.url, api_key=(system.key["id"], "not-the-secret"))
    with pytest.raises(AuthenticationException) as denied:
        wrong.connector.get(connector_id="x")
    assert denied.value.meta.status == 401
    nobody = Elasticsearch(system.url)
    with pytest.raises(AuthenticationException):
        nobody.connector.sync_job_post(id="x")


async def test_each_organisation_sees_only_its_own(system: System, source_db: tuple[str, str]) -> None:
    database, dsn = source_db
    await seed(dsn)
    es = client(system)
    configure(es, "mine", database=database, index="mine-idx")
    other_org = system.admin("create-org", "other")
    other = client(system, key=system.admin("create-key", "--org", other_org["id"])["encoded"])
    with pytest.raises(NotFoundError):
        other.connector.get(connector_id="mine")
    with pytest.raises(NotFoundError):
        other.connector.sync_job_post(id="mine")
    assert other.connector.sync_job_list()["count"] == 0
