"""Where a tenant's connections may reach, with the official `polytomic` SDK through the whole system:
- no connection reaches Syncline's own databases (the services' and the document store), however the server is
  named and whatever the credentials: create (validated or not), update and test are 422, saying why, and the
  answer names none of Syncline's tables;
- each organisation's file connections live in its own folder of the files root (`<root>/<org id>`): the same
  `path` names a different folder for each organisation, one cannot name another's, and a run writes into its own
  organisation's folder only."""

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from polytomic import Polytomic
from polytomic.core.api_error import ApiError
from tests.e2e.polytomic_support import create_sync, name, pg_config, polytomic, run, seed, wait_for_policy
from tests.support.system import System

pytestmark = pytest.mark.e2e

SYNCLINE_TABLES = ("api_keys", "connections", "sync_specs", "runs", "outbox")


@pytest.fixture
def other(system: System) -> Iterator[tuple[str, Polytomic]]:
    """A second organisation: its id and its SDK."""
    org = system.admin("create-org", "reach b")
    key = system.admin("create-key", "--org", org["id"])
    with polytomic(system, token=key["encoded"]) as sdk:
        wait_for_policy(sdk)
        yield org["id"], sdk


def refused(caught: pytest.ExceptionInfo[ApiError]) -> str:
    assert caught.value.status_code == 422, caught.value.body
    body = caught.value.body
    message = str(body.get("message") if isinstance(body, dict) else getattr(body, "message", body))
    assert not any(table in message for table in SYNCLINE_TABLES), message
    return message


def own_databases(system: System) -> list[dict[str, Any]]:
    """Syncline's own databases as a tenant could name them: by address, by name, as `localhost`."""
    found = []
    for dsn in (system.database_url, system.docstore_url):
        server = urlsplit(dsn)
        database = server.path.lstrip("/")
        found += [pg_config(database), pg_config(database, hostname="localhost")]
    return found


def test_no_connection_reaches_syncline_s_own_databases(api: Polytomic, system: System) -> None:
    for configuration in own_databases(system):
        for validate in (True, False):
            with pytest.raises(ApiError) as created:
                api.connections.create(
                    name=name("own"), type="postgresql", configuration=configuration, validate=validate
                )
            assert "Syncline's own database" in refused(created), configuration
        with pytest.raises(ApiError) as tested:
            api.connections.test_connection(type="postgresql", configuration=configuration)
        assert "Syncline's own database" in refused(tested)

    elsewhere = api.connections.create(
        name=name("demo"), type="postgresql", configuration=pg_config("postgres"), validate=True
    ).data
    assert elsewhere is not None
    assert elsewhere.id
    moved = own_databases(system)[1]
    with pytest.raises(ApiError) as updated:
        api.connections.update(elsewhere.id, name=elsewhere.name or "", type="postgresql", configuration=moved)
    assert "Syncline's own database" in refused(updated)
    with pytest.raises(ApiError) as retested:
        api.connections.test_connection(type="postgresql", configuration=moved, connection_id=elsewhere.id)
    assert "Syncline's own database" in refused(retested)
    stored = api.connections.get(elsewhere.id).data
    assert stored is not None
    assert stored.configuration is not None
    assert stored.configuration["database"] == "postgres"  # unchanged


async def test_each_organisation_has_its_own_folder(
    api: Polytomic, other: tuple[str, Polytomic], system: System, source_db: tuple[str, str]
) -> None:
    b_org, b_api = other
    a_root, b_root = system.org_root(), system.org_root(b_org)
    (a_root / "shared").mkdir(parents=True, exist_ok=True)
    (a_root / "shared" / "secret.csv").write_text("id,card\n1,4111\n")

    a_folder = api.connections.create(name=name("a"), type="file", configuration={"path": "shared"}, validate=True)
    assert a_folder.data is not None
    with pytest.raises(ApiError) as missing:  # the same path is B's own folder, where nothing is
        b_api.connections.create(name=name("b"), type="file", configuration={"path": "shared"}, validate=True)
    assert missing.value.status_code == 422
    assert "secret" not in str(missing.value.body)
    for path in (f"../{system.key['org_id']}/shared", str(a_root / "shared"), str(a_root), str(system.files_root)):
        with pytest.raises(ApiError) as escaped:
            b_api.connections.create(name=name("b"), type="file", configuration={"path": path})
        assert "outside the files root" in refused(escaped), path

    database, dsn = source_db
    await seed(dsn)
    for sdk in (api, b_api):
        source = sdk.connections.create(name=name("src"), type="postgresql", configuration=pg_config(database)).data
        out = sdk.connections.create(name=name("out"), type="file", configuration={"path": "."}).data
        assert source is not None
        assert out is not None
        sync = create_sync(
            sdk, source.id or "", out.id or "", ["public.customers"], destination_configuration={"path": "out"}
        )
        assert run(sdk, sync).status == "completed"
    for root in (a_root, b_root):
        assert len(list((root / "out" / "customers").glob("*.jsonl"))) == 1, root
    assert not (system.files_root / "out").exists()
