"""Polytomic webhook deliveries and events with the official `polytomic` SDK, through the whole system: a local
receiver verifies the `Polytomic-Signature` of every delivery; `bulk_sync.running` and `.completed` arrive for a
run (the first attempt answered 500 is retried), `.failed` carries the error; `GET /api/events` lists them. An
organisation whose endpoint cannot be delivered to (an unusable URL kept from before endpoints were checked) does
not stop another organisation's deliveries."""

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import asyncpg
import pytest
from polytomic import BulkSyncDefaultScheduleRequest, Polytomic
from tests.e2e.polytomic_support import name, pg_config, polytomic, seed, wait_for_policy
from tests.support.system import System

pytestmark = pytest.mark.e2e

SECRET = "hook-secret"


class Receiver:
    """A webhook endpoint on 127.0.0.1: records every delivery, whether its signature holds, and answers 500 to
    the first one."""

    def __init__(self) -> None:
        self.deliveries: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                signed = hmac.compare_digest(self.headers.get("Polytomic-Signature", ""), expected)
                with receiver.lock:
                    first = not receiver.deliveries
                    receiver.deliveries.append({"body": json.loads(body), "signed": signed, "refused": first})
                self.send_response(500 if first else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                del args

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def accepted(self) -> list[dict[str, Any]]:
        with self.lock:
            return [d["body"] for d in self.deliveries if not d["refused"]]

    def wait_for(self, *types: str, timeout_s: float = 60.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while True:
            found = [b for b in self.accepted() if b["type"] in types]
            if len(found) >= len(types):
                return found
            assert time.monotonic() < deadline, f"only {[b['type'] for b in self.accepted()]} arrived"
            time.sleep(0.2)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    hook.thread.start()
    try:
        yield hook
    finally:
        hook.server.shutdown()
        hook.server.server_close()
        hook.thread.join()


@pytest.fixture
def own(system: System) -> Iterator[Polytomic]:
    """The SDK with a key of a fresh organisation (one webhook per organisation)."""
    org = system.admin("create-org", "webhook deliveries")
    key = system.admin("create-key", "--org", org["id"])
    with polytomic(system, token=key["encoded"]) as sdk:
        wait_for_policy(sdk)
        yield sdk


def run_sync(api: Polytomic, database: str, *, schema: str = "copy") -> tuple[str, str, str]:
    """A bulk sync of `public.customers` into the same database's `schema`, started: (sync, run, org)."""
    ids = []
    for role in ("source", "destination"):
        created = api.connections.create(name=name(role), type="postgresql", configuration=pg_config(database)).data
        assert created is not None
        assert created.id
        ids.append(created.id)
    sync = api.bulk_sync.create(
        name=name("hooked"),
        source_connection_id=ids[0],
        destination_connection_id=ids[1],
        destination_configuration={"schema": schema},
        default_schedule=BulkSyncDefaultScheduleRequest(frequency="manual"),
        schemas=["public.customers"],
    ).data
    assert sync is not None
    assert sync.id
    assert sync.organization_id
    started = api.bulk_sync.start(sync.id).data
    assert started is not None
    assert started.id
    return sync.id, started.id, sync.organization_id


async def test_signed_deliveries_retries_and_events(
    own: Polytomic, receiver: Receiver, source_db: tuple[str, str]
) -> None:
    database, dsn = source_db
    await seed(dsn)
    webhook = own.webhooks.create(endpoint=receiver.url, secret=SECRET).data
    assert webhook is not None

    sync_id, run_id, org_id = run_sync(own, database)
    running, completed = sorted(
        receiver.wait_for("bulk_sync.running", "bulk_sync.completed"), key=lambda b: b["type"] != "bulk_sync.running"
    )
    assert all(d["signed"] for d in receiver.deliveries)
    assert receiver.deliveries[0]["refused"]  # answered 500, delivered again
    assert running["type"] == "bulk_sync.running"
    assert completed["event"] == {
        "organization_id": org_id,
        "sync_id": sync_id,
        "sync_name": completed["event"]["sync_name"],
        "execution_id": run_id,
        "source_connection_id": completed["event"]["source_connection_id"],
        "destination_connection_id": completed["event"]["destination_connection_id"],
        "trigger_source": "manual",
    }
    assert completed["event"]["sync_name"].startswith("hooked ")

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP TABLE customers")
    finally:
        await conn.close()
    failed_run = own.bulk_sync.start(sync_id).data
    assert failed_run is not None
    [failed] = receiver.wait_for("bulk_sync.failed")
    assert failed["event"]["execution_id"] == failed_run.id
    assert failed["event"]["error"]
    assert all(d["signed"] for d in receiver.deliveries)

    events = own.events.list().data or []
    assert {(e.type, getattr(e.event, "execution_id", None)) for e in events} >= {
        ("bulk_sync.running", run_id),
        ("bulk_sync.completed", run_id),
        ("bulk_sync.failed", failed_run.id),
    }
    assert {e.organization_id for e in events} == {org_id}
    only_failed = own.events.list(type="bulk_sync.failed").data or []
    assert [e.type for e in only_failed] == ["bulk_sync.failed"]
    assert "bulk_sync.completed_with_error" in (own.events.get_types().data or [])


async def stored_endpoint(system: System, webhook_id: str, endpoint: str) -> None:
    """Put an endpoint in the webhook's row as an earlier version could have accepted it (it is 422 now)."""
    conn = await asyncpg.connect(system.database_url)
    try:
        await conn.execute("UPDATE gateway.webhooks SET endpoint = $2 WHERE id = $1", webhook_id, endpoint)
    finally:
        await conn.close()


async def attempted(system: System, org_id: str, *, timeout_s: float = 60.0) -> dict[str, Any]:
    """The organisation's first delivery once it has been attempted and failed."""
    conn = await asyncpg.connect(system.database_url)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            row = await conn.fetchrow(
                "SELECT * FROM gateway.webhook_deliveries WHERE org_id = $1 AND last_error <> '' LIMIT 1", org_id
            )
            if row is not None:
                return dict(row)
            assert time.monotonic() < deadline, "the broken endpoint's delivery was never attempted"
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


@pytest.fixture
def other(system: System) -> Iterator[Polytomic]:
    """The SDK with a key of a second fresh organisation."""
    org = system.admin("create-org", "webhook deliveries elsewhere")
    key = system.admin("create-key", "--org", org["id"])
    with polytomic(system, token=key["encoded"]) as sdk:
        wait_for_policy(sdk)
        yield sdk


async def test_a_broken_endpoint_does_not_stop_another_organisations_deliveries(
    system: System, own: Polytomic, other: Polytomic, receiver: Receiver, source_db: tuple[str, str]
) -> None:
    database, dsn = source_db
    await seed(dsn)
    broken = own.webhooks.create(endpoint="https://example.test/hooks", secret=SECRET).data
    assert broken is not None
    assert broken.id
    await stored_endpoint(system, broken.id, "http://exa\tmple.com/")  # httpx refuses it: InvalidURL
    _, _, broken_org = run_sync(own, database)
    failed = await attempted(system, broken_org)
    assert "InvalidURL" in failed["last_error"]
    assert failed["status"] == "pending"  # retried on its own

    assert other.webhooks.create(endpoint=receiver.url, secret=SECRET).data is not None
    _, run_id, _ = run_sync(other, database, schema="copy_elsewhere")
    delivered = receiver.wait_for("bulk_sync.running", "bulk_sync.completed")
    assert {d["event"]["execution_id"] for d in delivered} == {run_id}
    assert all(d["signed"] for d in receiver.deliveries)
