"""PostgreSQL as a source: discovery, snapshot and incremental reads through COPY, change capture with pgoutput.

Reads are keyset batches inside one repeatable-read transaction: each batch is one `COPY (SELECT … WHERE key > lo
AND key <= hi) TO STDOUT`, so a resumed run continues after the last stored key and memory stays bounded by the
driver's read buffer. The server builds every encoding (binary rows, CSV, JSON lines, Kafka messages, Elastic
documents); Python only moves bytes. Change capture uses a logical replication slot with the built-in `pgoutput`
plugin over a publication (the connection's own, or one Syncline keeps equal to the sync's tables): the slot's
messages are peeked (not consumed) as one binary COPY, decoded in `pgoutput`, and the slot advances only after
the caller stored the position. Obfuscated fields are hashed in every read (by the server in snapshot,
incremental and sample reads; by the change reader, over the same text, in change streams), so their values
never reach a destination in clear.
"""

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Literal, Self

import asyncpg
import structlog

from syncline_connectors.capabilities import (
    Column,
    Emit,
    Encoding,
    IndexInfo,
    Mark,
    ObjectInfo,
    ObjectPlan,
    Piece,
    Position,
    Record,
    RecordShape,
)
from syncline_connectors.pgcopy import BinaryRowParser, copy_rows, qualified, quote_ident, quote_literal, release
from syncline_connectors.pgoutput import Change, Commit, Decoder, lsn_int, lsn_text
from syncline_connectors.reach import OwnDatabases, Server
from syncline_connectors.spec import Filter
from syncline_platform.errors import InvalidError, UnavailableError
from syncline_platform.network import NetworkPolicy

log = structlog.get_logger(__name__)

INTERNAL_PREFIX = "_syncline_"
"""Tables Syncline creates for itself (staging, changes); never discovered."""
SESSION = {"TimeZone": "UTC", "DateStyle": "ISO", "extra_float_digits": "1", "application_name": "syncline"}


@dataclass(frozen=True)
class PostgresConfig:
    """Where a PostgreSQL endpoint is (Elastic's PostgreSQL connector fields, plus `dsn`)."""

    host: str = "127.0.0.1"
    port: int = 5432
    username: str = "postgres"
    password: str = ""
    database: str = "postgres"
    schema: str | None = None
    tables: tuple[str, ...] | str = "*"
    ssl_enabled: bool = False
    dsn: str | None = None
    publication: str | None = None
    """The publication change capture reads (the connection's `publication`); None: Syncline keeps its own."""
    connect_timeout_s: float = 10.0
    """How long opening a connection waits for the server."""
    own: OwnDatabases | None = field(default=None, compare=False, repr=False)
    """Syncline's own databases, refused before a connection opens (a tenant's endpoint: `registry` sets it)."""
    network: NetworkPolicy | None = field(default=None, compare=False, repr=False)
    """The addresses a tenant's endpoint may resolve to, checked before a connection opens (`registry` sets it)."""

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> "PostgresConfig":
        """From configuration values with secrets already opened."""
        tables = values.get("tables") or "*"
        return cls(
            host=values.get("host") or "127.0.0.1",
            port=int(values.get("port") or 5432),
            username=values.get("username") or "postgres",
            password=values.get("password") or "",
            database=values.get("database") or "postgres",
            schema=values.get("schema") or None,
            tables=tables if isinstance(tables, str) else tuple(tables),
            ssl_enabled=bool(values.get("ssl_enabled")),
            dsn=values.get("dsn"),
            publication=values.get("publication") or None,
        )

    @property
    def where(self) -> str:
        """The endpoint for errors (no credentials)."""
        return f"postgresql://{self.host}:{self.port}/{self.database}"

    @property
    def server(self) -> Server:
        """The database this endpoint names."""
        return Server(host=self.host, port=self.port, database=self.database)


