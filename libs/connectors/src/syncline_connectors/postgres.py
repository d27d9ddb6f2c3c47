"""PostgreSQL as a source of documents, the way Elastic's PostgreSQL connector builds them.

Each row becomes one document: `_id` is `database_schema_table_<primary key values joined by _>`, fields are
`<schema>_<table>_<column>` plus `Database`, `Table` and `schema`. The JSON is built by the source server, and
rows stream through a server-side cursor, so memory stays bounded by the batch size.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import asyncpg
import structlog

from syncline_connectors.capabilities import Document
from syncline_platform.errors import InvalidError, UnavailableError

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PostgresSourceConfig:
    """Where to read: Elastic's PostgreSQL connector fields."""

    host: str
    port: int
    username: str
    password: str
    database: str
    schema: str = "public"
    tables: list[str] | str = "*"
    ssl_enabled: bool = False

    @classmethod
    def from_values(cls, values: dict[str, Any], *, password: str) -> "PostgresSourceConfig":
        """From stored configuration values and the opened password."""
        return cls(
            host=values["host"],
            port=int(values["port"]),
            username=values["username"],
            password=password,
            database=values["database"],
            schema=values.get("schema") or "public",
            tables=values.get("tables") or "*",
            ssl_enabled=bool(values.get("ssl_enabled")),
        )


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A PostgreSQL string literal."""
    return "'" + text.replace("'", "''") + "'"


class PostgresSource:
    """Reads tables of one schema as documents. Use as an async context manager."""

    def __init__(self, config: PostgresSourceConfig) -> None:
        self.config = config
        self._conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> Self:
        cfg = self.config
        try:
            self._conn = await asyncpg.connect(
                host=cfg.host,
                port=cfg.port,
                user=cfg.username,
                password=cfg.password or None,
                database=cfg.database,
                ssl="require" if cfg.ssl_enabled else False,
                timeout=10,
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise UnavailableError(
                dependency=f"postgresql://{cfg.host}:{cfg.port}/{cfg.database}", detail=str(exc)
            ) from exc
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._conn is not None:
            await self._conn.close()

    @property
    def conn(self) -> asyncpg.Connection:
        """The open connection."""
        assert self._conn is not None, "use PostgresSource as an async context manager"  # noqa: S101
        return self._conn

    async def check(self) -> None:
        """The source answers and the configured tables exist."""
        await self.tables()

    async def tables(self) -> list[str]:
        """The configured tables (all base tables of the schema for `*`), each checked to exist."""
        existing: list[str] = [
            r["table_name"]
            for r in await self.conn.fetch(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name",
                self.config.schema,
            )
        ]
        if self.config.tables in ("*", ["*"]):
            return existing
        missing = [t for t in self.config.tables if t not in existing]
        if missing:
            raise InvalidError(f"tables not found in schema [{self.config.schema}]: {', '.join(missing)}")
        return list(self.config.tables)

    async def primary_key(self, table: str) -> list[str]:
        """The primary-key columns of `table`, in key order."""
        rows = await self.conn.fetch(
            """
            SELECT a.attname FROM pg_index i
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = $1::regclass AND i.indisprimary
            ORDER BY array_position(i.indkey::int2[], a.attnum)
            """,
            f"{quote_ident(self.config.schema)}.{quote_ident(table)}",
        )
        return [r["attname"] for r in rows]

    def _document_query(self, table: str, key: list[str]) -> str:
        cfg = self.config
        prefix = f"{cfg.schema}_{table}_".lower()
        id_parts = " || '_' || ".join(f"COALESCE(t.{quote_ident(c)}::text, '')" for c in key)
        fields = (
            f"SELECT jsonb_object_agg({quote_literal(prefix)} || lower(f.key), f.value) FROM jsonb_each(to_jsonb(t)) f"
        )
        source = (
            f"({fields})"
            f" || jsonb_build_object('Database', {quote_literal(cfg.database)}, 'Table', {quote_literal(table)},"
            f" 'schema', {quote_literal(cfg.schema)})"
        )
        id_prefix = quote_literal(f"{cfg.database}_{cfg.schema}_{table}_")
        return (
            f"SELECT {id_prefix} || {id_parts} AS id, ({source})::text AS source"
            f" FROM {quote_ident(cfg.schema)}.{quote_ident(table)} t"
        )

    async def documents(self, *, batch_size: int) -> AsyncIterator[list[Document]]:
        """Every row of every configured table, as documents, batch by batch."""
        for table in await self.tables():
            key = await self.primary_key(table)
            if not key:
                log.warning("source.table_skipped", table=table, reason="no primary key")
                continue
            async with self.conn.transaction(readonly=True, isolation="repeatable_read"):
                cursor = await self.conn.cursor(self._document_query(table, key))
                while batch := await cursor.fetch(batch_size):
                    yield [Document(id=r["id"], source=r["source"]) for r in batch]
