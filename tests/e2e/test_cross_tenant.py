"""Cross-tenant matrix of the Polytomic and Elastic dialects, through the whole system: organisation A makes one of
every resource (connections, a bulk sync with a schedule, a schema and a finished execution, a webhook, events, an
idempotency key; an Elastic connector and a finished sync job), then organisation B's key tries every operation on
each. Every probe must get the dialect's not-found (Polytomic `404 {"status": 404, …}`, Elasticsearch
`404 resource_not_found_exception`), a list without A's ids, or its own new resource (an idempotency key, an
Elastic connector id: both are per organisation); B's answer never carries A's ids or names; and A still reads its
resource unchanged afterwards. (An error may repeat an id B sent itself: that tells B nothing.)

The test ids are the matrix: `<dialect>-<resource>-<operation>-<result>`."""

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.e2e.polytomic_support import create_sync, name, pg_config, polytomic, run, seed, wait_for_policy
from tests.support.infra import create_database, drop_database, unique
from tests.support.system import System
from tests.support.tenants import Matrix, Tenant, leaks, tenant

pytestmark = pytest.mark.e2e

STOLEN = "stolen-by-b"


@dataclass
class World:
    """A's resources, and both organisations."""

    system: System
    a: Tenant
    b: Tenant
    ids: dict[str, str]
    secret_words: tuple[str, ...]
    """What B must never see: A's ids and names."""


def call(world: World, tenant: Tenant, method: str, path: str, body: Any = None, **headers: str) -> httpx.Response:
    scheme = "ApiKey" if path.startswith("/_connector") else "Bearer"
    with httpx.Client(base_url=world.system.url, timeout=30) as http:
        return http.request(method, path, json=body, headers={"Authorization": f"{scheme} {tenant.encoded}", **headers})


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def polytomic_side(system: System, a: Tenant, source: str, target: str) -> dict[str, str]:
    with polytomic(system, token=a.encoded) as sdk:
        wait_for_policy(sdk)
        src = sdk.connections.create(name=name("a-src"), type="postgresql", configuration=pg_config(source)).data
        dst = sdk.connections.create(name=name("a-dst"), type="postgresql", configuration=pg_config(target)).data
        assert src is not None
        assert dst is not None
        sync = create_sync(sdk, src.id or "", dst.id or "", ["public.customers"])
        execution = run(sdk, sync)
        assert execution.status == "completed"
        hook = sdk.webhooks.create(endpoint="http://127.0.0.1:9/a-hook", secret="a-webhook-secret").data
        assert hook is not None
        return {
            "connection": src.id or "",
            "connection_name": src.name or "",
            "sync": sync,
            "execution": str(execution.id),
            "webhook": hook.id or "",
        }


def elastic_side(world: World, source: str) -> dict[str, str]:
    connector = unique("a-conn")
    answered = call(
        world,
        world.a,
        "PUT",
        f"/_connector/{connector}",
        {"name": connector, "index_name": connector, "service_type": "postgresql"},
    )
    assert answered.status_code in (200, 201), answered.text
    values = pg_config(source)
    config = {
        "host": values["hostname"],
        "port": values["port"],
        "username": values["username"],
        "password": values["password"],
        "database": source,
        "tables": ["customers"],
    }
    assert call(world, world.a, "PUT", f"/_connector/{connector}/_configuration", {"values": config}).is_success
    job = call(world, world.a, "POST", "/_connector/_sync_job", {"id": connector}).json()["id"]

    def finished() -> bool:
        status = call(world, world.a, "GET", f"/_connector/_sync_job/{job}").json()["status"]
        return status in {"completed", "error", "canceled"}

    wait_until(finished, "A's sync job")
    return {"connector": connector, "job": job}


@pytest.fixture(scope="module")
async def world(system: System) -> AsyncIterator[World]:
    source, target = unique("xt_src"), unique("xt_dst")
    await seed(await create_database(source))
    await create_database(target)
    try:
        a, b = tenant(system, "cross-tenant a"), tenant(system, "cross-tenant b")
        ids = polytomic_side(system, a, source, target)
        made = World(system=system, a=a, b=b, ids=ids, secret_words=())
        ids |= elastic_side(made, source)
        schedules = call(made, a, "GET", f"/api/bulk/syncs/{ids['sync']}/schedules").json()["data"]
        ids["schedule"] = schedules[0]["id"]
        idempotent = call(
            made,
            a,
            "POST",
            "/api/connections",
            {"name": name("a-idem"), "configuration": pg_config(source), "type": "postgresql"},
            **{"Idempotency-Key": "cross-tenant-key-1"},
        )
        assert idempotent.is_success, idempotent.text
        ids["idempotent_connection"] = idempotent.json()["data"]["id"]
        made.secret_words = (*(v for v in ids.values() if v), a.org_id)
        yield made
    finally:
        await drop_database(source)
        await drop_database(target)