async def connect(config: PostgresConfig, *, settings: dict[str, str] | None = None) -> asyncpg.Connection:
    """One connection with Syncline's session settings (UTC, ISO dates, exact floats)."""
    server_settings = SESSION | (settings or {})
    server = Server.of_dsn(config.dsn) if config.dsn else config.server
    if config.network is not None:
        await config.network.refuse(server.host, server.port)
    if config.own is not None:
        await config.own.refuse(server)
    try:
        if config.dsn:
            conn: asyncpg.Connection = await asyncpg.connect(
                config.dsn, timeout=config.connect_timeout_s, server_settings=server_settings
            )
            return conn
        conn = await asyncpg.connect(
            host=config.host,
            port=config.port,
            user=config.username,
            password=config.password or None,
            database=config.database,
            ssl="require" if config.ssl_enabled else False,
            timeout=config.connect_timeout_s,
            server_settings=server_settings,
        )
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise UnavailableError(dependency=config.where, detail=str(exc) or type(exc).__name__) from exc
    return conn


_DISCOVERY = """
SELECT n.nspname AS schema, c.relname AS name, a.attname AS column, NOT a.attnotnull AS nullable,
       CASE WHEN t.typnamespace = 'pg_catalog'::regnamespace THEN format_type(a.atttypid, a.atttypmod)
            WHEN t.typtype = 'd' AND bt.typnamespace = 'pg_catalog'::regnamespace
                THEN format_type(t.typbasetype, t.typtypmod)
            ELSE 'text' END AS type,
       t.typnamespace <> 'pg_catalog'::regnamespace AND NOT (t.typtype = 'd'
            AND bt.typnamespace = 'pg_catalog'::regnamespace) AS cast_text,
       CASE WHEN t.typtype = 'd' THEN bt.typname ELSE t.typname END AS native_type,
       array_position(i.indkey::int2[], a.attnum) AS key_position
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  AND c.relname NOT LIKE '\\_syncline\\_%'
  AND ($1::text IS NULL OR n.nspname = $1)
ORDER BY n.nspname, c.relname, a.attnum
"""


_INDEXES = """
SELECT n.nspname AS schema, c.relname AS table, ic.relname AS name, quote_ident(ic.relname) AS quoted,
       format('%I.%I', n.nspname, c.relname) AS qualified, quote_ident(c.relname) AS unqualified,
       pg_get_indexdef(i.indexrelid) AS definition,
       ARRAY(SELECT a.attname FROM pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND (a.attnum = ANY (i.indkey::int2[]) OR a.attnum IN (
                 SELECT d.refobjsubid FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                     AND d.objid = i.indexrelid AND d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid))
             ORDER BY a.attnum) AS columns
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisprimary AND NOT i.indisexclusion AND i.indisvalid
  AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  AND c.relname NOT LIKE '\\_syncline\\_%'
  AND ($1::text IS NULL OR n.nspname = $1)
ORDER BY n.nspname, c.relname, ic.relname
"""


def _index_of(row: asyncpg.Record) -> IndexInfo | None:
    """The index of a row of `_INDEXES`, its definition cut after `USING` (None when it does not read as expected)."""
    definition: str = row["definition"]
    start = definition.find(f" {row['quoted']} ON ")
    for table in (row["qualified"], row["unqualified"]):
        for on in (f" ON ONLY {table} USING ", f" ON {table} USING "):
            at = definition.find(on, start)
            if start >= 0 and at == start + len(row["quoted"]) + 1:
                return IndexInfo(name=row["name"], definition=definition[at + len(on) :], columns=tuple(row["columns"]))
    return None


async def discover_indexes(conn: asyncpg.Connection, *, schema: str | None) -> dict[tuple[str, str], list[IndexInfo]]:
    """Secondary indexes by (schema, table): neither primary keys nor exclusion constraints, valid ones only."""
    found: dict[tuple[str, str], list[IndexInfo]] = {}
    for row in await conn.fetch(_INDEXES, schema):
        index = _index_of(row)
        if index is not None:
            found.setdefault((row["schema"], row["table"]), []).append(index)
    return found


