"""The Parquet writer: COPY CSV in pieces to row groups (values kept exactly), decoded rows, and its memory setup."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from syncline_connectors.parquet import ParquetSink, arrow_type

COLUMNS = {
    "id": "bigint",
    "at": "timestamp with time zone",
    "qty": "integer",
    "kind": "text",
    "amount": "numeric(12,2)",
    "ok": "boolean",
    "doc": "jsonb",
    "note": "text",
}
KINDS = ("purchase", "refund", "click")


class SmallSink(ParquetSink):
    """Row groups and chunks small enough for a few hundred rows to cross many of both."""

    ROW_GROUP = 100
    CHUNK = 2048


def schema() -> pa.Schema:
    return pa.schema([(name, arrow_type(pg_type)) for name, pg_type in COLUMNS.items()])


def row(i: int) -> dict[str, Any]:
    """A row as read back: NULLs, empty strings, quotes, commas, newlines and non-ASCII text included."""
    return {
        "id": i,
        "at": datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=30 * i, microseconds=i % 7),
        "qty": None if i % 11 == 0 else i * 3 - 500,
        "kind": KINDS[i % 3],
        "amount": None if i % 13 == 0 else Decimal(i * 7) / 100,
        "ok": None if i % 17 == 0 else i % 2 == 0,
        "doc": json.dumps({"n": i, "say": 'a "quoted", with comma'}),
        "note": [None, "", f"line one\nline two {i}", "ünïcode, ü"][i % 4],
    }


def csv_line(values: dict[str, Any]) -> bytes:
    """The row as PostgreSQL's COPY … (FORMAT csv) writes it (NULL unquoted and empty, "" an empty string)."""

    def cell(name: str, value: Any) -> str:
        if value is None:
            return ""
        if name == "at":
            return pg_timestamptz(value)
        if isinstance(value, bool):
            return "t" if value else "f"
        text = str(value)
        return '"' + text.replace('"', '""') + '"' if name in ("doc", "note") else text

    return (",".join(cell(n, v) for n, v in values.items()) + "\n").encode()


def pg_timestamptz(value: datetime) -> str:
    """As PostgreSQL prints it (`2024-01-01 02:00:30.5+02`); every other row as a session at UTC+2 would."""
    hours = 2 if value.second % 60 else 0
    local = value.astimezone(timezone(timedelta(hours=hours)))
    fraction = f".{local.microsecond:06d}".rstrip("0") if local.microsecond else ""
    return f"{local:%Y-%m-%d %H:%M:%S}{fraction}+{hours:02d}"


async def test_copy_csv_in_pieces_lands_in_row_groups_with_every_value_kept(tmp_path: Path) -> None:
    rows = [row(i) for i in range(1, 1001)]
    sink = SmallSink(tmp_path / "out.parquet", schema())
    lines = [csv_line(r) for r in rows]
    for start in range(0, len(lines), 7):  # pieces of whole rows, as the driver hands them over
        await sink.feed(b"".join(lines[start : start + 7]))
    await sink.close()

    parquet = pq.ParquetFile(tmp_path / "out.parquet")
    assert parquet.read().to_pylist() == rows
    assert parquet.schema_arrow == schema()
    sizes = [parquet.metadata.row_group(g).num_rows for g in range(parquet.metadata.num_row_groups)]
    assert sum(sizes) == 1000
    assert len(sizes) > 5
    assert all(size >= SmallSink.ROW_GROUP for size in sizes[:-1])
    kind = list(COLUMNS).index("kind")
    assert all(parquet.metadata.row_group(g).column(kind).has_dictionary_page for g in range(len(sizes)))


async def test_decoded_rows_are_written_too(tmp_path: Path) -> None:
    rows = [row(i) for i in range(1, 251)]
    sink = SmallSink(tmp_path / "rows.parquet", schema())
    for start in range(0, len(rows), 60):
        await sink.write_rows(rows[start : start + 60])
    await sink.close()
    assert pq.read_table(tmp_path / "rows.parquet").to_pylist() == rows


@pytest.mark.skipif(sys.platform != "linux", reason="Arrow's jemalloc is in its Linux wheels")
def test_a_fresh_process_writes_with_jemalloc_and_without_the_filesystem_bindings() -> None:
    probe = (
        "import sys, syncline_connectors.parquet as p, pyarrow as pa;"
        "print(pa.default_memory_pool().backend_name, 'pyarrow.fs' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["jemalloc", "False"]
