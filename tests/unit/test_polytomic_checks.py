"""Checks and discovery of folder connections (PostgreSQL and Kafka are checked in the e2e suite)."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from syncline_connectors.polytomic_checks import SourceUnavailableError, check_connection, discover


async def test_a_folder_offers_its_files_with_their_fields(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("id,name\n1,a\n")
    (tmp_path / "events.jsonl").write_text('{"at": 1, "kind": "x"}\n{"at": 2}\n')
    (tmp_path / "nested").mkdir()
    pq.write_table(pa.table({"sku": ["a"], "qty": [1]}), tmp_path / "nested" / "stock.parquet")
    (tmp_path / "notes.txt").write_text("ignored")
    found = await discover("file", {"path": str(tmp_path)}, password="")
    assert [(o.id, [f.id for f in o.fields]) for o in found] == [
        ("customers.csv", ["id", "name"]),
        ("events.jsonl", ["at", "kind"]),
        ("nested/stock.parquet", ["sku", "qty"]),
    ]


async def test_folder_checks(tmp_path: Path) -> None:
    assert await check_connection("file", {"path": str(tmp_path)}, password="") is None
    assert "does not exist" in (await check_connection("file", {"path": str(tmp_path / "no")}, password="") or "")
    assert "unknown connection type" in (await check_connection("ftp", {}, password="") or "")
    with pytest.raises(SourceUnavailableError, match="cannot be a bulk sync source"):
        await discover("kafka", {"bootstrap_servers": "x"}, password="")
    (tmp_path / "broken.jsonl").write_text("{not json\n")
    with pytest.raises(SourceUnavailableError, match=r"broken\.jsonl"):
        await discover("file", {"path": str(tmp_path)}, password="")
