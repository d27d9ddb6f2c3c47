"""Parquet files from CSV bytes (parsed by Arrow in a worker thread) or from decoded rows; imported on demand."""

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from syncline_connectors.capabilities import ObjectPlan


def arrow_type(pg_type: str) -> pa.DataType:
    """The Arrow type Parquet files get for a PostgreSQL type."""
    simple = {
        "smallint": pa.int16(),
        "integer": pa.int32(),
        "bigint": pa.int64(),
        "real": pa.float32(),
        "double precision": pa.float64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "timestamp with time zone": pa.timestamp("us", tz="UTC"),
        "timestamp without time zone": pa.timestamp("us"),
    }
    if pg_type in simple:
        return simple[pg_type]
    if pg_type.startswith("numeric(") and "," in pg_type:
        precision, scale = (int(p) for p in pg_type[8:-1].split(","))
        if precision <= 38:
            return pa.decimal128(precision, scale)
    return pa.string()


def schema_of(plan: ObjectPlan) -> pa.Schema:
    """The Arrow schema of an object's file (destination names, types mapped from PostgreSQL's)."""
    return pa.schema([(o, arrow_type(c.type)) for c, o in zip(plan.columns, plan.output_columns, strict=True)])


class ParquetSink:
    """Writes Parquet row groups of `ROW_GROUP` rows from decoded rows or from CSV bytes.

    CSV arrives as whole rows (the driver hands over complete COPY messages); it is gathered into chunks of
    `CHUNK` bytes, each parsed by Arrow in a worker thread while the next one is read, so memory stays at a chunk
    plus one row group.
    """

    ROW_GROUP = 32_768
    CHUNK = 1 << 20

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self._writer = pq.ParquetWriter(str(path), schema, compression="snappy", memory_pool=_POOL)
        self._parts: list[bytes] = []
        self._size = 0
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._convert = pacsv.ConvertOptions(
            column_types={f.name: f.type for f in schema},
            true_values=["t"],
            false_values=["f"],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            null_values=[""],
        )
        self._read = pacsv.ReadOptions(column_names=schema.names, use_threads=False)
        # one thread for all of Arrow's work: every extra thread would get (and keep) a malloc arena of its own
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet")

    async def write_rows(self, rows: list[dict[str, Any]]) -> int:
        """Write decoded rows (the Python-rows path); returns their size in Arrow."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._rows, rows)

    def _rows(self, rows: list[dict[str, Any]]) -> int:
        table = pa.Table.from_pylist(rows, schema=self.schema, memory_pool=_POOL)
        self._add(table)
        return int(table.nbytes)

    async def feed(self, data: bytes) -> None:
        """Take CSV bytes (whole rows); parse once a chunk is gathered."""
        self._parts.append(data)
        self._size += len(data)
        if self._size >= self.CHUNK:
            await self._parse_gathered()

    async def _parse_gathered(self) -> None:
        if not self._parts:
            return
        chunk = b"".join(self._parts)
        self._parts, self._size = [], 0
        await asyncio.get_running_loop().run_in_executor(self._thread, self._parse, chunk)

    def _parse(self, chunk: bytes) -> None:
        table = pacsv.read_csv(
            pa.py_buffer(chunk), read_options=self._read, convert_options=self._convert, memory_pool=_POOL
        )
        self._add(table)

    def _add(self, table: pa.Table) -> None:
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= self.ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(pa.concat_tables(self._pending), row_group_size=self._pending_rows)
        self._pending = []
        self._pending_rows = 0

    async def close(self) -> None:
        """Parse what is left, write the last row group and close the file."""
        await self._parse_gathered()
        await asyncio.get_running_loop().run_in_executor(self._thread, self._flush)
        self._writer.close()
        self._thread.shutdown()

    def abandon(self) -> None:
        """Stop without finishing the file."""
        self._pending = []
        self._thread.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(Exception):
            self._writer.close()


_POOL = pa.default_memory_pool()
