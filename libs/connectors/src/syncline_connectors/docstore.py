"""The document store: an index is a PostgreSQL table `(_id text primary key, _source jsonb)`.

Writes are upserts by `_id`, stamped with the run id, so a retried run never duplicates a document; a full
sync then deletes the documents it did not see.
"""

import contextlib
from types import TracebackType
from typing import Self

import asyncpg

from syncline_connectors.capabilities import Document
from syncline_connectors.postgres import quote_ident
from syncline_platform.errors import UnavailableError


class DocumentStore:
    """Writes one index for one run. Use as an async context manager."""

    def __init__(self, *, dsn: str, index: str, run_id: str) -> None:
        self.dsn = dsn
        self.index = index
        self.run_id = run_id
        self._conn: asyncpg.Connection | None = None

    @property
    def table(self) -> str:
        """The quoted table of the index."""
        return f"public.{quote_ident(self.index)}"

    async def __aenter__(self) -> Self:
        try:
            self._conn = await asyncpg.connect(self.dsn, timeout=10)
        except (OSError, asyncpg.PostgresError) as exc:
            raise UnavailableError(dependency="document store", detail=str(exc)) from exc
        await self._conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            "_id text PRIMARY KEY, _source jsonb NOT NULL, _run_id text NOT NULL,"
            " _indexed_at timestamptz NOT NULL DEFAULT now())"
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._conn is not None:
            await self._conn.close()

    @property
    def conn(self) -> asyncpg.Connection:
        """The open connection."""
        assert self._conn is not None, "use DocumentStore as an async context manager"  # noqa: S101
        return self._conn

    async def write(self, batch: list[Document]) -> int:
        """Upsert a batch; returns the bytes of source written."""
        await self.conn.execute(
            f"""
            INSERT INTO {self.table} (_id, _source, _run_id, _indexed_at)
            SELECT d.id, d.source::jsonb, $3, now() FROM unnest($1::text[], $2::text[]) AS d(id, source)
            ON CONFLICT (_id) DO UPDATE SET _source = EXCLUDED._source, _run_id = EXCLUDED._run_id,
                _indexed_at = EXCLUDED._indexed_at
            """,
            [d.id for d in batch],
            [d.source for d in batch],
            self.run_id,
        )
        return sum(len(d.source.encode()) for d in batch)

    async def delete_unseen(self) -> int:
        """Delete the documents this run did not write."""
        status: str = await self.conn.execute(f"DELETE FROM {self.table} WHERE _run_id <> $1", self.run_id)
        return int(status.rsplit(maxsplit=1)[-1])

    async def count(self) -> int:
        """Documents in the index."""
        total: int = await self.conn.fetchval(f"SELECT count(*) FROM {self.table}")
        return total


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