async def discover_objects(conn: asyncpg.Connection, *, schema: str | None) -> list[ObjectInfo]:
    """Tables (of `schema`, or of every user schema) with their columns, types, primary keys and secondary
    indexes, read from the catalogue: ordinary and partitioned tables (a partition is read through its parent, so
    it is no object of its own), columns in their order, a domain's column with its base type. The catalogue, not
    `information_schema`: that one also lists views and partitions, which a sync does not read as tables, shows
    primary keys only to roles holding more than SELECT on the table, and hides tables the role has no right on
    (listed here, a run names the right it lacks)."""
    found: dict[tuple[str, str], list[asyncpg.Record]] = {}
    for row in await conn.fetch(_DISCOVERY, schema):
        found.setdefault((row["schema"], row["name"]), []).append(row)
    indexes = await discover_indexes(conn, schema=schema)
    objects = []
    for (schema_name, name), rows in found.items():
        keyed = sorted((r for r in rows if r["key_position"] is not None), key=lambda r: r["key_position"])
        columns = tuple(
            TypedColumn(
                name=r["column"],
                type=r["type"],
                nullable=r["nullable"],
                native_type=r["native_type"],
                cast_text=r["cast_text"],
            )
            for r in rows
        )
        key = tuple(r["column"] for r in keyed)
        of_table = tuple(indexes.get((schema_name, name), ()))
        objects.append(ObjectInfo(schema=schema_name, name=name, columns=columns, primary_key=key, indexes=of_table))
    return objects


@dataclass(frozen=True)
class TypedColumn(Column):
    """A PostgreSQL column; `cast_text` when its type exists only in the source (enums, composites)."""

    cast_text: bool = False


def _literal(value: str | None, type_: str) -> str:
    return "NULL" if value is None else f"{quote_literal(value)}::{type_}"


def filter_sql(filters: Sequence[Filter], *, alias: str = "t") -> list[str]:
    """WHERE conditions of row filters (values are literals coerced to the field's type by the server)."""
    conds = []
    for f in filters:
        col = f"{alias}.{quote_ident(f.field)}"
        match f.op:
            case "is_null":
                conds.append(f"{col} IS NULL")
            case "not_null":
                conds.append(f"{col} IS NOT NULL")
            case "in":
                values = f.value if isinstance(f.value, list | tuple) else [f.value]
                conds.append(f"{col} IN ({', '.join(quote_literal(str(v)) for v in values) or 'NULL'})")
            case _:
                conds.append(f"{col} {f.op} {quote_literal(str(f.value))}")
    return conds


@dataclass(frozen=True)
class Keyset:
    """The ordered columns batches are cut on, with their types."""

    columns: tuple[str, ...]
    types: tuple[str, ...]

    def row(self, alias: str = "t") -> str:
        """`(t."a", t."b")`."""
        return "(" + ", ".join(f"{alias}.{quote_ident(c)}" for c in self.columns) + ")"

    def values(self, values: Sequence[str | None]) -> str:
        """A row of typed literals."""
        return "(" + ", ".join(_literal(v, t) for v, t in zip(values, self.types, strict=True)) + ")"

    def text(self, alias: str = "t") -> str:
        """The key columns as text, for positions."""
        return ", ".join(f"{alias}.{quote_ident(c)}::text" for c in self.columns)


def keyset_of(plan: ObjectPlan, *, incremental: bool) -> Keyset | None:
    """Tracking field then primary key (incremental), or the primary key; None without a key."""
    names = ((plan.tracking_field,) if incremental and plan.tracking_field else ()) + plan.primary_key
    if not names:
        return None
    types = {c.name: c.read_type for c in plan.columns}
    return Keyset(columns=names, types=tuple(types[n] for n in names))


