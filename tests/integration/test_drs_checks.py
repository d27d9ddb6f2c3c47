"""DRS's live checks through the connectors, against the real PostgreSQL server and broker: a DRS endpoint is
tested, discovered and prechecked by the connectors' code, so the guard against Syncline's own databases holds
for DRS too."""

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from tests.support.infra import (
    create_database,
    database_url,
    drop_database,
    kafka_destination,
    unique,
    with_database,
)

from syncline_connectors.reach import OwnDatabases, Reach
from syncline_platform.errors import InvalidError
from syncline_policy import drs_checks
from syncline_policy.drs_rules import FAILED, INVALID, DrsItemError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def source() -> AsyncIterator[str]:
    """A database with a keyed table, an unkeyed one and one in another schema; its name."""
    name = unique("drs_checks")
    dsn = await create_database(name)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE keyed (id int PRIMARY KEY); INSERT INTO keyed SELECT generate_series(1, 3);"
            "CREATE TABLE loose (v int); CREATE SCHEMA shop; CREATE TABLE shop.orders (id int PRIMARY KEY);"
            "CREATE TABLE _syncline_staging (id int)"
        )
    finally:
        await conn.close()
    yield name
    await drop_database(name)


def endpoint(database: str) -> dict[str, Any]:
    server = urlsplit(database_url())
    return {
        "db_type": "postgresql",
        "ip": server.hostname,
        "db_port": server.port,
        "db_user": server.username,
        "db_name": database,
    }


def password() -> str:
    return urlsplit(database_url()).password or ""


async def test_a_postgresql_endpoint_is_tested_by_its_connector(source: str) -> None:
    assert await drs_checks.test_endpoint(endpoint(source), password=password(), reach=Reach()) is None
    problem = await drs_checks.test_endpoint(endpoint(unique("missing")), password=password(), reach=Reach())
    assert problem is not None
    assert problem.startswith("Failed to connect to the database at ")
    assert "does not exist" in problem


def kafka_endpoint() -> tuple[dict[str, Any], str]:
    """The test broker as a DRS Kafka target and its password: on a secured broker, a SASL one (protocol and
    mechanism in `kafka_security_config`, the customer principal in `db_user`)."""
    destination = kafka_destination()
    answers: dict[str, Any] = {"db_type": "kafka", "ip": destination["bootstrap_servers"]}
    if "sasl_username" not in destination:
        return answers, ""
    security = {"type": destination["security_protocol"], "sasl_mechanism": destination["sasl_mechanism"]}
    sasl = {"db_user": destination["sasl_username"], "kafka_security_config": security}
    return answers | sasl, destination["sasl_password"]


async def test_a_kafka_endpoint_is_tested_by_its_connector() -> None:
    answers, secret = kafka_endpoint()
    assert await drs_checks.test_endpoint(answers, password=secret, reach=Reach()) is None
    if secret:  # a SASL target with a wrong password does not pass
        assert await drs_checks.test_endpoint(answers, password=secret + "-wrong", reach=Reach()) is not None
    problem = await drs_checks.test_endpoint({"db_type": "kafka", "ip": "127.0.0.1:1"}, password="", reach=Reach())
    assert (problem or "").startswith("Kafka at [127.0.0.1:1] does not answer: ")


async def test_tables_are_resolved_from_the_connectors_discovery(source: str) -> None:
    async def resolve(selection: dict[str, Any]) -> list[tuple[Any, ...]]:
        found = await drs_checks.resolve_tables(
            endpoint(source), password=password(), reach=Reach(), selection=selection
        )
        return [(t["schema"], t["table"], t["alias"]) for t in found]

    everything = [("public", "keyed", None), ("public", "loose", None), ("shop", "orders", None)]
    assert await resolve({"selected": False}) == everything
    assert await resolve({"job": [{"object_type": "database", "id": source}]}) == everything
    assert await resolve({"job": [{"object_type": "schema", "id": f"{source}.shop"}]}) == [("shop", "orders", None)]
    table = {"object_type": "table", "id": f"{source}.public.keyed", "object_alias_name": "copy"}
    assert await resolve({"job": [table]}) == [("public", "keyed", "copy")]
    with pytest.raises(DrsItemError, match=r"Table public\._syncline_staging does not exist") as missing:
        await resolve({"job": [{"object_type": "table", "id": f"{source}.public._syncline_staging"}]})
    assert missing.value.code == INVALID
    with pytest.raises(DrsItemError, match="Failed to connect to the database at ") as down:
        await drs_checks.resolve_tables(
            endpoint(unique("missing")), password=password(), reach=Reach(), selection={"selected": False}
        )
    assert down.value.code == FAILED


async def test_the_precheck_reads_the_sources_facts(source: str) -> None:
    tables = [{"schema": "public", "table": "keyed"}, {"schema": "public", "table": "loose"}]
    tables.append({"schema": "public", "table": "gone"})
    items, rows = await drs_checks.precheck_source(
        endpoint(source), password=password(), reach=Reach(), tables=tables, streams=True
    )
    results = {i["item"]: i.get("failed_reason") for i in items}
    assert rows == {"public.keyed": 3, "public.loose": 0}
    assert results["source_connection"] is None
    assert results["source_replication_role"] is None
    assert results["table public.keyed"] is None
    assert results["table public.loose"] == "no primary key and no REPLICA IDENTITY FULL"
    assert results["table public.gone"] == "the table does not exist"
    items, rows = await drs_checks.precheck_source(
        endpoint(unique("missing")), password=password(), reach=Reach(), tables=tables, streams=False
    )
    assert [(i["item"], i["result"]) for i in items] == [("source_connection", "failed")]


async def test_syncline_own_database_is_refused_on_every_path(source: str) -> None:
    own = Reach(own=OwnDatabases.of([with_database(database_url(), source)]))
    with pytest.raises(InvalidError, match="Syncline's own database"):
        await drs_checks.test_endpoint(endpoint(source), password=password(), reach=own)
    with pytest.raises(InvalidError, match="Syncline's own database"):
        await drs_checks.resolve_tables(endpoint(source), password=password(), reach=own, selection={"selected": False})
    with pytest.raises(InvalidError, match="Syncline's own database"):
        await drs_checks.precheck_source(endpoint(source), password=password(), reach=own, tables=[], streams=False)
