"""Polytomic bulk syncs with the official `polytomic` SDK: create with a selection (a field disabled, a filter),
the three schedule shapes of the API versions, full-replace update, the schedules and schemas sub-resources,
activation, paginated lists, idempotent creates, and every documented error raising the SDK's own class."""

import asyncio
import datetime as dt
import json
from typing import Any

import httpx
import pytest
from polytomic import (
    BadRequestError,
    BulkFilter,
    BulkSchema,
    BulkSyncAdditionalScheduleRequest,
    BulkSyncDefaultScheduleRequest,
    BulkSyncScheduleApi,
    ConflictError,
    FieldConfiguration,
    ForbiddenError,
    NotFoundError,
    Polytomic,
    SchemaConfiguration,
    UnprocessableEntityError,
    UpdateBulkField,
)
from polytomic.core.api_error import ApiError
from tests.e2e.polytomic_support import name, pg_config, polytomic, seed
from tests.support.infra import read_topic
from tests.support.system import System

pytestmark = pytest.mark.e2e

DAILY = BulkSyncDefaultScheduleRequest(frequency="daily", hour="3", minute="0")
WEEKLY = BulkSyncAdditionalScheduleRequest(
    frequency="weekly", day_of_week="sunday", hour="4", minute="30", resync_mode="resync", schemas=["public.customers"]
)


def connections(api: Polytomic, database: str) -> tuple[str, str]:
    """A source and a destination connection on the test database, both checked for real."""
    ids = []
    for role in ("source", "destination"):
        created = api.connections.create(
            name=name(role), type="postgresql", configuration=pg_config(database), validate=True
        ).data
        assert created is not None
        assert created.id
        ids.append(created.id)
    return ids[0], ids[1]


def create(api: Polytomic, source: str, destination: str, **changes: Any) -> Any:
    """A bulk sync of two tables: `public.orders` whole, `public.customers` without `balance` and filtered."""
    arguments: dict[str, Any] = {
        "name": name("pg to pg"),
        "source_connection_id": source,
        "destination_connection_id": destination,
        "destination_configuration": {"schema": "copy"},
        "default_schedule": DAILY,
        "additional_schedules": [WEEKLY],
        "mode": "replicate",
        "active": True,
        "concurrency_limit": 2,
        "data_cutoff_timestamp": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        "source_configuration": {"replication_slot": "syncline"},
        "schemas": [
            "public.orders",
            SchemaConfiguration(
                id="public.customers",
                tracking_field="joined",
                fields=[FieldConfiguration(id="balance", enabled=False)],
                filters=[BulkFilter(field_id="id", function="GreaterThan", value=2)],
            ),
        ],
    }
    return api.bulk_sync.create(**(arguments | changes)).data


def raw(system: System, method: str, path: str, *, version: str | None = None, body: Any = None) -> httpx.Response:
    """A request without the SDK, to see other API versions' wire shapes."""
    headers = {"Authorization": f"Bearer {system.key['encoded']}"}
    if version:
        headers["X-Polytomic-Version"] = version
    with httpx.Client(base_url=system.url, timeout=30) as http:
        return http.request(method, path, headers=headers, json=body)


