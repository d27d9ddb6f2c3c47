"""The document store is partitioned by organisation, driven with the official `elasticsearch` client only: two
organisations sync into the same index name (with the same connector id) from different sources, and each keeps
exactly its own documents; a full sync deletes only what its own organisation's source no longer has."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from elasticsearch import Elasticsearch
from tests.support.docstore import documents
from tests.support.infra import create_database, database_url, drop_database, unique, with_database
from tests.support.system import System

pytestmark = pytest.mark.e2e

INDEX = "shop"
CONNECTOR = "shop"


@pytest.fixture
async def sources() -> AsyncIterator[tuple[str, str]]:
    """Two fresh source databases (names); dropped afterwards."""
    names = (unique("tenant_a"), unique("tenant_b"))
    try:
        for name in names:
            await create_database(name)
        yield names
    finally:
        for name in names:
            await drop_database(name)


async def sql(database: str, statement: str) -> None:
    conn = await asyncpg.connect(with_database(database_url(), database))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def tenant(system: System, name: str) -> tuple[str, Elasticsearch]:
    """A new organisation and the official client with its key."""
    org = system.admin("create-org", name)
    key = system.admin("create-key", "--org", org["id"])
    return org["id"], Elasticsearch(system.url, api_key=key["encoded"], request_timeout=30)


def connect(es: Elasticsearch, *, database: str) -> None:
    server = urlsplit(database_url())
    es.connector.put(connector_id=CONNECTOR, name="Shop", index_name=INDEX, service_type="postgresql")
    es.connector.update_configuration(
        connector_id=CONNECTOR,
        values={
            "host": server.hostname,
            "port": server.port,
            "username": server.username,
            "password": server.password or "not-needed-on-trust",
            "database": database,
            "schema": "public",
            "tables": ["customers"],
        },
    )


async def full_sync(es: Elasticsearch) -> dict[str, Any]:
    job_id = es.connector.sync_job_post(id=CONNECTOR, job_type="full")["id"]
    async with asyncio.timeout(60):
        while (job := dict(es.connector.sync_job_get(connector_sync_job_id=job_id)))["status"] not in {
            "completed",
            "error",
            "canceled",
        }:
            await asyncio.sleep(0.1)
    assert job["status"] == "completed", job["error"]
    return job


def counts(job: dict[str, Any]) -> tuple[int, int, int]:
    return job["indexed_document_count"], job["deleted_document_count"], job["total_document_count"]


async def test_two_organisations_sharing_an_index_name_keep_their_own_documents(
    system: System, sources: tuple[str, str]
) -> None:
    a_db, b_db = sources
    table = "CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL);"
    await sql(a_db, table + "INSERT INTO customers SELECT g, 'a' || g FROM generate_series(1, 3) g")
    await sql(b_db, table + "INSERT INTO customers SELECT g, 'b' || g FROM generate_series(1, 2) g")
    a_org, a = tenant(system, "tenant-a")
    b_org, b = tenant(system, "tenant-b")
    connect(a, database=a_db)
    connect(b, database=b_db)

    assert counts(await full_sync(a)) == (3, 0, 3)
    # B's full sync of its own `shop` neither sees nor deletes A's documents
    assert counts(await full_sync(b)) == (2, 0, 2)

    a_docs = {f"{a_db}_public_customers_{i}": f"a{i}" for i in (1, 2, 3)}
    b_docs = {f"{b_db}_public_customers_{i}": f"b{i}" for i in (1, 2)}

    async def index_of(org_id: str) -> dict[str, str]:
        found = await documents(system.docstore_url, org_id=org_id, index=INDEX)
        return {doc_id: source["public_customers_name"] for doc_id, source in found.items()}

    assert await index_of(a_org) == a_docs
    assert await index_of(b_org) == b_docs

    # A's next full sync mirrors A's source, where a row is gone: it deletes that one document and none of B's
    await sql(a_db, "DELETE FROM customers WHERE id = 3")
    assert counts(await full_sync(a)) == (2, 1, 2)
    assert counts(await full_sync(b)) == (2, 0, 2)
    del a_docs[f"{a_db}_public_customers_3"]
    assert await index_of(a_org) == a_docs
    assert await index_of(b_org) == b_docs
