"""Files as source and destination: folders read with patterns, files written atomically under stable names, every
folder inside the files root (no absolute path, `..` or symlink out of it; no output name out of the destination
folder), and `rebuild` removing only the files the sync itself wrote."""

import csv
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr
from tests.support.infra import create_database, drop_database, unique

from syncline_connectors.capabilities import Encoding, Mark, ObjectPlan, Piece, WriteOptions
from syncline_connectors.files import FilesConfig, FilesDestination, FilesSource
from syncline_connectors.postgres import TypedColumn
from syncline_connectors.spec import Endpoint, FileFormat, Filter, Mode, ObjectSpec, SyncSpec
from syncline_executor.pipeline import Pipeline, PipelineSettings, Tally
from syncline_platform.db import create_pool
from syncline_platform.errors import InvalidError
from syncline_platform.migrations import apply_migrations

pytestmark = pytest.mark.integration

EXECUTOR_MIGRATIONS = Path(__file__).resolve().parents[2] / "services/executor/src/syncline_executor/migrations"


@pytest.fixture(scope="module")
async def state() -> AsyncIterator[asyncpg.Pool]:
    name = unique("files_state")
    dsn = await create_database(name)
    await apply_migrations(dsn=SecretStr(dsn), schema="executor", directory=EXECUTOR_MIGRATIONS)
    pool = await create_pool(dsn=SecretStr(dsn), schema="executor", application="test", max_size=4)
    try:
        yield pool
    finally:
        await pool.close()
        await drop_database(name)


@pytest.fixture
async def db() -> AsyncIterator[str]:
    name = unique("files_db")
    dsn = await create_database(name)
    try:
        yield dsn
    finally:
        await drop_database(name)


async def run(pool: asyncpg.Pool, spec: SyncSpec, *, run_id: str, files_root: Path) -> Tally:
    tally = Tally()
    settings = PipelineSettings(batch_rows=2, files_root=files_root)
    await Pipeline(pool=pool, sealer=None, settings=settings, run_id=run_id, tally=tally).run(spec)
    return tally


def pg(dsn: str) -> Endpoint:
    return Endpoint(type="postgresql", config={"dsn": dsn, "database": "db", "schema": "public"})


async def seed(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(8, 2), at timestamptz, ok boolean,"
            " doc jsonb);"
            "INSERT INTO items VALUES (1, 'a \"quoted\", with comma', 1.50, '2024-01-01 10:00+00', true,"
            " '{\"k\": \"back\\\\slash\"}'), (2, NULL, NULL, NULL, NULL, NULL), (3, 'three', 3, '2024-05-05', false,"
            " '[1, 2]')"
        )
    finally:
        await conn.close()


async def test_a_folder_is_read_recursively_with_include_and_exclude_patterns(
    state: asyncpg.Pool, db: str, tmp_path: Path
) -> None:
    orders = tmp_path / "orders"
    (orders / "2024" / "01").mkdir(parents=True)
    (orders / "2024" / "01" / "a.csv").write_text("id,name,qty\n1,one,5\n2,two,7\n")
    (orders / "2024" / "b.jsonl").write_text('{"id": 3, "name": "three", "qty": 9}\n{"id": 4, "name": "four"}\n')
    (orders / "skip.csv").write_text("id,name,qty\n99,skipped,1\n")
    (orders / "notes.txt").write_text("not data")
    spec = SyncSpec(
        sync_id=unique("files"),
        source=Endpoint(
            type="files", config={"path": str(tmp_path), "include": ["*.csv", "*.jsonl"], "exclude": ["skip*"]}
        ),
        destination=pg(db),
        objects=(
            ObjectSpec(name="orders", primary_key=("id",), filters=(Filter(field="name", op="!=", value="two"),)),
        ),
        mode=Mode.REPLICATE,
    )
    tally = await run(state, spec, run_id=unique("run"), files_root=tmp_path)
    conn = await asyncpg.connect(db)
    try:
        rows = await conn.fetch("SELECT id, name, qty FROM orders ORDER BY id")
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [("1", "one", "5"), ("3", "three", "9"), ("4", "four", None)]
    assert tally.counters().rows_read == 3


