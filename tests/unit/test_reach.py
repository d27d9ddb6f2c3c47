"""Where tenant connections may reach: never Syncline's own databases (however the server is named), and only their
organisation's folder of the files root."""

from pathlib import Path

import pytest

from syncline_connectors.postgres import PostgresConfig, connect
from syncline_connectors.reach import OwnDatabaseError, OwnDatabases, Reach, Server, org_folder
from syncline_platform.errors import InvalidError
from syncline_platform.settings import ServiceSettings

OWN = ("postgresql://postgres@127.0.0.1:55432/syncline", "postgresql://postgres@127.0.0.1:55432/syncline_data")


@pytest.mark.parametrize(
    ("host", "port", "database"),
    [
        ("127.0.0.1", 55432, "syncline"),
        ("localhost", 55432, "syncline"),
        ("127.1.2.3", 55432, "syncline_data"),
        ("0.0.0.0", 55432, "syncline"),  # noqa: S104 - connecting to it reaches this machine
        ("::1", 55432, "syncline"),
        ("::ffff:127.0.0.1", 55432, "syncline"),
        ("/var/run/postgresql", 55432, "syncline"),  # a Unix socket folder
    ],
)
async def test_syncline_s_own_databases_are_refused_however_named(host: str, port: int, database: str) -> None:
    with pytest.raises(OwnDatabaseError, match="Syncline's own database"):
        await OwnDatabases.of(OWN).refuse(Server(host=host, port=port, database=database))


@pytest.mark.parametrize(
    ("host", "port", "database"),
    [
        ("127.0.0.1", 55432, "demo_source"),  # another database of the same server
        ("127.0.0.1", 5432, "syncline"),  # another server on this machine
        ("192.0.2.10", 55432, "syncline"),  # another machine
    ],
)
async def test_other_databases_are_not(host: str, port: int, database: str) -> None:
    await OwnDatabases.of(OWN).refuse(Server(host=host, port=port, database=database))


async def test_the_guard_is_fed_by_the_services_settings() -> None:
    settings = ServiceSettings(database_url="postgresql://u:p@db.internal:6432/control")  # type: ignore[arg-type]
    own = OwnDatabases.of(settings.own_dsns())
    assert [s.where for s in own.servers] == [
        "postgresql://db.internal:6432/control",
        "postgresql://db.internal:6432/syncline_data",
    ]
    with pytest.raises(OwnDatabaseError):
        await own.refuse(Server(host="DB.internal", port=6432, database="syncline_data"))


async def test_connect_refuses_before_it_opens_anything() -> None:
    config = PostgresConfig(host="localhost", port=55432, database="syncline", own=OwnDatabases.of(OWN))
    with pytest.raises(OwnDatabaseError):
        await connect(config)
    dsn = PostgresConfig(dsn="postgresql://x@[::1]:55432/syncline_data", own=OwnDatabases.of(OWN))
    with pytest.raises(OwnDatabaseError):
        await connect(dsn)


def test_each_organisation_has_its_own_folder(tmp_path: Path) -> None:
    reach = Reach(files=tmp_path).for_org("0b5c0f4e-7d0c-4c39-9a43-0c1a5d3b2f10")
    assert reach.files == tmp_path / "0b5c0f4e-7d0c-4c39-9a43-0c1a5d3b2f10"
    assert reach.files.is_dir()
    for bad in ("..", "a/../b", "/etc", ""):
        with pytest.raises(InvalidError):
            org_folder(tmp_path, bad)
