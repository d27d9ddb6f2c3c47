"""What the Polytomic end-to-end tests share: the official SDK pointed at the system, PostgreSQL connections and
bulk syncs made through it, executions started and waited for, and direct reads and writes of the databases
behind them."""

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import httpx
from polytomic import BulkSyncDefaultScheduleRequest, Polytomic
from tests.support.infra import pg_config as pg_config  # noqa: PLC0414 (re-exported for the Polytomic tests)
from tests.support.system import System

NO_RETRY: Any = {"max_retries": 0}
"""Request options that make the SDK give up at the first error (it retries 409s and 5xx otherwise)."""


@contextlib.contextmanager
def polytomic(system: System, *, token: str | None = None, **options: Any) -> Iterator[Polytomic]:
    """The official SDK, pointed at the gateway with a key (the organisation's unless another is given)."""
    with httpx.Client(timeout=30) as http:
        yield Polytomic(
            base_url=system.url, token=token or system.key["encoded"], httpx_client=http, timeout=30, **options
        )


def wait_for_policy(api: Polytomic, *, timeout_s: float = 60.0) -> None:
    """Return once policy answers commands (its consumers may still be joining their group at start-up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        probe = api.connections.create(name=name("probe"), type="file", configuration={"path": "."}).data
        if probe is not None and probe.saved:
            return
        assert time.monotonic() < deadline, "policy never answered"


def name(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


async def seed(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """
            CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, balance numeric(10,2),
                                    joined timestamptz NOT NULL DEFAULT now(), active boolean);
            CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, total numeric, items jsonb);
            INSERT INTO customers (id, name, balance) SELECT g, 'customer ' || g, g * 1.5 FROM generate_series(1, 5) g;
            """
        )
    finally:
        await conn.close()


TERMINAL = {"completed", "canceled", "failed", "errors", "interrupted"}


def connection(api: Polytomic, database: str, role: str) -> str:
    created = api.connections.create(
        name=name(role), type="postgresql", configuration=pg_config(database), validate=True
    ).data
    assert created is not None
    assert created.id
    return str(created.id)


def bulk_sync(api: Polytomic, source: str, target: str, schemas: list[Any]) -> str:
    created = api.bulk_sync.create(
        name=name("pg to pg"),
        source_connection_id=source,
        destination_connection_id=target,
        destination_configuration={"schema": "copy"},
        default_schedule=BulkSyncDefaultScheduleRequest(frequency="daily", hour="3", minute="0"),
        mode="snapshot",
        active=True,
        schemas=schemas,
    ).data
    assert created is not None
    assert created.id
    return str(created.id)


def wait(api: Polytomic, sync_id: str, execution_id: str, *, timeout_s: float = 60.0) -> Any:
    """Poll the execution until it ends."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = api.bulk_sync.executions.get(sync_id, execution_id).data
        assert found is not None
        if found.status in TERMINAL:
            return found
        assert time.monotonic() < deadline, f"execution still {found.status}"
        time.sleep(0.2)


SYNC_COMMIT = {"synchronous_commit": "on"}
"""The local cluster commits asynchronously; change capture reads only flushed WAL."""


async def execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn, server_settings=SYNC_COMMIT)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def fetch(dsn: str, sql: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [dict(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


def create_sync(api: Polytomic, source: str, target: str, schemas: list[Any], **changes: Any) -> str:
    fields: dict[str, Any] = {
        "name": name("options"),
        "source_connection_id": source,
        "destination_connection_id": target,
        "destination_configuration": {"schema": "copy"},
        "default_schedule": BulkSyncDefaultScheduleRequest(frequency="manual"),
        "mode": "snapshot",
        "active": True,
        "schemas": schemas,
    }
    created = api.bulk_sync.create(**(fields | changes)).data
    assert created is not None
    assert created.id
    return str(created.id)


def run(api: Polytomic, sync_id: str, **options: Any) -> Any:
    started = api.bulk_sync.start(sync_id, request_options=NO_RETRY, **options).data
    assert started is not None
    assert started.id
    return wait(api, sync_id, str(started.id))


async def big_table(dsn: str, table: str, *, rows: int) -> None:
    """A table large enough that its copy is still going while a test acts on it."""
    await execute(
        dsn,
        f"CREATE TABLE {table} (id bigint PRIMARY KEY, payload text);"
        f" INSERT INTO {table} SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, {rows}) g",
    )


def wait_for(check: Callable[[], bool], *, what: str, timeout_s: float = 30.0) -> None:
    """Poll `check` until it holds."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s}s"
        time.sleep(0.05)


def running(api: Polytomic, sync_id: str, execution_id: str) -> bool:
    """Has the execution started moving data?"""
    found = api.bulk_sync.executions.get(sync_id, execution_id).data
    assert found is not None
    assert found.status not in TERMINAL, f"the execution ended first: {found.status}"
    return bool(found.status == "running")


def start(api: Polytomic, sync_id: str, **options: Any) -> str:
    """Start an execution (no SDK retries); its id."""
    started = api.bulk_sync.start(sync_id, request_options=NO_RETRY, **options).data
    assert started is not None
    assert started.id
    return str(started.id)


def schema_statuses(api: Polytomic, sync_id: str, execution_id: str) -> dict[str, str]:
    """Each schema's status in an execution that is still going (fails once it ended)."""
    found = api.bulk_sync.executions.get(sync_id, execution_id).data
    assert found is not None
    statuses = {str(s.schema_): str(s.status) for s in found.schemas or []}
    assert found.status not in TERMINAL, f"the execution ended first: {found.status} {statuses}"
    return statuses


def connections(api: Polytomic, source_database: str, target_database: str) -> tuple[str, str]:
    """A validated PostgreSQL source and destination connection: their ids."""
    return connection(api, source_database, "source"), connection(api, target_database, "destination")