async def test_create_read_and_shapes(system: System, api: Polytomic, source_db: tuple[str, str]) -> None:
    database, dsn = source_db
    await seed(dsn)
    source, destination = connections(api, database)
    sync = create(api, source, destination)
    assert sync.name.startswith("pg to pg")
    assert sync.active is True
    assert sync.mode == "replicate"
    assert sync.concurrency_limit == 2
    assert sync.data_cutoff_timestamp == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert sync.destination_configuration == {"schema": "copy"}
    assert sync.source_configuration == {"replication_slot": "syncline"}
    assert sync.automatically_add_new_objects == "none"
    assert sync.automatically_add_new_fields == "all"
    assert sync.normalize_names == "enabled"
    assert sync.created_by.type == "apikey"
    assert (sync.default_schedule.frequency, sync.default_schedule.hour, sync.default_schedule.minute) == (
        "daily",
        "3",
        "0",
    )
    [weekly] = sync.additional_schedules
    assert (weekly.frequency, weekly.day_of_week, weekly.resync_mode, weekly.schemas) == (
        "weekly",
        "sunday",
        "resync",
        ["public.customers"],
    )

    fetched = api.bulk_sync.get(sync.id).data
    assert fetched == sync

    legacy = raw(system, "GET", f"/api/bulk/syncs/{sync.id}").json()["data"]
    assert legacy == raw(system, "GET", f"/api/bulk/syncs/{sync.id}", version="2024-02-08").json()["data"]
    assert "default_schedule" not in legacy
    assert legacy["schedule"]["frequency"] == "multi"
    items = legacy["schedule"]["multi"]["schedules"]
    assert [(i["item"], i["schedule"]["frequency"]) for i in items] == [("none", "daily"), ("none", "weekly")]
    current = raw(system, "GET", f"/api/bulk/syncs/{sync.id}", version="2025-09-18").json()["data"]
    assert [s["frequency"] for s in current["schedules"]] == ["daily", "weekly"]
    assert [s["is_default"] for s in current["schedules"]] == [True, False]
    assert current["default_schedule"]["id"] == current["schedules"][0]["id"]
    with polytomic(system, version="2024-02-08") as old_sdk:
        old = old_sdk.bulk_sync.get(sync.id).data
    assert old.id == sync.id
    assert old.default_schedule is None
    assert old.schedule == legacy["schedule"]

    events = await read_topic(
        system.topic("syncline.syncs.events.v1"),
        until=lambda rs: any(r.key == sync.id and b"schedules_configured" in r.value for r in rs),
    )
    announced = next(json.loads(r.value) for r in events if r.key == sync.id and b"schedules_configured" in r.value)
    assert announced["active"] is True
    assert [(s["kind"], s["hour"], s["minute"]) for s in announced["schedules"]] == [
        ("daily", "3", "0"),
        ("weekly", "4", "30"),
    ]
    assert announced["schedules"][1]["day_of_week"] == "sunday"


async def test_other_versions_write_their_own_shapes(
    system: System, api: Polytomic, source_db: tuple[str, str]
) -> None:
    database, dsn = source_db
    await seed(dsn)
    source, destination = connections(api, database)
    body = {
        "name": name("legacy"),
        "source_connection_id": source,
        "destination_connection_id": destination,
        "destination_configuration": {},
        "schedule": {
            "frequency": "multi",
            "multi": {
                "schedules": [
                    {"item": "incrementalFields", "schedule": {"frequency": "continuous"}},
                    {"item": "nonincrementalFields", "schedule": {"frequency": "daily", "hour": "05", "minute": "00"}},
                ]
            },
        },
    }
    legacy = raw(system, "POST", "/api/bulk/syncs", body=body)
    assert legacy.status_code == 200, legacy.text
    created = legacy.json()["data"]
    items = created["schedule"]["multi"]["schedules"]
    assert [(i["item"], i["schedule"]["frequency"], i["schedule"]["hour"]) for i in items] == [
        ("incrementalFields", "continuous", None),
        ("nonincrementalFields", "daily", "05"),
    ]
    assert created["destination_configuration"] == {"schema": "public"}

    listed_shape = {
        "name": name("current"),
        "source_connection_id": source,
        "destination_connection_id": destination,
        "destination_configuration": {"schema": "copy"},
        "schedules": [
            {"frequency": "continuous", "selective_mode": "incrementalFields"},
            {"frequency": "daily", "selective_mode": "nonincrementalFields", "hour": "05", "minute": "00"},
        ],
    }
    current = raw(system, "POST", "/api/bulk/syncs", version="2025-09-18", body=listed_shape)
    assert current.status_code == 200, current.text
    schedules = current.json()["data"]["schedules"]
    assert [(s["frequency"], s["selective_mode"], s["hour"]) for s in schedules] == [
        ("continuous", "incrementalFields", None),
        ("daily", "nonincrementalFields", "05"),
    ]
    both = raw(
        system,
        "POST",
        "/api/bulk/syncs",
        body=listed_shape | {"name": name("both"), "schedule": {"frequency": "manual"}},
    )
    assert both.status_code == 400
    assert both.json()["key"] == "bad_request"


