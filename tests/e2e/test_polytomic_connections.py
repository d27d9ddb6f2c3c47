"""Polytomic connections with the official `polytomic` SDK only: create (checked for real), read, list, update,
delete, test, connection types, source discovery and destination metadata, and their errors."""

import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from polytomic import (
    BadRequestError,
    BulkSyncDefaultScheduleRequest,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    Polytomic,
    UnauthorizedError,
    UnprocessableEntityError,
)
from polytomic.core.api_error import ApiError
from tests.e2e.polytomic_support import name, pg_config, polytomic, seed
from tests.support.infra import database_url, kafka_destination
from tests.support.system import System, free_port

pytestmark = pytest.mark.e2e


async def test_connections_lifecycle(api: Polytomic, source_db: tuple[str, str], org_dir: Path) -> None:
    database, dsn = source_db
    await seed(dsn)

    source = api.connections.create(
        name=name("pg source"), type="postgresql", configuration=pg_config(database), validate=True
    ).data
    assert source is not None
    assert source.id
    assert source.type is not None
    assert source.type.id == "postgresql"
    assert source.status == "healthy"
    assert source.configuration is not None
    assert "password" not in source.configuration
    assert source.configuration["hostname"] == urlsplit(database_url()).hostname
    folder = api.connections.create(
        name=name("folder"), type="file", configuration={"path": str(org_dir)}, validate=True
    ).data
    assert folder is not None
    assert folder.configuration == {"path": str(org_dir)}
    kafka = api.connections.create(
        name=name("kafka"), type="kafka", configuration=kafka_destination(), validate=True
    ).data
    assert kafka is not None
    assert kafka.status == "healthy"

    listed = {c.id: c for c in api.connections.list().data or []}
    assert {source.id, folder.id, kafka.id} <= set(listed)
    assert all("password" not in (c.configuration or {}) for c in listed.values())

    fetched = api.connections.get(source.id).data
    assert fetched is not None
    assert fetched.name == source.name
    assert fetched.created_by is not None
    assert fetched.created_by.type == "apikey"

    renamed = name("pg renamed")
    updated = api.connections.update(
        source.id, name=renamed, configuration=pg_config(database, password=None), validate=True
    ).data
    assert updated is not None
    assert updated.name == renamed
    assert "password" not in (updated.configuration or {})

    types = api.connections.get_types().data or []
    assert {t.id for t in types} == {"postgresql", "file", "kafka"}
    schema = api.connections.get_connection_type_schema("postgresql")
    assert schema.required == ["hostname", "username", "database"]

    api.connections.test_connection(type="postgresql", configuration=pg_config(database))
    api.connections.test_connection(type="postgresql", configuration={}, connection_id=source.id)
    with pytest.raises(BadRequestError):
        api.connections.test_connection(type="postgresql", configuration=pg_config(database, port=free_port()))

    discovered = api.bulk_sync.get_source(source.id, include_fields=True).data
    assert discovered is not None
    tables = {s.id: s for s in discovered.schemas or []}
    assert {"public.customers", "public.orders"} <= set(tables)
    columns = {f.id: f for f in tables["public.customers"].fields or []}
    assert list(columns) == ["id", "name", "balance", "joined", "active"]
    assert columns["id"].is_primary_key is True
    assert columns["name"].is_primary_key is False
    assert columns["balance"].type == "number"
    assert columns["joined"].type == "datetime"
    assert columns["active"].type == "boolean"
    assert {f.remote_type for f in tables["public.orders"].fields or []} == {"int8", "int4", "numeric", "jsonb"}

    target = api.bulk_sync.get_destination(source.id).data
    assert target is not None
    assert {m.id for m in target.modes or []} == {"snapshot", "replicate"}
    assert "schema" in (target.configuration or {})["properties"]
    file_target = api.bulk_sync.get_destination(folder.id).data
    assert file_target is not None
    assert file_target.configuration is not None
    assert file_target.configuration["properties"]["format"]["enum"] == ["jsonl", "csv", "parquet"]

    api.connections.delete(folder.id)
    with pytest.raises(NotFoundError):
        api.connections.get(folder.id)
    with pytest.raises(NotFoundError):
        api.connections.delete(folder.id)