@dataclass(frozen=True)
class Probe:
    """One operation B tries on one of A's resources, and what A reads afterwards."""

    dialect: str
    resource: str
    operation: str
    method: str
    path: str
    body: Any = None
    expect: str = "not_found"
    """`not_found`, `excludes` (a 200 list without A's ids), or `own` (B gets a new resource of its own)."""
    reread: str | None = None
    """A's read of the resource afterwards (defaults to `path` for not-found probes of the resource itself)."""
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        return f"{self.dialect}-{self.resource}-{self.operation}-{self.expect}"


SYNC = "/api/bulk/syncs/{sync}"
SCHEMA = SYNC + "/schemas/public.customers"
SCHEDULE = SYNC + "/schedules/{schedule}"
EXECUTION = SYNC + "/executions/{execution}"
WEBHOOK = "/api/webhooks/{webhook}"
CONNECTION = "/api/connections/{connection}"
CONNECTOR = "/_connector/{connector}"
JOB = "/_connector/_sync_job/{job}"
DAILY = {"frequency": "daily", "hour": "3", "minute": "0"}
P, E = "polytomic", "elastic"

PROBES = (
    Probe(P, "connection", "read", "GET", CONNECTION),
    Probe(P, "connection", "list", "GET", "/api/connections", expect="excludes", reread=CONNECTION),
    Probe(
        P,
        "connection",
        "update",
        "PUT",
        CONNECTION,
        {"name": STOLEN, "configuration": {"database": "x"}},
        reread=CONNECTION,
    ),
    Probe(
        P,
        "connection",
        "test",
        "POST",
        "/api/connections/test",
        {"type": "postgresql", "configuration": {}, "connection_id": "{connection}"},
        reread=CONNECTION,
    ),
    Probe(P, "connection", "discover_source", "GET", CONNECTION + "/bulksync/source", reread=CONNECTION),
    Probe(P, "connection", "discover_target", "GET", CONNECTION + "/bulksync/target", reread=CONNECTION),
    Probe(P, "connection", "delete", "DELETE", CONNECTION, reread=CONNECTION),
    Probe(P, "bulk_sync", "read", "GET", SYNC),
    Probe(P, "bulk_sync", "list", "GET", "/api/bulk/syncs", expect="excludes", reread=SYNC),
    Probe(
        P,
        "bulk_sync",
        "update",
        "PUT",
        SYNC,
        {
            "name": STOLEN,
            "source_connection_id": "{connection}",
            "destination_connection_id": "{connection}",
            "destination_configuration": {"schema": "x"},
            "schedule": {"frequency": "manual"},
        },
        reread=SYNC,
    ),
    Probe(P, "bulk_sync", "activate", "POST", SYNC + "/activate", {"active": False}, reread=SYNC),
    Probe(P, "bulk_sync", "status", "GET", SYNC + "/status", reread=SYNC),
    Probe(P, "bulk_sync", "status_many", "GET", "/api/bulk/syncs/status?sync_id={sync}", reread=SYNC),
    Probe(P, "bulk_sync", "start", "POST", SYNC + "/executions", {}, reread=SYNC),
    Probe(P, "bulk_sync", "cancel", "POST", SYNC + "/cancel", reread=SYNC),
    Probe(P, "schedule", "list", "GET", SYNC + "/schedules", reread=SCHEDULE),
    Probe(P, "schedule", "read", "GET", SCHEDULE),
    Probe(P, "schedule", "create", "POST", SYNC + "/schedules", {"schedule": DAILY}, reread=SYNC + "/schedules"),
    Probe(P, "schedule", "update", "PUT", SCHEDULE, {"schedule": DAILY}, reread=SCHEDULE),
    Probe(P, "schedule", "delete", "DELETE", SCHEDULE, reread=SCHEDULE),
    Probe(P, "schema", "list", "GET", SYNC + "/schemas", reread=SCHEMA),
    Probe(P, "schema", "read", "GET", SCHEMA),
    Probe(P, "schema", "update", "PUT", SCHEMA, {"enabled": False}, reread=SCHEMA),
    Probe(
        P,
        "schema",
        "patch",
        "PATCH",
        SYNC + "/schemas",
        {"schemas": [{"id": "public.customers", "enabled": False}]},
        reread=SCHEMA,
    ),
    Probe(P, "schema", "cancel", "POST", SCHEMA + "/cancel", reread=SCHEMA),
    Probe(P, "execution", "list", "GET", SYNC + "/executions", reread=EXECUTION),
    Probe(P, "execution", "read", "GET", EXECUTION),
    Probe(P, "execution", "cancel", "POST", EXECUTION + "/cancel", reread=EXECUTION),
    Probe(P, "webhook", "read", "GET", WEBHOOK),
    Probe(P, "webhook", "list", "GET", "/api/webhooks", expect="excludes", reread=WEBHOOK),
    Probe(
        P, "webhook", "update", "PUT", WEBHOOK, {"endpoint": "http://127.0.0.1:9/b", "secret": STOLEN}, reread=WEBHOOK
    ),
    Probe(P, "webhook", "disable", "POST", WEBHOOK + "/disable", reread=WEBHOOK),
    Probe(P, "webhook", "enable", "POST", WEBHOOK + "/enable", reread=WEBHOOK),
    Probe(P, "webhook", "delete", "DELETE", WEBHOOK, reread=WEBHOOK),
    Probe(P, "event", "list", "GET", "/api/events", expect="excludes", reread=SYNC),
    Probe(P, "event", "list_of_sync", "GET", "/api/events?sync_id={sync}", expect="excludes", reread=SYNC),
    Probe(
        P,
        "idempotency_key",
        "replay",
        "POST",
        "/api/connections",
        {"name": "b-idem", "type": "file", "configuration": {"path": "."}},
        expect="own",
        reread="/api/connections/{idempotent_connection}",
        headers=(("Idempotency-Key", "cross-tenant-key-1"),),
    ),
    Probe(E, "connector", "read", "GET", CONNECTOR),
    Probe(E, "connector", "list", "GET", "/_connector", expect="excludes", reread=CONNECTOR),
    Probe(
        E,
        "connector",
        "update_configuration",
        "PUT",
        CONNECTOR + "/_configuration",
        {"values": {"tables": ["orders"]}},
        reread=CONNECTOR,
    ),
    Probe(E, "connector", "update_name", "PUT", CONNECTOR + "/_name", {"name": STOLEN}, reread=CONNECTOR),
    Probe(
        E,
        "connector",
        "update_scheduling",
        "PUT",
        CONNECTOR + "/_scheduling",
        {"scheduling": {"full": {"enabled": True, "interval": "0 0 * * * ?"}}},
        reread=CONNECTOR,
    ),
    Probe(E, "connector", "delete", "DELETE", CONNECTOR, reread=CONNECTOR),
    Probe(E, "sync_job", "read", "GET", JOB),
    Probe(E, "sync_job", "list", "GET", "/_connector/_sync_job", expect="excludes", reread=JOB),
    Probe(
        E,
        "sync_job",
        "list_of_connector",
        "GET",
        "/_connector/_sync_job?connector_id={connector}",
        expect="excludes",
        reread=JOB,
    ),
    Probe(E, "sync_job", "start", "POST", "/_connector/_sync_job", {"id": "{connector}"}, reread=CONNECTOR),
    Probe(E, "sync_job", "cancel", "PUT", JOB + "/_cancel", reread=JOB),
    Probe(E, "sync_job", "claim", "PUT", JOB + "/_claim", {"worker_hostname": STOLEN}, reread=JOB),
    Probe(E, "sync_job", "check_in", "PUT", JOB + "/_check_in", reread=JOB),
    Probe(E, "sync_job", "error", "PUT", JOB + "/_error", {"error": STOLEN}, reread=JOB),
    Probe(
        E,
        "sync_job",
        "stats",
        "PUT",
        JOB + "/_stats",
        {"deleted_document_count": 0, "indexed_document_count": 0, "indexed_document_volume": 0},
        reread=JOB,
    ),
    Probe(E, "sync_job", "delete", "DELETE", JOB, reread=JOB),
    Probe(
        E,
        "connector",
        "put_same_id",
        "PUT",
        CONNECTOR,
        {"name": STOLEN, "index_name": STOLEN, "service_type": "postgresql"},
        expect="own",
        reread=CONNECTOR,
    ),
)


