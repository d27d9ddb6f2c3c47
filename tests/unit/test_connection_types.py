"""Checks and discovery of folder connections through the connectors (PostgreSQL and Kafka are checked in the e2e
suite): folders inside the files root only, a folder's files as objects; and the rule that a connection pointed
elsewhere carries its stored secrets again."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from syncline_connectors import connection_types
from syncline_connectors.capabilities import ObjectInfo
from syncline_connectors.connection_types import CONNECTION_TYPES, SourceUnavailableError, check_secrets_given
from syncline_connectors.reach import Reach
from syncline_platform.errors import InvalidError

FILES = {"object_per": "file"}


async def check_connection(connection_type: str, values: dict[str, str], *, files_root: Path) -> str | None:
    return await connection_types.check(connection_type, values, secrets={}, reach=Reach(files=files_root))


async def discover(connection_type: str, values: dict[str, str], *, files_root: Path) -> list[ObjectInfo]:
    return await connection_types.discover(
        connection_type, values, secrets={}, reach=Reach(files=files_root), extra=FILES
    )


async def test_a_folder_offers_its_files_with_their_fields(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("id,name\n1,a\n")
    (tmp_path / "events.jsonl").write_text('{"at": 1, "kind": "x"}\n{"at": 2}\n')
    (tmp_path / "nested").mkdir()
    pq.write_table(pa.table({"sku": ["a"], "qty": [1]}), tmp_path / "nested" / "stock.parquet")
    (tmp_path / "notes.txt").write_text("ignored")
    found = await discover("file", {"path": str(tmp_path)}, files_root=tmp_path)
    assert [(o.key, [c.name for c in o.columns]) for o in found] == [
        ("customers.csv", ["id", "name"]),
        ("events.jsonl", ["at", "kind"]),
        ("nested/stock.parquet", ["sku", "qty"]),
    ]


async def test_folder_checks(tmp_path: Path) -> None:
    assert await check_connection("file", {"path": str(tmp_path)}, files_root=tmp_path) is None
    assert "does not exist" in (await check_connection("file", {"path": "no"}, files_root=tmp_path) or "")
    assert "unknown connection type" in (await check_connection("ftp", {}, files_root=tmp_path) or "")
    with pytest.raises(SourceUnavailableError, match="cannot be a bulk sync source"):
        await discover("kafka", {"bootstrap_servers": "x"}, files_root=tmp_path)
    (tmp_path / "broken.jsonl").write_text("{not json\n")
    with pytest.raises(InvalidError, match=r"broken\.jsonl"):
        await discover("file", {"path": str(tmp_path)}, files_root=tmp_path)


async def test_a_csv_header_over_the_field_limit_is_a_broken_rule(tmp_path: Path) -> None:
    (tmp_path / "wide.csv").write_text("id," + "h" * 200_000 + "\n1,2\n")
    with pytest.raises(InvalidError, match=r"cannot read file \[wide\.csv\]: a CSV field or header is longer than"):
        await discover("file", {"path": str(tmp_path)}, files_root=tmp_path)


@pytest.mark.parametrize("path", ["/", "/etc", "..", "inside/../..", "link"])
async def test_a_folder_outside_the_files_root_is_a_broken_rule(tmp_path: Path, path: str) -> None:
    root = tmp_path / "root"
    (root / "inside").mkdir(parents=True)
    (root / "link").symlink_to(tmp_path)
    (tmp_path / "secret.csv").write_text("password\nhunter2\n")
    with pytest.raises(InvalidError, match="outside the files root"):
        await check_connection("file", {"path": path}, files_root=root)
    with pytest.raises(InvalidError, match="outside the files root"):
        await discover("file", {"path": path}, files_root=root)


async def test_discovery_skips_files_linked_out_of_the_folder(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "a.csv").write_text("id\n1\n")
    (tmp_path / "secret.csv").write_text("password\nhunter2\n")
    (tmp_path / "root" / "b.csv").symlink_to(tmp_path / "secret.csv")
    found = await discover("file", {"path": "."}, files_root=tmp_path / "root")
    assert [o.key for o in found] == ["a.csv"]


PG = CONNECTION_TYPES["postgresql"]
PG_KEYS = {"identity": PG.identity, "secret_keys": PG.secret_keys}
STORED = {"hostname": "db", "port": 5432, "username": "u", "database": "d", "ssl": False}


@pytest.mark.parametrize(
    "change", [{"hostname": "evil.example"}, {"port": 6543}, {"username": "other"}, {"database": "other"}]
)
def test_pointing_a_connection_elsewhere_needs_its_password_again(change: dict[str, object]) -> None:
    with pytest.raises(InvalidError, match=r"\[password\] must be given again when \[\w+\] changes"):
        check_secrets_given(
            identity=PG.identity,
            secret_keys=PG.secret_keys,
            before=STORED,
            after=STORED | change,
            stored={"password"},
            given=(),
        )
    check_secrets_given(
        identity=PG.identity,
        secret_keys=PG.secret_keys,
        before=STORED,
        after=STORED | change,
        stored={"password"},
        given={"password"},
    )
    check_secrets_given(
        identity=PG.identity, secret_keys=PG.secret_keys, before=STORED, after=STORED | change, stored=(), given=()
    )  # no password to follow


def test_other_changes_keep_the_stored_password() -> None:
    check_secrets_given(
        identity=PG.identity,
        secret_keys=PG.secret_keys,
        before=STORED,
        after=STORED | {"ssl": True, "port": "5432"},
        stored={"password"},
        given=(),
    )
