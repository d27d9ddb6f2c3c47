"""What a tenant's connection may reach, with the official `polytomic` SDK through the whole system:
- file connections live inside their organisation's own folder of the files root (`SYNCLINE_FILES__ROOT/<org>`;
  the root is the session's base temporary folder here): `/`, the root itself, another organisation's folder, an
  absolute folder elsewhere, a `..` or a symlink out of it are 422 on create, update and test;
- a bulk sync's sub-folder and its schemas' output names cannot leave the connection's folder (422 on the sync,
  400 on the schema route, which answers every broken rule with 400);
- `resync_mode=rebuild` removes the sync's own earlier files and leaves any other file in the folder alone;
- a PostgreSQL connection pointed elsewhere (hostname, port, username, database) needs its password again, on
  update and on a test of the stored connection (422 without it, accepted with it)."""

import json
from pathlib import Path
from typing import Any

import pytest
from polytomic import BadRequestError, Polytomic, SchemaConfiguration
from polytomic.core.api_error import ApiError
from tests.e2e.polytomic_support import NO_RETRY, connection, create_sync, name, pg_config, run, seed
from tests.support.system import System

pytestmark = pytest.mark.e2e


def unprocessable(caught: pytest.ExceptionInfo[ApiError]) -> str:
    """The message of a 422. (`connections.test` declares no 422, so the SDK raises a plain ApiError there;
    elsewhere UnprocessableEntityError, an ApiError too.)"""
    assert caught.value.status_code == 422, caught.value.body
    body = caught.value.body
    return str(body.get("message") if isinstance(body, dict) else getattr(body, "message", body))


def escapes(system: System, org_dir: Path) -> list[str]:
    """Folders outside the files root, each written the way a tenant could try it."""
    (org_dir / "link").symlink_to("/etc")
    relative = org_dir.relative_to(system.org_root())
    up = "/..".join([""] * (len(relative.parts) + 2))  # one level above the root
    return [
        "/",
        "/etc",
        str(system.files_root.parent),
        str(system.files_root),  # the root holds every organisation's folder: not one's own
        str(system.org_root("another-org")),
        "../another-org",
        "..",
        f"{relative}{up}",
        f"{org_dir}{up}",
        str(org_dir / "link"),
        f"{relative}/link",
    ]


async def test_file_connections_stay_inside_the_files_root(api: Polytomic, system: System, org_dir: Path) -> None:
    for path in escapes(system, org_dir):
        with pytest.raises(ApiError) as created:
            api.connections.create(name=name("escape"), type="file", configuration={"path": path})
        assert "outside the files root" in unprocessable(created), path
        with pytest.raises(ApiError) as tested:
            api.connections.test_connection(type="file", configuration={"path": path})
        assert "outside the files root" in unprocessable(tested), path

    relative = str(org_dir.relative_to(system.org_root()))
    folder = api.connections.create(
        name=name("inside"), type="file", configuration={"path": relative}, validate=True
    ).data
    assert folder is not None
    assert folder.id
    assert folder.configuration == {"path": relative}  # answered as given
    absolute = api.connections.create(
        name=name("inside"), type="file", configuration={"path": str(org_dir)}, validate=True
    ).data
    assert absolute is not None
    assert absolute.status == "healthy"
    with pytest.raises(ApiError) as updated:
        api.connections.update(folder.id, name=folder.name or "", configuration={"path": "/"})
    assert "outside the files root" in unprocessable(updated)
    with pytest.raises(ApiError) as tested:
        api.connections.test_connection(type="file", configuration={"path": "/etc"}, connection_id=folder.id)
    assert "outside the files root" in unprocessable(tested)
    api.connections.test_connection(type="file", configuration={}, connection_id=folder.id)