def fill(template: Any, ids: dict[str, str]) -> Any:
    if isinstance(template, str):
        return template.format(**ids)
    if isinstance(template, dict):
        return {k: fill(v, ids) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, ids) for v in template]
    return template


def not_found(probe: Probe, answer: httpx.Response) -> None:
    assert answer.status_code == 404, (answer.status_code, answer.text)
    body = answer.json()
    if probe.dialect == P:
        assert body["status"] == 404
        assert body["key"]
    else:
        assert body["error"]["type"] == "resource_not_found_exception"


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.id)
def test_organisation_b_never_reaches_a(world: World, probe: Probe, matrix: Matrix) -> None:
    passed = False
    try:
        try_as_b(world, probe)
        passed = True
    finally:
        result = probe.expect if passed else "error"
        matrix.record(
            dialect=probe.dialect, resource=probe.resource, operation=probe.operation, result=result, passed=passed
        )


def try_as_b(world: World, probe: Probe) -> None:
    """B's request, its answer checked, and A's read of its resource afterwards."""
    path = fill(probe.path, world.ids)
    before = call(world, world.a, "GET", fill(probe.reread or probe.path, world.ids))
    assert before.status_code == 200, before.text

    answer = call(world, world.b, probe.method, path, fill(probe.body, world.ids), **dict(probe.headers))

    if probe.expect == "not_found":
        not_found(probe, answer)
    elif probe.expect == "excludes":
        assert answer.status_code == 200, answer.text
    else:
        assert answer.status_code in (200, 201), answer.text
    asked = f"{path} {fill(probe.body, world.ids)}"  # an id B sent itself is no leak when the error repeats it
    leaked = leaks(world.secret_words, answer.text, asked=asked)
    assert leaked == [], f"B's answer carries A's {leaked}"
    after = call(world, world.a, "GET", fill(probe.reread or probe.path, world.ids))
    assert after.status_code == 200, after.text
    assert STOLEN not in after.text