@pytest.mark.parametrize("file_format", list(FileFormat))
async def test_tables_land_in_files_named_per_run_and_object(
    state: asyncpg.Pool, db: str, tmp_path: Path, file_format: FileFormat
) -> None:
    await seed(db)
    run_id = unique("run")
    spec = SyncSpec(
        sync_id=unique("out"),
        source=pg(db),
        destination=Endpoint(type="files", config={"path": str(tmp_path)}),
        objects=(ObjectSpec(name="items", schema_name="public"),),
        file_format=file_format,
    )
    tally = await run(state, spec, run_id=run_id, files_root=tmp_path)
    assert tally.counters().indexed_document_count == 3
    path = tmp_path / "items" / f"{run_id}.{file_format.value}"
    # no temporary file left; the sync's manifest records the file
    assert sorted(p.name for p in (tmp_path / "items").iterdir() if not p.name.startswith(".")) == [path.name]
    rows = read(path, file_format)
    expected_ids: list[Any] = ["1", "2", "3"] if file_format is FileFormat.CSV else [1, 2, 3]
    assert [r["id"] for r in rows] == expected_ids
    first = rows[0]
    assert first["name"] == 'a "quoted", with comma'
    if file_format is FileFormat.JSONL:
        assert first["doc"] == {"k": "back\\slash"}
        assert first["price"] == 1.5
        assert first["at"] == "2024-01-01T10:00:00+00:00"
    if file_format is FileFormat.PARQUET:
        assert str(first["price"]) == "1.50"
        assert first["at"].isoformat() == "2024-01-01T10:00:00+00:00"
        assert first["ok"] is True
        assert json.loads(first["doc"]) == {"k": "back\\slash"}
    assert rows[1]["name"] in (None, "")
    # the same run again (a retry) rewrites the same file: still three rows, still one file
    await run(state, spec, run_id=run_id, files_root=tmp_path)
    assert len(read(path, file_format)) == 3
    assert sorted(p.name for p in (tmp_path / "items").iterdir() if not p.name.startswith(".")) == [path.name]


def read(path: Path, file_format: FileFormat) -> list[dict[str, Any]]:
    if file_format is FileFormat.JSONL:
        return [json.loads(line) for line in path.read_text().splitlines()]
    if file_format is FileFormat.CSV:
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    return list(pq.read_table(path).to_pylist())


async def test_a_file_appears_only_complete(tmp_path: Path) -> None:
    plan = ObjectPlan(
        schema=None,
        name="t",
        columns=(TypedColumn(name="v", type="text"),),
        primary_key=(),
        output="t",
        output_columns=("v",),
    )
    async with FilesDestination(
        FilesConfig(path=str(tmp_path)), file_format=FileFormat.JSONL, run_id="r1", sync_id="s1"
    ) as files:
        await files.open_object(plan, options=WriteOptions(mode=Mode.SNAPSHOT), resume=None)

        async def items() -> AsyncIterator[Piece | Mark]:
            yield Piece(b'{"v": "a"}\n')
            assert not files.path_for("t").exists()  # still under its temporary name
            yield Mark(position={}, rows=1)

        async for _ in files.write(plan, items(), encoding=Encoding.JSONL):
            assert not files.path_for("t").exists()
        await files.close_object(plan)
        assert files.path_for("t").read_text() == '{"v": "a"}\n'
        # an aborted object leaves nothing behind
        await files.open_object(plan, options=WriteOptions(mode=Mode.SNAPSHOT), resume=None)
        await files.abort_object(plan)
    assert [p.name for p in (tmp_path / "t").iterdir() if not p.name.startswith(".")] == ["r1.jsonl"]


@pytest.mark.parametrize(
    "path",
    ["/", "../outside", "inside/../../outside", "{outside}", "{root}/../outside", "link", "{root}/inside/link"],
)
def test_a_folder_outside_the_files_root_is_refused(tmp_path: Path, path: str) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "inside").mkdir(parents=True)
    outside.mkdir()
    (root / "link").symlink_to(outside)
    (root / "inside" / "link").symlink_to(outside)
    with pytest.raises(InvalidError, match="outside the files root"):
        FilesConfig.from_values({"path": path.format(root=root, outside=outside)}, root=root)