async def test_failed_checks_and_bad_requests(api: Polytomic, source_db: tuple[str, str], org_dir: Path) -> None:
    database, _ = source_db
    with pytest.raises(UnprocessableEntityError) as closed:
        api.connections.create(
            name=name("closed port"),
            type="postgresql",
            configuration=pg_config(database, port=free_port()),
            validate=True,
        )
    assert closed.value.body.status == 422
    assert "connection test failed" in (closed.value.body.message or "")
    with pytest.raises(UnprocessableEntityError):
        api.connections.create(
            name=name("missing folder"), type="file", configuration={"path": str(org_dir / "nope")}, validate=True
        )
    with pytest.raises(UnprocessableEntityError):
        api.connections.create(
            name=name("no broker"),
            type="kafka",
            configuration={"bootstrap_servers": f"127.0.0.1:{free_port()}"},
            validate=True,
        )
    unchecked = api.connections.create(
        name=name("unchecked"), type="postgresql", configuration=pg_config(database, port=free_port())
    ).data
    assert unchecked is not None
    assert unchecked.status == "unhealthy"
    assert unchecked.status_error
    with pytest.raises(UnprocessableEntityError):
        api.connections.create(name=name("bad type"), type="mainframe", configuration={})
    with pytest.raises(UnprocessableEntityError) as unknown_key:
        api.connections.create(name=name("typo"), type="file", configuration={"path": str(org_dir), "pth": "x"})
    assert "pth" in (unknown_key.value.body.message or "")
    with pytest.raises(BadRequestError):
        api.connections.create(
            name=name("bad json"),
            type="file",
            configuration={},
            request_options={"additional_body_parameters": {"configuration": "not an object"}},
        )

    taken = name("taken")
    api.connections.create(name=taken, type="file", configuration={"path": str(org_dir)})
    with pytest.raises(ApiError) as duplicate:
        api.connections.create(
            name=taken, type="file", configuration={"path": str(org_dir)}, request_options={"max_retries": 0}
        )
    assert duplicate.value.status_code == 409
    assert duplicate.value.body["key"] == "conflict"


async def test_auth_errors_and_partner_keys(system: System, api: Polytomic, org_dir: Path) -> None:
    with polytomic(system, token="bm90OmFrZXk=") as stranger, pytest.raises(UnauthorizedError) as unknown:
        stranger.connections.create(name="x", type="file", configuration={"path": str(org_dir)})
    assert unknown.value.body.status == 401
    assert unknown.value.body.key == "unauthorized"
    with httpx.Client() as http, pytest.raises(ApiError) as anonymous:
        Polytomic(base_url=system.url, httpx_client=http).connections.list()
    assert anonymous.value.status_code == 401
    assert anonymous.value.body == {
        "status": 401,
        "key": "unauthorized",
        "message": "missing API key: send Authorization: Bearer <key>",
        "metadata": {},
    }

    other = system.admin("create-org", "partner-customer")
    with pytest.raises(ForbiddenError) as forbidden:
        api.connections.create(
            name=name("elsewhere"), type="file", configuration={"path": str(org_dir)}, organization_id=other["id"]
        )
    assert forbidden.value.body.status == 403

    partner_key = system.admin("create-key", "--org", system.key["org_id"], "--partner")
    with polytomic(system, token=partner_key["encoded"]) as partner:
        await act_for_another_org(api, partner, other_org=other["id"], folder=org_dir)


async def act_for_another_org(api: Polytomic, partner: Polytomic, *, other_org: str, folder: Path) -> None:
    theirs = partner.connections.create(
        name=name("for a customer"), type="file", configuration={"path": "."}, organization_id=other_org
    ).data
    assert theirs is not None
    assert theirs.organization_id == other_org
    fetched = partner.connections.get(theirs.id or "").data
    assert fetched is not None
    assert fetched.organization_id == other_org
    with pytest.raises(NotFoundError):
        api.connections.get(theirs.id or "")
    with pytest.raises(BadRequestError):
        partner.connections.create(
            name=name("nobody"), type="file", configuration={"path": str(folder)}, organization_id=str(uuid.uuid4())
        )


async def test_connection_in_use_needs_force(api: Polytomic, source_db: tuple[str, str]) -> None:
    database, dsn = source_db
    await seed(dsn)
    source = api.connections.create(name=name("used"), type="postgresql", configuration=pg_config(database)).data
    assert source is not None
    sync = api.bulk_sync.create(
        name=name("uses it"),
        source_connection_id=source.id or "",
        destination_connection_id=source.id or "",
        destination_configuration={"schema": "copy"},
        default_schedule=BulkSyncDefaultScheduleRequest(frequency="manual"),
    ).data
    assert sync is not None
    with pytest.raises(ConflictError) as in_use:
        api.connections.delete(source.id or "", request_options={"max_retries": 0})
    assert sync.id in (in_use.value.body.message or "")
    api.connections.delete(source.id or "", force=True)
    with pytest.raises(NotFoundError):
        api.bulk_sync.get(sync.id or "")