async def test_update_schedules_schemas_and_activation(
    system: System, api: Polytomic, source_db: tuple[str, str]
) -> None:
    database, dsn = source_db
    await seed(dsn)
    source, destination = connections(api, database)
    sync = create(api, source, destination)
    default_id = sync.default_schedule.id

    # the selection: two tables enabled, `balance` off, a filter on `id`
    enabled = api.bulk_sync.schemas.list(sync.id, filters={"enabled": "true"}).data
    assert {s.id for s in enabled} == {"public.customers", "public.orders"}
    assert {s.output_name for s in enabled} == {"customers", "orders"}
    customers = api.bulk_sync.schemas.get(sync.id, "public.customers").data
    assert customers.enabled is True
    assert customers.tracking_field == "joined"
    assert {f.id: f.enabled for f in customers.fields} == {
        "id": True,
        "name": True,
        "balance": False,
        "joined": True,
        "active": True,
    }
    assert [(f.field_id, f.function, f.value) for f in customers.filters] == [("id", "GreaterThan", 2)]

    # PATCH many, PUT one
    patched = api.bulk_sync.schemas.patch(sync.id, schemas=[BulkSchema(id="public.orders", enabled=False)]).data
    assert {s.id: s.enabled for s in patched}["public.orders"] is False
    assert [s.id for s in api.bulk_sync.schemas.list(sync.id, filters={"enabled": "true"}).data] == ["public.customers"]
    put = api.bulk_sync.schemas.update(
        sync.id,
        "public.customers",
        user_output_name="Clients",
        partition_key="id",
        fields=[UpdateBulkField(id="name", obfuscated=True, user_output_name="Full Name")],
    ).data
    assert (put.output_name, put.user_output_name, put.partition_key) == ("clients", "Clients", "id")
    name_field = next(f for f in put.fields if f.id == "name")
    assert (name_field.obfuscated, name_field.output_name) == (True, "full_name")
    assert next(f for f in put.fields if f.id == "balance").enabled is False  # fields left out keep their value
    with pytest.raises(NotFoundError):
        api.bulk_sync.schemas.get(sync.id, "public.nope")

    # the schedules sub-resource (camelCase on the wire)
    listed = api.bulk_sync.schedules.list(sync.id).data
    assert [(s.frequency, s.is_default) for s in listed] == [("daily", True), ("weekly", False)]
    added = api.bulk_sync.schedules.create(
        sync.id, schedule=BulkSyncScheduleApi(frequency="hourly", minute="15", selective_mode="incrementalFields")
    ).data
    assert (added.frequency, added.minute, added.selective_mode, added.sync_id) == (
        "hourly",
        "15",
        "incrementalFields",
        sync.id,
    )
    added_id = added.model_extra["id"]
    assert api.bulk_sync.schedules.get(sync.id, added_id).data.minute == "15"
    changed = api.bulk_sync.schedules.update(
        sync.id, added_id, schedule=BulkSyncScheduleApi(frequency="weekly", day_of_week="Monday", hour="6", minute="0")
    ).data
    assert (changed.frequency, changed.day_of_week, changed.is_default) == ("weekly", "Monday", False)
    assert len(api.bulk_sync.schedules.list(sync.id).data) == 3
    api.bulk_sync.schedules.delete(sync.id, added_id)
    assert len(api.bulk_sync.schedules.list(sync.id).data) == 2
    with pytest.raises(NotFoundError):
        api.bulk_sync.schedules.get(sync.id, added_id)
    with pytest.raises(ApiError) as default_delete:
        api.bulk_sync.schedules.delete(sync.id, default_id)
    assert default_delete.value.status_code == 400
    with pytest.raises(BadRequestError):
        api.bulk_sync.schedules.create(sync.id, schedule=BulkSyncScheduleApi(frequency="hourly", minute="75"))

    # activate / deactivate
    assert api.bulk_sync.activate(sync.id, active=False).data.active is False
    assert api.bulk_sync.get(sync.id).data.active is False
    assert api.bulk_sync.activate(sync.id, active=True).data.active is True

    # a full replace: left-out fields return to their defaults, schemas left out keep the selection
    updated = api.bulk_sync.update(
        sync.id,
        name=name("renamed"),
        source_connection_id=source,
        destination_connection_id=destination,
        destination_configuration={"schema": "other"},
        default_schedule=BulkSyncDefaultScheduleRequest(frequency="custom", minute="*/15", hour="1-5"),
        normalize_names="legacy",
    ).data
    assert updated.name.startswith("renamed")
    assert updated.active is False
    assert updated.mode == "snapshot"
    assert updated.concurrency_limit is None
    assert updated.data_cutoff_timestamp is None
    assert updated.destination_configuration == {"schema": "other"}
    assert updated.default_schedule.id == default_id
    assert (updated.default_schedule.frequency, updated.default_schedule.minute) == ("custom", "*/15")
    assert updated.additional_schedules == []
    assert updated.updated_at > sync.updated_at
    assert updated.created_at == sync.created_at
    kept = api.bulk_sync.schemas.get(sync.id, "public.customers").data
    assert kept.output_name == "clients"  # `legacy` naming only lower-cases
    assert next(f for f in kept.fields if f.id == "name").output_name == "full name"
    assert [s.id for s in api.bulk_sync.schemas.list(sync.id, filters={"enabled": "true"}).data] == ["public.customers"]

    api.bulk_sync.delete(sync.id)
    with pytest.raises(NotFoundError):
        api.bulk_sync.get(sync.id)
    with pytest.raises(NotFoundError):
        api.bulk_sync.schemas.list(sync.id)