async def test_sub_folders_and_output_names_stay_inside_the_folder(
    api: Polytomic, source_db: tuple[str, str], org_dir: Path
) -> None:
    source_name, source_dsn = source_db
    await seed(source_dsn)
    source = connection(api, source_name, "source")
    (org_dir / "out").mkdir()
    folder = api.connections.create(name=name("folder"), type="file", configuration={"path": str(org_dir / "out")})
    assert folder.data is not None
    target = str(folder.data.id)
    for sub_folder in ("../escaped", "/etc", "a/../../escaped"):
        with pytest.raises(ApiError) as created:
            create_sync(api, source, target, ["public.customers"], destination_configuration={"path": sub_folder})
        assert "must stay inside its folder" in unprocessable(created), sub_folder
    escaping = SchemaConfiguration(id="public.customers", user_output_name="../escaped")
    with pytest.raises(ApiError) as created:
        create_sync(api, source, target, [escaping], destination_configuration={}, normalize_names="disabled")
    assert "output_name [../escaped] must stay inside its folder" in unprocessable(created)

    sync_id = create_sync(
        api, source, target, ["public.customers"], destination_configuration={}, normalize_names="disabled"
    )
    with pytest.raises(BadRequestError) as invalid:
        api.bulk_sync.schemas.update(sync_id, "public.customers", user_output_name="../../escaped")
    assert "must stay inside its folder" in (invalid.value.body.message or "")
    assert run(api, sync_id).status == "completed"
    assert [p.name for p in org_dir.iterdir()] == ["out"]  # nothing landed beside the folder
    assert len(list((org_dir / "out" / "customers").glob("*.jsonl"))) == 1


async def test_rebuild_leaves_files_it_did_not_write(api: Polytomic, source_db: tuple[str, str], org_dir: Path) -> None:
    source_name, source_dsn = source_db
    await seed(source_dsn)
    source = connection(api, source_name, "source")
    folder = api.connections.create(name=name("folder"), type="file", configuration={"path": str(org_dir)})
    assert folder.data is not None
    sync_id = create_sync(
        api, source, str(folder.data.id), ["public.customers"], destination_configuration={"path": "js"}
    )
    assert run(api, sync_id).status == "completed"
    objects = org_dir / "js" / "customers"
    foreign = objects / "exported-by-someone-else.jsonl"
    foreign.write_text('{"id": 99}\n')
    (objects / "notes.csv").write_text("kept\n")

    rebuilt = run(api, sync_id, resync_mode="rebuild")
    assert rebuilt.status == "completed", rebuilt.status_message
    data = sorted(p.name for p in objects.iterdir() if not p.name.startswith("."))
    assert data == sorted([foreign.name, "notes.csv", f"{rebuilt.id}.jsonl"])  # the first run's file went
    assert foreign.read_text() == '{"id": 99}\n'
    rows = [json.loads(line) for line in (objects / f"{rebuilt.id}.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == [1, 2, 3, 4, 5]


MOVES: list[dict[str, Any]] = [
    {"hostname": "localhost"},
    {"port": 5432},
    {"username": "someone_else"},
    {"database": "postgres"},
]
"""Changes that point a connection elsewhere."""


async def test_a_connection_pointed_elsewhere_needs_its_password_again(
    api: Polytomic, source_db: tuple[str, str]
) -> None:
    database, _ = source_db
    created = api.connections.create(
        name=name("pg"), type="postgresql", configuration=pg_config(database), validate=True
    ).data
    assert created is not None
    assert created.id
    for change in MOVES:
        with pytest.raises(ApiError) as updated:
            api.connections.update(
                created.id,
                name=created.name or "",
                configuration=pg_config(database, password=None) | change,
                request_options=NO_RETRY,
            )
        assert "[password] must be given again" in unprocessable(updated), change
        with pytest.raises(ApiError) as tested:
            api.connections.test_connection(type="postgresql", configuration=change, connection_id=created.id)
        assert "[password] must be given again" in unprocessable(tested), change
    unchanged = api.connections.get(created.id).data
    assert unchanged is not None
    assert unchanged.configuration is not None
    assert unchanged.configuration["hostname"] == pg_config(database)["hostname"]

    # the same change with the password is accepted (and checked against the new host)
    api.connections.test_connection(
        type="postgresql",
        configuration={"hostname": "localhost", "password": pg_config(database)["password"]},
        connection_id=created.id,
    )
    moved = api.connections.update(
        created.id, name=created.name or "", configuration=pg_config(database, hostname="localhost"), validate=True
    ).data
    assert moved is not None
    assert moved.configuration is not None
    assert moved.configuration["hostname"] == "localhost"
    assert moved.status == "healthy"
    # other changes keep the stored password
    renamed = api.connections.update(
        created.id, name=name("pg renamed"), configuration=pg_config(database, hostname="localhost", password=None)
    ).data
    assert renamed is not None
    api.connections.test_connection(type="postgresql", configuration={}, connection_id=created.id)
