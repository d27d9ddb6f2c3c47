"""What the AWS AppIntegrations end-to-end tests share: boto3's `appintegrations` client pointed at the system
with the organisation's key pair, source tables with timestamps, data integrations and associations made through
it, and waiting for an association's `LastExecutionStatus`. boto3 is imported here only: the es8 environment
runs the Elasticsearch tests alone, without it."""

import time
import uuid
from typing import Any

import asyncpg
import boto3
from botocore.config import Config
from tests.support.system import System

REGION = "eu-west-2"
NO_RETRY = Config(retries={"total_max_attempts": 1})
"""boto3 gives up at the first error (it retries 500s and throttling otherwise)."""


def client(
    system: System, *, region: str = REGION, key: dict[str, str] | None = None, config: Config | None = None
) -> Any:
    """boto3's client as a user makes it: only the endpoint and the credentials point at Syncline."""
    pair = key or system.key
    session = boto3.session.Session(
        aws_access_key_id=pair["id"], aws_secret_access_key=pair["secret"], region_name=region
    )
    return session.client("appintegrations", endpoint_url=system.url, config=config)


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


BASE_MS = 1_767_225_600_000
"""2026-01-01T00:00:00Z in epoch milliseconds: row `i` of `seed_events` is `i` hours after it."""
HOUR_MS = 3_600_000


async def seed_events(dsn: str, *, rows: range) -> None:
    """`public.events` (created when missing) with one row per `i` in `rows`, `at` = BASE + i hours."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS events (id integer PRIMARY KEY, name text NOT NULL, amount numeric(10,2),"
            " at timestamptz NOT NULL)"
        )
        await conn.execute(
            "INSERT INTO events (id, name, amount, at)"
            " SELECT g, 'event ' || g, g * 1.25, to_timestamp(($1::bigint + g * $2::bigint) / 1000.0)"
            " FROM generate_series($3::int, $4::int) g",
            BASE_MS,
            HOUR_MS,
            rows.start,
            rows.stop - 1,
        )
    finally:
        await conn.close()


async def rows_of(dsn: str, table: str) -> list[dict[str, Any]]:
    """Every row of `table`, by id."""
    conn = await asyncpg.connect(dsn)
    try:
        return [dict(r) for r in await conn.fetch(f"SELECT id, name, amount, at FROM {table} ORDER BY id")]
    finally:
        await conn.close()


async def checksum(dsn: str, table: str) -> str:
    """md5 of the table's rows in id order (the same text on both sides when the rows are equal)."""
    conn = await asyncpg.connect(dsn)
    try:
        digest: str = await conn.fetchval(
            f"SELECT md5(string_agg(concat_ws('|', id, name, amount, extract(epoch FROM at)), ',' ORDER BY id))"
            f" FROM {table}"
        )
        return digest
    finally:
        await conn.close()


def window(first: int, last: int) -> dict[str, Any]:
    """An on-demand window holding rows `first`..`last` of `seed_events` (the end is exclusive)."""
    start, end = BASE_MS + first * HOUR_MS, BASE_MS + (last + 1) * HOUR_MS
    return {"ExecutionMode": "ON_DEMAND", "OnDemandConfiguration": {"StartTime": str(start), "EndTime": str(end)}}


EVENTS = {"public.events": {"fields": ["id", "name", "amount", "at"], "tracking_field": ["at"]}}


def integration(api: Any, source_connection: str, **changes: Any) -> dict[str, Any]:
    """A data integration of `public.events` on a PostgreSQL connection."""
    fields: dict[str, Any] = {
        "Name": name("events"),
        "KmsKey": "arn:aws:kms:eu-west-2:123456789012:key/test",
        "SourceURI": f"postgresql://Syncline/{source_connection}",
        "ObjectConfiguration": EVENTS,
    }
    created: dict[str, Any] = api.create_data_integration(**(fields | changes))
    return created


def last_status(api: Any, integration_id: str) -> dict[str, Any] | None:
    listed = api.list_data_integration_associations(DataIntegrationIdentifier=integration_id)
    items = listed["DataIntegrationAssociations"]
    assert len(items) == 1
    status: dict[str, Any] | None = items[0].get("LastExecutionStatus")
    return status


def wait_status(api: Any, integration_id: str, *, timeout_s: float = 90.0) -> dict[str, Any]:
    """Poll the association until its newest run ended (COMPLETED or FAILED)."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = last_status(api, integration_id)
        if status is not None and status["ExecutionStatus"] != "IN_PROGRESS":
            return status
        assert time.monotonic() < deadline, f"the association's run did not end: {status}"
        time.sleep(0.2)