async def test_list_pages_and_filters(system: System, api: Polytomic, source_db: tuple[str, str]) -> None:
    database, dsn = source_db
    await seed(dsn)
    source, destination = connections(api, database)
    made = [create(api, source, destination, active=i % 2 == 0, additional_schedules=[]) for i in range(5)]
    ours = {s.id for s in made}

    seen: list[str] = []
    token = None
    while True:
        query: dict[str, Any] = {"limit": 2} | ({"page_token": token} if token else {})
        page = api.bulk_sync.list(request_options={"additional_query_parameters": query})
        assert len(page.data) <= 2
        seen += [s.id for s in page.data]
        token = page.pagination["next_page_token"]
        if not token:
            break
    assert ours <= set(seen)
    assert len(seen) == len(set(seen))
    newest_first = [s.id for s in sorted(made, key=lambda s: s.updated_at, reverse=True)]
    assert [i for i in seen if i in ours] == newest_first

    active = {s.id for s in api.bulk_sync.list(active=True).data}
    paused = {s.id for s in api.bulk_sync.list(active=False).data}
    assert {s.id for s in made if s.active} <= active
    assert {s.id for s in made if not s.active} <= paused
    assert not active & paused
    bad = raw(system, "GET", "/api/bulk/syncs?page_token=garbage")
    assert bad.status_code == 400


async def test_idempotent_create(system: System, api: Polytomic, source_db: tuple[str, str]) -> None:
    database, dsn = source_db
    await seed(dsn)
    source, destination = connections(api, database)
    sync_name = name("once")
    first = create(api, source, destination, name=sync_name, idempotency_key="create-once-0001")
    again = create(api, source, destination, name=sync_name, idempotency_key="create-once-0001")
    assert again.id == first.id
    assert [s.id for s in api.bulk_sync.list().data if s.name == sync_name] == [first.id]
    with pytest.raises(UnprocessableEntityError) as reused:
        create(api, source, destination, name=name("other"), idempotency_key="create-once-0001")
    assert "already used" in reused.value.body.message

    # the first outcome is kept, errors included
    failing = name("fails")
    with pytest.raises(UnprocessableEntityError):
        create(api, source, "no-such-connection", name=failing, idempotency_key="create-fails-0001")
    with pytest.raises(UnprocessableEntityError) as replayed:
        create(api, source, "no-such-connection", name=failing, idempotency_key="create-fails-0001")
    assert (replayed.value.headers or {})["idempotent-replayed"] == "true"
    assert "no-such-connection" in replayed.value.body.message
    with pytest.raises(BadRequestError):
        create(api, source, destination, idempotency_key="short")