class PostgresSource:
    """Reads one PostgreSQL database. Use as an async context manager."""

    encodings = frozenset({Encoding.PG_BINARY, Encoding.CSV, Encoding.JSONL, Encoding.RECORDS})

    def __init__(self, config: PostgresConfig, *, batch_rows: int = 100_000) -> None:
        self.config = config
        self.batch_rows = batch_rows
        self._conn: asyncpg.Connection | None = None
        self._reading = False
        self._confirmable: Position | None = None
        self._confirming = asyncio.Lock()

    async def __aenter__(self) -> Self:
        self._conn = await connect(self.config)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._conn is not None:
            await release(self._conn, failed=exc_type is not None)

    @property
    def conn(self) -> asyncpg.Connection:
        """The open connection."""
        assert self._conn is not None, "use PostgresSource as an async context manager"  # noqa: S101
        return self._conn

    def abandon(self) -> None:
        """Terminate the connection at once (a reader stuck in a cancelled COPY); `recover` makes a new one."""
        if self._conn is not None:
            self._conn.terminate()

    async def recover(self) -> None:
        """A fresh connection after an object was interrupted (its COPY may have left this one unusable)."""
        if self._conn is not None:
            self._conn.terminate()
        self._conn = await connect(self.config)

    async def check(self) -> None:
        """The source answers and the configured tables exist."""
        await self.conn.fetchval("SELECT 1")
        if self.config.tables not in ("*", ("*",)):
            existing = {o.name for o in await self.discover()}
            missing = [t for t in self.config.tables if t not in existing]
            if missing:
                raise InvalidError(f"tables not found in schema [{self.config.schema}]: {', '.join(missing)}")

    async def discover(self) -> list[ObjectInfo]:
        """Tables of the configured schema (of every user schema when none is configured)."""
        return await discover_objects(self.conn, schema=self.config.schema)

    async def read_snapshot(
        self, plan: ObjectPlan, *, after: Position | None, encoding: Encoding, shape: RecordShape | None, emit: Emit
    ) -> None:
        """Every row after `after` (a primary-key position), batch by batch."""
        await self._read(
            plan, keys=keyset_of(plan, incremental=False), after=after, encoding=encoding, shape=shape, emit=emit
        )

    async def sample(self, plan: ObjectPlan, *, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` rows that pass the plan's filters (the same SELECT a snapshot copies)."""
        cols = ", ".join(f"{read_expr(c)} AS {quote_ident(c.name)}" for c in plan.columns)
        where = " AND ".join(filter_sql(plan.filters))
        query = f"SELECT {cols} FROM {qualified(plan.schema, plan.name)} t{f' WHERE {where}' if where else ''}"
        rows = await self.conn.fetch(f"{query} LIMIT {int(limit)}")
        return [dict(r) for r in rows]

    async def read_incremental(
        self, plan: ObjectPlan, *, after: Position | None, encoding: Encoding, shape: RecordShape | None, emit: Emit
    ) -> None:
        """Rows with `(tracking field, key) > after`, in that order; rows without a tracking value are skipped.

        Without a tracking field, the rows written since `after["since"]` (a transaction id the previous run's
        snapshot saw as its horizon): every row whose `xmin` is not older, which may re-read a few rows, never
        misses one.
        """
        if not plan.tracking_field:
            since = (after or {}).get("since")
            extra = [] if since is None else [_written_since(int(since))]
            await self._read(
                plan,
                keys=keyset_of(plan, incremental=False),
                after=after,
                encoding=encoding,
                shape=shape,
                emit=emit,
                extra=extra,
                since=since,
            )
            return
        keys = keyset_of(plan, incremental=True)
        conditions = [f"t.{quote_ident(plan.tracking_field)} IS NOT NULL"]
        await self._read(plan, keys=keys, after=after, encoding=encoding, shape=shape, emit=emit, extra=conditions)

    async def _read(
        self,
        plan: ObjectPlan,
        *,
        keys: Keyset | None,
        after: Position | None,
        encoding: Encoding,
        shape: RecordShape | None,
        emit: Emit,
        extra: Sequence[str] = (),
        since: int | None = None,
    ) -> None:
        conds = [*filter_sql(plan.filters), *extra]
        lo: list[str | None] | None = (after or {}).get("after") if keys else None
        async with self.conn.transaction(isolation="repeatable_read", readonly=True):
            # the snapshot's horizon (its first statement takes it): what a later incremental read starts from
            horizon = (after or {}).get("xmin") or await self.conn.fetchval(
                "SELECT txid_snapshot_xmin(txid_current_snapshot()) % 4294967296"
            )

            def at(key: list[str | None] | None) -> Position:
                return {"after": key, "xmin": horizon} | ({"since": since} if since is not None else {})

            while True:
                bounds = list(conds)
                if keys and lo is not None:
                    bounds.append(f"{keys.row()} > {keys.values(lo)}")
                hi = await self._upper(plan, keys, bounds) if keys else None
                if keys and hi is None:
                    await emit(Mark(position=at(lo), rows=0))
                    return
                if keys and hi is not None:
                    bounds.append(f"{keys.row()} <= {keys.values(hi)}")
                rows = await self._copy(plan, bounds, encoding, shape, emit)
                await emit(Mark(position=at(hi), rows=rows))
                if not keys:
                    return
                lo = hi

    async def _upper(self, plan: ObjectPlan, keys: Keyset, conds: list[str]) -> list[str | None] | None:
        """The key closing the next batch: the `batch_rows`-th key, else the last one; None when nothing is left."""
        table = qualified(plan.schema, plan.name)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        order = ", ".join(f"t.{quote_ident(c)}" for c in keys.columns)
        nth = await self.conn.fetchrow(
            f"SELECT {keys.text()} FROM {table} t {where} ORDER BY {order} OFFSET {self.batch_rows - 1} LIMIT 1"
        )
        if nth is None:
            desc = ", ".join(f"t.{quote_ident(c)} DESC" for c in keys.columns)
            nth = await self.conn.fetchrow(f"SELECT {keys.text()} FROM {table} t {where} ORDER BY {desc} LIMIT 1")
        return None if nth is None else list(nth.values())

    async def _copy(
        self, plan: ObjectPlan, conds: list[str], encoding: Encoding, shape: RecordShape | None, emit: Emit
    ) -> int:
        query = select_query(plan, conds, encoding=encoding, shape=shape, database=self.config.database)
        sink = _sink(encoding, emit)
        fmt: Literal["text", "csv", "binary"] = "binary"
        if encoding is Encoding.CSV:
            fmt = "csv"
        elif encoding is Encoding.JSONL:
            fmt = "text"
        status: str = await self.conn.copy_from_query(query, output=sink, format=fmt)
        return copy_rows(status)

    # change capture -------------------------------------------------------------------------------------------

    def publication(self, name: str) -> str:
        """The publication a stream reads: the connection's own (`publication`), else one named like the slot."""
        return self.config.publication or name

    async def open_stream(self, *, name: str, plans: Sequence[ObjectPlan]) -> Position:
        """Make sure the stream covers `plans`: the publication first (decoding reads it as of each change), then
        the replication slot (pgoutput) unless it exists. Called before any snapshot of a newly selected object,
        so its changes are published from before that snapshot. Returns the slot's confirmed position."""
        slot = await self.conn.fetchrow(
            "SELECT plugin, confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1", name
        )
        if slot is not None and slot["plugin"] != "pgoutput":
            raise InvalidError(
                f"replication slot [{name}] decodes with [{slot['plugin']}], not pgoutput: start the sync with a"
                " resync (or fetch_mode full) to recreate it"
            )
        if slot is None:
            await self._needs_replication_right()
        created = await self._cover(self.publication(name), plans)
        if slot is not None:
            return {"lsn": slot["lsn"]}
        try:
            lsn = await self.conn.fetchval(
                "SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", name
            )
        except asyncpg.PostgresError:
            if created:  # nothing is left half made
                await self.conn.execute(f"DROP PUBLICATION IF EXISTS {quote_ident(self.publication(name))}")
            raise
        log.info("source.slot_created", slot=name, lsn=lsn, publication=self.publication(name))
        return {"lsn": lsn}

    async def _needs_replication_right(self) -> None:
        allowed = await self.conn.fetchval(
            "SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user"
        )
        if not allowed:
            user = await self.conn.fetchval("SELECT current_user")
            raise InvalidError(
                f"role [{user}] lacks the REPLICATION attribute, which a replication slot needs"
                f" (ALTER ROLE {quote_ident(user)} REPLICATION)"
            )

    async def _cover(self, publication: str, plans: Sequence[ObjectPlan]) -> bool:
        """The publication publishes every plan's table: the connection's own is checked, Syncline's own is
        created or follows the selection. True when it was created now."""
        tables = sorted({(p.schema or "public", p.name) for p in plans})
        published = await self._publication_tables(publication)
        if self.config.publication:
            if published is None:
                raise InvalidError(f"publication [{publication}] does not exist in [{self.config.database}]")
            missing = [f"{s}.{n}" for s, n in tables if (s, n) not in published]
            if missing:
                raise InvalidError(f"publication [{publication}] does not publish {', '.join(missing)}")
            return False
        await self._may_publish(tables)
        listed = ", ".join(qualified(s, n) for s, n in tables)
        if published is None:
            await self.conn.execute(f"CREATE PUBLICATION {quote_ident(publication)} FOR TABLE {listed}")
            log.info("source.publication_created", publication=publication, tables=len(tables))
            return True
        if sorted(published) != tables:
            await self.conn.execute(f"ALTER PUBLICATION {quote_ident(publication)} SET TABLE {listed}")
            log.info("source.publication_changed", publication=publication, tables=len(tables))
        return False

    async def _publication_tables(self, publication: str) -> set[tuple[str, str]] | None:
        """The tables a publication publishes inserts, updates and deletes of; None when it does not exist."""
        row = await self.conn.fetchrow(
            "SELECT pubinsert AND pubupdate AND pubdelete AS changes, array(SELECT ARRAY[schemaname, tablename]"
            " FROM pg_publication_tables t WHERE t.pubname = p.pubname) AS tables"
            " FROM pg_publication p WHERE pubname = $1",
            publication,
        )
        if row is None:
            return None
        if not row["changes"]:
            raise InvalidError(f"publication [{publication}] must publish inserts, updates and deletes")
        return {(t[0], t[1]) for t in row["tables"]}

    async def _may_publish(self, tables: list[tuple[str, str]]) -> None:
        """CREATE/ALTER PUBLICATION … FOR TABLE needs CREATE on the database and the ownership of each table; a
        table without a replica identity would refuse its own updates once published."""
        if not await self.conn.fetchval("SELECT has_database_privilege(current_database(), 'CREATE')"):
            raise InvalidError(
                f"the role needs the CREATE privilege on database [{self.config.database}] to create a publication"
                " (or name an existing one in the connection's publication setting)"
            )
        rows = await self.conn.fetch(
            "SELECT n.nspname || '.' || c.relname AS t, pg_has_role(c.relowner, 'USAGE') AS owned,"
            " c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS ("
            "   SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)) AS unidentified"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
            [s for s, _ in tables],
            [n for _, n in tables],
        )
        foreign = [r["t"] for r in rows if not r["owned"]]
        if foreign:
            raise InvalidError(
                f"creating a publication needs ownership of {', '.join(foreign)} (or name an existing publication"
                " in the connection's publication setting)"
            )
        unidentified = [r["t"] for r in rows if r["unidentified"]]
        if unidentified:
            raise InvalidError(
                f"{', '.join(unidentified)} has no replica identity (no primary key): publishing it would make its"
                " updates fail at the source"
            )

    async def read_changes(
        self, *, name: str, plans: Sequence[ObjectPlan], after: Position | None, encoding: Encoding, emit: Emit
    ) -> None:
        """Changes of the plans' tables committed up to the flushed end of the log, as lists of `Change`s, a
        `Mark` after every `batch_rows` changes (at a commit) and at the end."""
        self._reading = True  # from here the connection is the reader's: confirms wait (see `confirm`)
        try:
            upto: str = await self.conn.fetchval("SELECT pg_current_wal_flush_lsn()::text")
        except BaseException:
            self._reading = False
            raise
        since = lsn_int((after or {}).get("lsn") or "0/0")
        query = (
            f"SELECT data FROM pg_logical_slot_peek_binary_changes({quote_literal(name)}, {quote_literal(upto)}"
            f"::pg_lsn, NULL, 'proto_version', '1', 'publication_names', {quote_literal(self.publication(name))})"
        )
        reader = _ChangeReader(plans, since=since, batch_rows=self.batch_rows, emit=emit, source_lsn=upto)
        try:
            await self.conn.copy_from_query(query, output=reader.feed, format="binary")
        except asyncpg.UndefinedObjectError as exc:  # the publication was dropped under the stream
            raise InvalidError(f"change stream [{name}]: {exc}") from exc
        finally:
            self._reading = False
        pending, self._confirmable = self._confirmable, None
        if pending is not None:  # what batches made durable while the slot was busy being read
            await self.confirm(name=name, position=pending)
        await reader.finish(upto)

    async def confirm(self, *, name: str, position: Position) -> None:
        """Advance the slot to `position` (never backwards). While the stream is being read (the slot is busy
        and the connection in a COPY) the position is kept and confirmed once the read ends: the position stored
        with the data is what a restart goes by, the slot only bounds what the server keeps."""
        if self._reading:
            self._confirmable = position
            return
        async with self._confirming:  # the reader's confirm of what it kept and the writer's may meet here
            await self._advance(name=name, position=position)

    async def _advance(self, *, name: str, position: Position) -> None:
        await self.conn.execute(
            "SELECT pg_replication_slot_advance(slot_name, $2::text::pg_lsn) FROM pg_replication_slots"
            " WHERE slot_name = $1 AND confirmed_flush_lsn < $2::text::pg_lsn",
            name,
            position["lsn"],
        )

    async def drop_stream(self, *, name: str) -> bool:
        """Drop the slot and Syncline's own publication; False when there was no slot."""
        dropped = await self.conn.fetchval(
            "SELECT count(*) > 0 FROM (SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
            " WHERE slot_name = $1) dropped",
            name,
        )
        if not self.config.publication:
            await self.conn.execute(f"DROP PUBLICATION IF EXISTS {quote_ident(name)}")
        if dropped:
            log.info("source.slot_dropped", slot=name)
        return bool(dropped)


PIECE_CHANGES = 500
"""Changes per piece of a change batch (a batch is cut into pieces so memory stays bounded)."""


class _ChangeReader:
    """Turns the peeked pgoutput messages into batches of the plans' changes (obfuscated values hashed), cut at
    commits; each `Mark` carries the position after its last transaction and that transaction's commit time."""

    def __init__(
        self, plans: Sequence[ObjectPlan], *, since: int, batch_rows: int, emit: Emit, source_lsn: str
    ) -> None:
        self.tables = {(p.schema or "public", p.name): p.obfuscated for p in plans}
        self.decoder = Decoder(since=since)
        self.parser = BinaryRowParser()
        self.batch_rows = batch_rows
        self.emit = emit
        self.source_lsn = source_lsn
        self.piece: list[Change] = []
        self.rows = 0
        """Changes since the last mark."""
        self.last: Commit | None = None

    async def feed(self, data: bytes) -> None:
        tables = self.tables
        feed = self.decoder.feed
        for (message,) in self.parser.feed(data):
            item = feed(message or b"\0")
            if item is None:
                continue
            if isinstance(item, Commit):
                self.last = item
                if self.rows >= self.batch_rows:
                    await self._flush(lsn_text(item.end_lsn))
                continue
            for change in item if isinstance(item, list) else (item,):
                hidden = tables.get((change.schema, change.table))
                if hidden is None:
                    continue
                self.piece.append(_hashed(change, hidden) if hidden else change)
                self.rows += 1
            if len(self.piece) >= PIECE_CHANGES:
                await self._piece()

    async def _piece(self) -> None:
        piece, self.piece = self.piece, []
        if piece:
            await self.emit(Piece(piece, rows=len(piece)))

    async def _flush(self, lsn: str) -> None:
        await self._piece()
        position: Position = {"lsn": lsn, "source_lsn": self.source_lsn}
        if self.last is not None:  # the batch's last transaction (none: the batch held no transaction)
            position["commit_time"] = self.last.at.isoformat()
        await self.emit(Mark(position=position, rows=self.rows))
        self.rows, self.last = 0, None

    async def finish(self, upto: str) -> None:
        await self._flush(upto)


def _hashed(change: Change, hidden: tuple[str, ...]) -> Change:
    """The change with the obfuscated fields' values (new and old) hashed as a snapshot hashes them: the SHA-256
    of their text, which is the text pgoutput sends."""

    def hide(row: dict[str, str | None] | None) -> dict[str, str | None] | None:
        if row is None:
            return None
        return row | {k: hashlib.sha256(v.encode()).hexdigest() for k in hidden if (v := row.get(k)) is not None}

    return replace(change, new=hide(change.new), old=hide(change.old))


def _written_since(xid: int) -> str:
    """Rows whose inserting or updating transaction is not older than `xid` (32-bit, wrapping)."""
    return f"((t.xmin::text::bigint - {xid} + 4294967296) % 4294967296) < 2147483648"


def slot_name(sync_id: str) -> str:
    """A replication slot name of a sync: stable, short, and valid whatever the sync id is."""
    return "syncline_" + hashlib.sha256(sync_id.encode()).hexdigest()[:24]


def _sink(encoding: Encoding, emit: Emit) -> Any:
    if encoding is Encoding.JSONL:

        async def jsonl(data: bytes) -> None:
            # COPY's text format doubles backslashes; JSON never holds a raw control character, so that is all
            await emit(Piece(data.replace(b"\\\\", b"\\")))

        return jsonl
    if encoding is Encoding.RECORDS:
        parser = BinaryRowParser()

        async def records(data: bytes) -> None:
            rows = parser.feed(data)
            if rows:
                batch = [Record(key=(k or b"").decode(), value=(v or b"").decode()) for k, v in rows]
                await emit(Piece(batch, rows=len(batch)))

        return records

    async def raw(data: bytes) -> None:
        await emit(Piece(data))

    return raw


def select_query(
    plan: ObjectPlan, conds: Sequence[str], *, encoding: Encoding, shape: RecordShape | None, database: str
) -> str:
    """The SELECT whose COPY yields `encoding` (and, for records, `shape`)."""
    cols = ", ".join(
        f"{read_expr(c)} AS {quote_ident(out)}" for c, out in zip(plan.columns, plan.output_columns, strict=True)
    )
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    inner = f"SELECT {cols} FROM {qualified(plan.schema, plan.name)} t{where}"
    if encoding in (Encoding.PG_BINARY, Encoding.CSV):
        return inner
    if encoding is Encoding.JSONL:
        return f"SELECT row_to_json(r)::text FROM ({inner}) r"
    key = _key_expr(plan)
    if shape is RecordShape.DOCUMENT:
        prefix = quote_literal(document_id_prefix(plan, database))
        return f"SELECT {prefix} || {key}, ({_document_expr(plan, database)})::text FROM ({inner}) r"
    return f"SELECT {key}, ({message_expr(plan, database)})::text FROM ({inner}) r"


def obfuscated_sql(expr: str) -> str:
    """The lower-case hex SHA-256 of the text of `expr` (NULL stays NULL): field obfuscation."""
    return f"encode(sha256(convert_to(({expr})::text, 'UTF8')), 'hex')"


def read_expr(column: Column, *, alias: str = "t") -> str:
    """How a column is read: hashed when obfuscated, as text when its type exists only in the source."""
    expr = f"{alias}.{quote_ident(column.name)}"
    if column.obfuscated:
        return obfuscated_sql(expr)
    return f"{expr}::text" if getattr(column, "cast_text", False) else expr


def _key_expr(plan: ObjectPlan, *, alias: str = "r") -> str:
    parts = [f"COALESCE({alias}.{quote_ident(c)}::text, '')" for c in plan.output_key]
    return " || '_' || ".join(parts) if parts else "''"


def _document_expr(plan: ObjectPlan, database: str) -> str:
    """Elastic's PostgreSQL connector document: `<schema>_<table>_<column>` fields plus Database, Table, schema."""
    schema = plan.schema or "public"
    prefix = f"{schema}_{plan.name}_".lower()
    fields = f"SELECT jsonb_object_agg({quote_literal(prefix)} || lower(f.key), f.value) FROM jsonb_each(to_jsonb(r)) f"
    return (
        f"COALESCE(({fields}), '{{}}'::jsonb) || jsonb_build_object('Database', {quote_literal(database)},"
        f" 'Table', {quote_literal(plan.name)}, 'schema', {quote_literal(schema)})"
    )


def document_id_prefix(plan: ObjectPlan, database: str) -> str:
    """`database_schema_table_`: Elastic's `_id` is this followed by the key values joined by `_`."""
    return f"{database}_{plan.schema or 'public'}_{plan.name}_"


def message_expr(plan: ObjectPlan, database: str, *, kind: str = "INSERT") -> str:
    """A DRS-style Kafka message for the row `r`, as text: the envelope is a constant around `row_to_json(r)`
    (assembling it with `json_build_object` cost the server ~30% more per row)."""
    head = json.dumps(
        {
            "database": database,
            "schema": plan.schema or "",
            "table": plan.name,
            "type": kind,
            "isDdl": False,
            "pkNames": list(plan.output_key),
        },
        separators=(",", ":"),
    )
    prefix = head[:-1] + ',"data":['
    return (
        f'{quote_literal(prefix)} || row_to_json(r)::text || \'],"old":null,"ts":\''
        " || (extract(epoch FROM statement_timestamp()) * 1000)::bigint || '}'"
    )