@pytest.mark.parametrize("path", [".", "inside", "inside/../inside", "{root}/inside", "new/folder"])
def test_a_folder_inside_the_files_root_is_resolved(tmp_path: Path, path: str) -> None:
    root = tmp_path / "root"
    (root / "inside").mkdir(parents=True)
    config = FilesConfig.from_values({"path": path.format(root=root)}, root=root)
    assert Path(config.path).is_relative_to(root.resolve())
    assert Path(config.path).is_absolute()


async def test_a_run_cannot_reach_outside_the_files_root(state: asyncpg.Pool, db: str, tmp_path: Path) -> None:
    await seed(db)
    root = tmp_path / "root"
    root.mkdir()
    spec = SyncSpec(
        sync_id=unique("out"),
        source=pg(db),
        destination=Endpoint(type="files", config={"path": str(tmp_path / "elsewhere")}),
        objects=(ObjectSpec(name="items", schema_name="public"),),
    )
    with pytest.raises(InvalidError, match="outside the files root"):
        await run(state, spec, run_id=unique("run"), files_root=root)
    escaping = spec.model_copy(
        update={
            "destination": Endpoint(type="files", config={"path": "out"}),
            "objects": (ObjectSpec(name="items", schema_name="public", output_name="../../escaped"),),
        }
    )
    with pytest.raises(InvalidError, match="outside the destination folder"):
        await run(state, escaping, run_id=unique("run"), files_root=root)
    assert not (tmp_path / "escaped").exists()
    assert not (tmp_path / "elsewhere").exists()


def test_a_file_linked_out_of_the_folder_is_not_read(tmp_path: Path) -> None:
    folder, secret = tmp_path / "in", tmp_path / "secret.csv"
    (folder / "orders").mkdir(parents=True)
    (folder / "orders" / "a.csv").write_text("id\n1\n")
    secret.write_text("password\nhunter2\n")
    (folder / "orders" / "b.csv").symlink_to(secret)
    (folder / "orders" / "c.csv").symlink_to(folder / "orders" / "a.csv")  # a link inside the folder is read
    source = FilesSource(FilesConfig.from_values({"path": "in"}, root=tmp_path))
    assert [p.name for p in source.files("orders")] == ["a.csv", "c.csv"]


async def write_one(folder: Path, *, run_id: str, sync_id: str, rebuild: bool = False) -> Path:
    """One run's file of object `t` in `folder`."""
    plan = ObjectPlan(
        schema=None,
        name="t",
        columns=(TypedColumn(name="v", type="text"),),
        primary_key=(),
        output="t",
        output_columns=("v",),
    )
    config = FilesConfig(path=str(folder))
    async with FilesDestination(config, file_format=FileFormat.JSONL, run_id=run_id, sync_id=sync_id) as files:
        options = WriteOptions(mode=Mode.SNAPSHOT, extra={"rebuild": rebuild})
        await files.open_object(plan, options=options, resume=None)

        async def items() -> AsyncIterator[Piece | Mark]:
            yield Piece(b'{"v": "a"}\n')
            yield Mark(position={}, rows=1)

        async for _ in files.write(plan, items(), encoding=Encoding.JSONL):
            pass
        await files.close_object(plan)
        return files.path_for("t")


async def test_rebuild_removes_only_the_files_the_sync_wrote(tmp_path: Path) -> None:
    first = await write_one(tmp_path, run_id="r1", sync_id="s1")
    await write_one(tmp_path, run_id="r2", sync_id="s1")
    theirs = await write_one(tmp_path, run_id="other", sync_id="s2")  # another sync writing to the same folder
    (tmp_path / "t" / "foreign.jsonl").write_text('{"v": "not ours"}\n')
    (tmp_path / "t" / "notes.txt").write_text("kept")
    await write_one(tmp_path, run_id="r3", sync_id="s1", rebuild=True)
    kept = sorted(p.name for p in first.parent.iterdir() if not p.name.startswith("."))
    assert kept == ["foreign.jsonl", "notes.txt", theirs.name, "r3.jsonl"]
    await write_one(tmp_path, run_id="r4", sync_id="s1", rebuild=True)  # the manifest forgot what it removed
    kept = sorted(p.name for p in first.parent.iterdir() if not p.name.startswith("."))
    assert kept == ["foreign.jsonl", "notes.txt", theirs.name, "r4.jsonl"]


def _source(root: Path, name: str, content: bytes) -> FilesSource:
    """A connection's folder holding one object (sub-folder) with one file."""
    (root / Path(name).parent).mkdir(parents=True)
    (root / name).write_bytes(content)
    return FilesSource(FilesConfig(path=str(root)))