async def test_errors_raise_the_sdks_classes(system: System, api: Polytomic, source_db: tuple[str, str]) -> None:
    database, dsn = source_db
    await seed(dsn)
    source, destination = connections(api, database)
    with pytest.raises(NotFoundError) as missing:
        api.bulk_sync.get("no-such-sync")
    assert missing.value.body.model_dump() == {
        "status": 404,
        "key": "not_found",
        "message": "bulk sync no-such-sync not found",
        "metadata": {},
    }
    for frequency in ("runafter", "dbtcloud"):
        with pytest.raises(UnprocessableEntityError) as model_only:
            create(api, source, destination, default_schedule=BulkSyncDefaultScheduleRequest(frequency=frequency))
        assert "model syncs only" in model_only.value.body.message
    with pytest.raises(UnprocessableEntityError):
        create(api, source, destination, default_schedule=BulkSyncDefaultScheduleRequest(frequency="daily", hour="25"))
    with pytest.raises(UnprocessableEntityError):
        create(api, source, destination, mode="mirror")
    with pytest.raises(UnprocessableEntityError):
        create(api, source, destination, destination_configuration={"schema": "x", "bucket": "y"})
    with pytest.raises(UnprocessableEntityError):
        create(api, source, destination, schemas=["public.nope"])
    with pytest.raises(UnprocessableEntityError):
        create(api, source, destination, schemas=[SchemaConfiguration(id="public.orders", fields=["nope"])])
    with pytest.raises(BadRequestError):
        create(api, source, destination, request_options={"additional_body_parameters": {"concurrency_limit": "x"}})
    with pytest.raises(ForbiddenError):
        create(api, source, destination, organization_id="00000000-0000-0000-0000-000000000000")

    taken = create(api, source, destination)
    other = create(api, source, destination)
    with pytest.raises(ConflictError):
        api.bulk_sync.update(
            other.id,
            name=taken.name,
            source_connection_id=source,
            destination_connection_id=destination,
            destination_configuration={},
            default_schedule=BulkSyncDefaultScheduleRequest(frequency="manual"),
            request_options={"max_retries": 0},
        )
    with pytest.raises(NotFoundError):
        api.bulk_sync.update(
            "no-such-sync",
            name="x",
            source_connection_id=source,
            destination_connection_id=destination,
            destination_configuration={},
            default_schedule=BulkSyncDefaultScheduleRequest(frequency="manual"),
        )
    with pytest.raises(NotFoundError):
        api.bulk_sync.delete("no-such-sync")
    with pytest.raises(NotFoundError):
        api.bulk_sync.activate("no-such-sync", active=True)
    unknown_route = raw(system, "GET", "/api/nowhere")
    assert unknown_route.status_code == 404
    assert unknown_route.json()["key"] == "not_found"


async def test_a_key_in_flight_is_a_conflict(system: System, api: Polytomic, source_db: tuple[str, str]) -> None:
    database, dsn = source_db
    await seed(dsn)
    source, destination = connections(api, database)
    body = {
        "name": name("raced"),
        "source_connection_id": source,
        "destination_connection_id": destination,
        "destination_configuration": {"schema": "copy"},
        "default_schedule": {"frequency": "manual"},
    }
    headers = {"Authorization": f"Bearer {system.key['encoded']}", "Idempotency-Key": "raced-key-0001"}
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as http:
        answers = await asyncio.gather(*(http.post("/api/bulk/syncs", json=body, headers=headers) for _ in range(5)))
    statuses = sorted(a.status_code for a in answers)
    assert 409 in statuses, statuses
    assert set(statuses) <= {200, 409}
    assert {a.json()["key"] for a in answers if a.status_code == 409} == {"conflict"}
    assert len({a.json()["data"]["id"] for a in answers if a.status_code == 200}) == 1
    settled = await asyncio.to_thread(
        lambda: httpx.post(f"{system.url}/api/bulk/syncs", json=body, headers=headers, timeout=30)
    )
    assert settled.status_code == 200
    assert settled.headers["idempotent-replayed"] == "true"
