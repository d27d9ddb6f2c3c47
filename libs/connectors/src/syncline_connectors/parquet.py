"""Parquet files from CSV bytes (parsed by Arrow in a worker thread) or from decoded rows; imported on demand.

Tuned for memory: the executor writes a 1M-row snapshot with about 25 MB above what loading Arrow costs (~40 MB of
code and module data). Most of what it took before was Arrow's allocator keeping freed pages, not data: see
`_memory_pool` and `DICTIONARY_PAGE`.
"""

import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

# Arrow's C++ code takes memory from a process-wide default pool chosen when pyarrow is first imported (the Parquet
# column writers use it whatever pool they are given). Its default, mimalloc, kept 40-60 MB of freed pages resident
# while 1M rows were written; jemalloc, purging them at once (`_memory_pool`), keeps a few. Only a default: a pool
# named in the environment wins, and so does an earlier import of pyarrow (this then works, with more memory).
# Arrow's Linux wheels are the ones built with jemalloc.
if sys.platform == "linux":
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")

import pyarrow as pa
import pyarrow.csv as pacsv

# The writer alone: `pyarrow.parquet` wraps this same class but also imports `pyarrow.fs`, which loads every
# filesystem binding (S3, GCS, Azure, HDFS): ~6 MB more resident for nothing a local file needs.
from pyarrow._parquet import ParquetWriter

from syncline_connectors.capabilities import ObjectPlan


def fields_of(path: Path) -> list[tuple[str, str, str]]:
    """A Parquet file's fields as (name, PostgreSQL type, Arrow type): integers, floats and booleans keep their
    kind, every other field is read as text."""
    import pyarrow.parquet as pq  # noqa: PLC0415 - reading needs the full module; writing does not

    schema = pq.read_schema(path)
    fields = []
    for name, kind in zip(schema.names, schema.types, strict=True):
        pg_type = "text"
        if pa.types.is_integer(kind):
            pg_type = "bigint"
        elif pa.types.is_floating(kind):
            pg_type = "double precision"
        elif pa.types.is_boolean(kind):
            pg_type = "boolean"
        fields.append((name, pg_type, str(kind)))
    return fields


_PLAIN = (str, int, float, bool, dict, list)


def rows_of(path: Path) -> Iterator[dict[str, Any]]:
    """A Parquet file's rows, batch by batch; values other than JSON's own kinds as their text."""
    import pyarrow.parquet as pq  # noqa: PLC0415 - reading needs the full module; writing does not

    for batch in pq.ParquetFile(path).iter_batches():
        for row in batch.to_pylist():
            yield {k: v if v is None or isinstance(v, _PLAIN) else str(v) for k, v in row.items()}


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
    """Writes Parquet row groups of about `ROW_GROUP` rows from decoded rows or from CSV bytes.

    CSV arrives as whole rows (the driver hands over complete COPY messages); it is gathered into one buffer of
    `CHUNK` bytes, handed whole (no copy) to Arrow's CSV parser in a worker thread. Memory stays at a chunk plus one
    row group of Arrow arrays (pyarrow writes a row group from arrays in memory only), and the freed pages of each
    row group go back to the system before the next one is gathered.
    """

    ROW_GROUP = 32_768
    CHUNK = 1 << 20
    # A column's dictionary is given up (for plain pages) past this size. Parquet's usual 1 MB suits row groups of
    # a million rows; in ours, a column that needs more than 128 KB is mostly distinct values, and building (then
    # dropping) a 1 MB dictionary for each such column of each row group was a third of the pages the writer touched.
    # Columns with few distinct values keep their dictionaries; files came out 4% smaller.
    DICTIONARY_PAGE = 128 << 10

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self._pool = _memory_pool()
        # pyarrow.parquet.ParquetWriter's defaults spelled out (it passes them to this class), but the dictionary size
        self._writer = ParquetWriter(
            str(path),
            schema,
            version="2.6",
            compression="snappy",
            use_dictionary=True,
            dictionary_pagesize_limit=self.DICTIONARY_PAGE,
            write_statistics=True,
            data_page_version="1.0",
            writer_engine_version="V2",
            memory_pool=self._pool,
        )
        self._buffer = bytearray()
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
        table = pa.Table.from_pylist(rows, schema=self.schema)  # takes no pool: the default is ours
        self._add(table)
        return int(table.nbytes)

    async def feed(self, data: bytes) -> None:
        """Take CSV bytes (whole rows); parse once a chunk is gathered."""
        self._buffer += data
        if len(self._buffer) >= self.CHUNK:
            await self._parse_gathered()

    async def _parse_gathered(self) -> None:
        if not self._buffer:
            return
        chunk, self._buffer = self._buffer, bytearray()
        await asyncio.get_running_loop().run_in_executor(self._thread, self._parse, chunk)

    def _parse(self, chunk: bytearray) -> None:
        table = pacsv.read_csv(
            pa.py_buffer(chunk), read_options=self._read, convert_options=self._convert, memory_pool=self._pool
        )
        self._add(table)

    def _add(self, table: pa.Table) -> None:
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= self.ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        group = pa.concat_tables(self._pending)
        self._pending, self._pending_rows = [], 0
        self._writer.write_table(group, row_group_size=group.num_rows)
        del group  # its arrays freed before the pool gives pages back
        self._pool.release_unused()

    async def close(self) -> None:
        """Parse what is left, write the last row group and close the file."""
        await self._parse_gathered()
        await asyncio.get_running_loop().run_in_executor(self._thread, self._flush)
        self._writer.close()
        self._thread.shutdown()

    def abandon(self) -> None:
        """Stop without finishing the file."""
        self._pending = []
        self._buffer = bytearray()
        self._thread.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(Exception):
            self._writer.close()


def _memory_pool() -> pa.MemoryPool:
    """Arrow's default pool; under jemalloc, freed pages are purged at once rather than after a second.

    Writing a row group allocates and frees its arrays, parse buffers and pages over and over, in sizes that do not
    line up, so pages kept for reuse pile up: with jemalloc's usual decay (even purged after every row group) they
    held about as much again as the ~13 MB in use. Purging at once costs about 1 CPU-s per 1M rows (freed pages are
    faulted in afresh), spent by the worker thread while the event loop reads from the source.
    """
    pool = pa.default_memory_pool()
    if pool.backend_name == "jemalloc":
        pa.jemalloc_set_decay_ms(0)
    return pool