def _plan(name: str) -> ObjectPlan:
    return ObjectPlan(
        schema=None,
        name=name,
        columns=(TypedColumn(name="id", type="text"),),
        primary_key=(),
        output=name,
        output_columns=("id",),
    )


async def _drop(item: Any) -> None:
    del item


async def test_unreadable_files_fail_with_a_message_naming_them(tmp_path: Path) -> None:
    """A CSV header over the csv module's 128 KiB field limit, a JSON line that is no object, text that is not
    UTF-8: each is an InvalidError naming the file (relative to the folder) and its line, never a bare crash."""
    wide = _source(tmp_path / "w", "wide/a.csv", b"id," + b"h" * 200_000 + b"\n1,2\n")
    too_long = r"file \[wide/a.csv\] at line 1: a CSV field or header is longer than 131072 characters"
    with pytest.raises(InvalidError, match=too_long):
        await wide.discover()
    with pytest.raises(InvalidError, match=too_long):
        await wide.read_snapshot(_plan("wide"), after=None, encoding=Encoding.ROWS, shape=None, emit=_drop)
    with pytest.raises(InvalidError, match=too_long):
        await wide.sample(_plan("wide"), limit=5)

    odd = _source(tmp_path / "o", "odd/b.jsonl", b'{"id": 1}\n[1, 2]\n')
    with pytest.raises(InvalidError, match=r"file \[odd/b.jsonl\] at line 2: a line is not a JSON object"):
        await odd.read_snapshot(_plan("odd"), after=None, encoding=Encoding.ROWS, shape=None, emit=_drop)
    latin = _source(tmp_path / "l", "latin/c.csv", b"id,name\n1,caf\xe9\n")
    with pytest.raises(InvalidError, match=r"file \[latin/c.csv\]: the file is not UTF-8 text"):
        await latin.discover()


async def test_a_folder_read_file_by_file_offers_and_reads_each_file(
    state: asyncpg.Pool, db: str, tmp_path: Path
) -> None:
    """`object_per="file"`: discovery offers every file (Parquet too) by its path with its header's fields, and a
    run reads exactly the file an object names."""
    (tmp_path / "nested").mkdir()
    (tmp_path / "customers.csv").write_text("id,name\n1,a\n2,b\n")
    (tmp_path / "nested" / "events.jsonl").write_text('{"id": 7, "kind": "x"}\n{"id": 8}\n')
    pq.write_table(pa.table({"sku": ["s1", "s2", "s3"], "qty": [1, 2, 3]}), tmp_path / "nested" / "stock.parquet")
    source = FilesSource(FilesConfig.from_values({"path": ".", "object_per": "file"}, root=tmp_path))
    found = await source.discover()
    assert [(o.key, [(c.name, c.type) for c in o.columns]) for o in found] == [
        ("customers.csv", [("id", "text"), ("name", "text")]),
        ("nested/events.jsonl", [("id", "bigint"), ("kind", "text")]),
        ("nested/stock.parquet", [("sku", "text"), ("qty", "bigint")]),
    ]
    spec = SyncSpec(
        sync_id=unique("file-objects"),
        source=Endpoint(type="files", config={"path": str(tmp_path), "object_per": "file"}),
        destination=pg(db),
        objects=(
            ObjectSpec(name="customers.csv", output_name="customers"),
            ObjectSpec(name="nested/events.jsonl", output_name="events"),
            ObjectSpec(name="nested/stock.parquet", output_name="stock"),
        ),
    )
    tally = await run(state, spec, run_id=unique("run"), files_root=tmp_path)
    assert tally.counters().rows_read == 7
    conn = await asyncpg.connect(db)
    try:
        assert [tuple(r) for r in await conn.fetch("SELECT id, name FROM customers ORDER BY id")] == [
            ("1", "a"),
            ("2", "b"),
        ]
        assert [tuple(r) for r in await conn.fetch("SELECT id, kind FROM events ORDER BY id")] == [(7, "x"), (8, None)]
        assert [tuple(r) for r in await conn.fetch("SELECT sku, qty FROM stock ORDER BY sku")] == [
            ("s1", 1),
            ("s2", 2),
            ("s3", 3),
        ]
    finally:
        await conn.close()
