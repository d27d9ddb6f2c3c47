"""The document store: an index is a PostgreSQL table `(_id text primary key, _source jsonb)`.

Every organisation has its own schema (`index_schema`), created on first use, and an index is the table of its
name in that schema: index names repeat across organisations, and neither the documents nor a full sync's
deletes may reach another organisation's index.

Writes are upserts by `_id`, stamped with the run id, so a retried run never duplicates a document; a full
sync then deletes the documents it did not see (`finish`), across every object of the index, as Elastic does.
"""

import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import asyncpg

from syncline_connectors.capabilities import (
    Committed,
    Encoding,
    Item,
    ObjectOutcome,
    ObjectPlan,
    Position,
    Record,
    RecordShape,
    WriteOptions,
)
from syncline_connectors.pgcopy import quote_ident, release
from syncline_connectors.spec import Mode
from syncline_connectors.stream import batches
from syncline_connectors.sync_rules import SyncRule, keep
from syncline_platform.errors import UnavailableError


def index_schema(org_id: str) -> str:
    """The schema of an organisation's indexes: `org_` and its id without dashes (organisation ids are UUIDs).
    An id in any other form gets `org_h` and 31 hex digits of its SHA-256, a name no UUID can take."""
    with contextlib.suppress(ValueError):
        parsed = uuid.UUID(org_id)
        if str(parsed) == org_id:  # the canonical form only: other spellings of a UUID are other ids
            return f"org_{parsed.hex}"
    return f"org_h{hashlib.sha256(org_id.encode()).hexdigest()[:31]}"


_RACED = (asyncpg.UniqueViolationError, asyncpg.DuplicateSchemaError, asyncpg.DuplicateTableError)
"""What `CREATE … IF NOT EXISTS` raises when a concurrent run created the same object first."""


@dataclass(frozen=True)
class IndexOutcome:
    """What finishing a run did to the index."""

    deleted: int
    total: int


class DocumentStore:
    """Writes one index for one run. Use as an async context manager."""

    accepts = (Encoding.RECORDS,)
    shape = RecordShape.DOCUMENT

    def __init__(
        self,
        *,
        dsn: str,
        schema: str,
        index: str,
        run_id: str,
        mode: Mode = Mode.FULL_WITH_DELETES,
        rules: tuple[SyncRule, ...] = (),
    ) -> None:
        self.dsn = dsn
        self.schema = schema
        self.index = index
        self.run_id = run_id
        self.mode = mode
        self.rules = rules
        self._conn: asyncpg.Connection | None = None

    @property
    def table(self) -> str:
        """The quoted table of the index, in its organisation's schema."""
        return f"{quote_ident(self.schema)}.{quote_ident(self.index)}"

    async def __aenter__(self) -> Self:
        try:
            self._conn = await asyncpg.connect(self.dsn, timeout=10)
        except (OSError, asyncpg.PostgresError) as exc:
            raise UnavailableError(dependency="document store", detail=str(exc)) from exc
        try:
            await self._create(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(self.schema)}")
            await self._create(
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                "_id text PRIMARY KEY, _source jsonb NOT NULL, _run_id text NOT NULL,"
                " _indexed_at timestamptz NOT NULL DEFAULT now())"
            )
        except BaseException:
            await release(self._conn, failed=True)  # no __aexit__ follows a failed __aenter__
            raise
        return self

    async def _create(self, statement: str) -> None:
        """Create a schema or table unless it exists; a concurrent run that made it first is as good."""
        with contextlib.suppress(*_RACED):
            await self.conn.execute(statement)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._conn is not None:
            await release(self._conn, failed=exc_type is not None)

    @property
    def conn(self) -> asyncpg.Connection:
        """The open connection."""
        assert self._conn is not None, "use DocumentStore as an async context manager"  # noqa: S101
        return self._conn

    async def check(self) -> None:
        """The store answers."""
        await self.conn.fetchval("SELECT 1")

    async def open_object(self, plan: ObjectPlan, *, options: WriteOptions, resume: Position | None) -> Position | None:
        """Documents are upserts: any position can be resumed after."""
        return resume

    def write(self, plan: ObjectPlan, items: AsyncIterator[Item], *, encoding: Encoding) -> AsyncIterator[Committed]:
        """Upsert every piece of documents; a batch is durable when its last piece is."""
        return self._write(items)

    async def _write(self, items: AsyncIterator[Item]) -> AsyncIterator[Committed]:
        async for batch in batches(items):
            rows = size = 0
            async for piece in batch.pieces():
                kept = self._filtered(piece.data)
                size += await self.upsert(kept)
                rows += len(kept)
            yield Committed(position=batch.mark.position, rows=rows, bytes=size)

    def _filtered(self, documents: list[Record]) -> list[Record]:
        """The documents the sync rules index (all of them without rules: nothing is decoded then)."""
        if not self.rules:
            return documents
        return [d for d in documents if keep(json.loads(d.value), self.rules)]

    async def upsert(self, documents: list[Record]) -> int:
        """Upsert documents (key = `_id`, value = `_source` JSON); returns the bytes of source written."""
        if not documents:
            return 0
        await self.conn.execute(
            f"""
            INSERT INTO {self.table} (_id, _source, _run_id, _indexed_at)
            SELECT d.id, d.source::jsonb, $3, now() FROM unnest($1::text[], $2::text[]) AS d(id, source)
            ON CONFLICT (_id) DO UPDATE SET _source = EXCLUDED._source, _run_id = EXCLUDED._run_id,
                _indexed_at = EXCLUDED._indexed_at
            """,
            [d.key for d in documents],
            [d.value for d in documents],
            self.run_id,
        )
        return sum(len(d.value.encode()) for d in documents)

    async def close_object(self, plan: ObjectPlan) -> ObjectOutcome:
        """Nothing to do per object: deletes span the index (`finish`)."""
        return ObjectOutcome()

    async def abort_object(self, plan: ObjectPlan) -> None:
        """Upserted documents stay: they are valid on their own."""

    async def finish(self) -> IndexOutcome:
        """After every object: a full sync deletes the documents this run did not write; returns the count left."""
        deleted = 0
        if self.mode is Mode.FULL_WITH_DELETES:
            status: str = await self.conn.execute(f"DELETE FROM {self.table} WHERE _run_id <> $1", self.run_id)
            deleted = int(status.rsplit(maxsplit=1)[-1])
        total: int = await self.conn.fetchval(f"SELECT count(*) FROM {self.table}")
        return IndexOutcome(deleted=deleted, total=total)


async def ensure_database(*, admin_dsn: str, database: str) -> None:
    """Create the document store's database when the server does not have it yet."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # another replica was first
                await conn.execute(f"CREATE DATABASE {quote_ident(database)}")
    finally:
        await conn.close()
