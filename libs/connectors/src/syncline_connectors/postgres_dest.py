"""PostgreSQL as a destination: COPY into staging, then set-based SQL.

- snapshot: every batch is COPYed into a staging table of the run; at the end the primary key is built and the
  staging table replaces the target in one short transaction (readers see the old table or the new one, never a
  half-loaded one). A resumed run deletes the staging rows past its checkpoint and continues.
- replicate / full with deletes (full reads): the same staging table is merged at the end: upsert by primary key,
  then delete the target rows the staging table lacks.
- incremental: each batch goes through a temporary table and is upserted at once (the conflict policy decides
  about existing keys), so the checkpoint after it is exact.
- change streams: each batch of changes is COPYed (as JSON rows) into a temporary table and applied per object
  with SQL: a TRUNCATE empties the table first, the last change per key wins, a key change deletes the old key,
  deletes remove rows, unchanged TOAST values are kept.
PostgreSQL-to-PostgreSQL batches arrive as binary COPY and are never decoded in Python.

Record timestamps (on with `record_timestamps`, which names the two columns): every table written gets a created
column (when the row first landed) and an updated column (when a run last wrote it), both `timestamptz DEFAULT
now()`, so COPY and INSERT (always with a column list) fill them. Upserts keep created_at and set updated_at on
the rows they update (the merge of full reads only on rows that changed); change streams do the same for the
inserts and updates they apply. A snapshot builds a new table whose rows get the time of their batch (it replaces
the table: carrying the old created_at over would rewrite every staged row once more, 2.7x the snapshot's time
measured on 1M rows). A table made before the timestamps
were on gets the columns when an object opens; its earlier rows keep NULL (when they landed is unknown). The two
columns are the destination's own: `existing_columns` leaves them out, and a source field of either name is
refused. Off, nothing of this happens.

Secondary indexes (on with `copy_indexes`, DRS's `index_trans`): each table gets its source table's indexes as
the source defines them (method, keys, operator classes, INCLUDE, WHERE), named `<table>_<source index>_<hash>`
(`index_name`: unique in the schema, whatever schema the tables came from, within 63 bytes) and never UNIQUE:
a batch of changes is applied one statement per kind, in which a unique index checked row by row could refuse
values two rows swapped in one source transaction (the source keeps them unique). A snapshot builds them on its
staging table before the swap and renames them in it; other modes create the missing ones (`CREATE INDEX IF NOT
EXISTS`) when the table opens. An index reading a column the sync does not copy as it is (left out, renamed,
obfuscated), or one the destination cannot build (an operator class it lacks), is skipped with a log line.
"""

import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any, Self

import asyncpg
import structlog

from syncline_connectors.capabilities import (
    Committed,
    Encoding,
    IndexInfo,
    Item,
    ObjectOutcome,
    ObjectPlan,
    Position,
    WriteOptions,
)
from syncline_connectors.pgcopy import copy_in, copy_rows, qualified, quote_ident, quote_literal, release
from syncline_connectors.pgoutput import Change
from syncline_connectors.postgres import PostgresConfig, connect, filter_sql
from syncline_connectors.spec import ConflictPolicy, Discover, Mode, RecordTimestamps
from syncline_connectors.stream import Batch, batches
from syncline_platform.errors import ConflictError, InvalidError

log = structlog.get_logger(__name__)

CHANGES_TABLE = "_syncline_changes"
BATCH_TABLE = "_syncline_batch"
_UNBUILDABLE = (
    asyncpg.SyntaxOrAccessError,
    asyncpg.FeatureNotSupportedError,
    asyncpg.DataError,
    asyncpg.ProgramLimitExceededError,
)
"""Why a copied index definition cannot be built here (an undefined class, function or collation, a value its
expression refuses): the index is skipped, the run goes on."""


def staging_name(run_id: str, key: str) -> str:
    """The staging table of one object in one run (stable across retries of the run)."""
    return "_syncline_stage_" + hashlib.sha256(f"{run_id}\x00{key}".encode()).hexdigest()[:24]


def index_name(table: str, index: str) -> str:
    """A copied index's name in the destination schema: its table's and its source name, cut to PostgreSQL's 63
    bytes, and a hash of both (tables from several source schemas share one schema, whose index names must differ)."""
    digest = hashlib.sha256(f"{table}\x00{index}".encode()).hexdigest()[:8]
    head = f"{table}_{index}".encode()[:54].decode(errors="ignore")
    return f"{head}_{digest}"


class PostgresDestination:
    """Writes tables into one schema of one database. Use as an async context manager."""

    accepts = (Encoding.PG_BINARY, Encoding.ROWS)
    shape = None

    def __init__(
        self,
        config: PostgresConfig,
        *,
        schema: str = "public",
        new_fields: Discover = Discover.ALL,
        record_timestamps: RecordTimestamps | None = None,
        copy_indexes: bool = False,
    ) -> None:
        self.config = config
        self.schema = schema
        self.new_fields = new_fields
        self.record_timestamps = record_timestamps
        self.copy_indexes = copy_indexes
        self._indexed: set[str] = set()
        """Objects whose target got its indexes in this run (a followed stream opens its objects every poll)."""
        self._conn: asyncpg.Connection | None = None
        self._options: dict[str, WriteOptions] = {}
        self._rows: dict[str, int] = {}
        self._schema_made = False

    async def __aenter__(self) -> Self:
        self._conn = await connect(self.config)
        return self

    async def _schema_ready(self) -> None:
        """Create the output schema on the first write (a connection that only reads or checks creates nothing)."""
        if not self._schema_made:
            # movers of one run create it side by side: IF NOT EXISTS alone can still collide on the catalog
            with contextlib.suppress(asyncpg.UniqueViolationError):
                await self.conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(self.schema)}")
            self._schema_made = True

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._conn is not None:
            await release(self._conn, failed=exc_type is not None)

    @property
    def conn(self) -> asyncpg.Connection:
        """The open connection."""
        assert self._conn is not None, "use PostgresDestination as an async context manager"  # noqa: S101
        return self._conn

    async def check(self) -> None:
        """The destination answers."""
        await self.conn.fetchval("SELECT 1")

    async def existing_columns(self, output: str) -> list[str] | None:
        """The columns of the target table, or None when it does not exist; the record timestamps this destination
        writes are not fields of the source, so they are left out."""
        columns = await self._columns(output)
        if columns is None or not self.record_timestamps:
            return columns
        return [c for c in columns if c not in self.record_timestamps.columns]

    async def _columns(self, output: str) -> list[str] | None:
        rows = await self.conn.fetch(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped"
            " ORDER BY attnum",
            qualified(self.schema, output),
        )
        if not rows:
            exists = await self.conn.fetchval("SELECT to_regclass($1) IS NOT NULL", qualified(self.schema, output))
            return [] if exists else None
        return [r["attname"] for r in rows]

    def _target(self, plan: ObjectPlan) -> str:
        return qualified(self.schema, plan.output)

    def _staging(self, plan: ObjectPlan) -> str:
        return staging_name(self._options[plan.key].run_id, plan.key)

    def _uses_staging(self, plan: ObjectPlan) -> bool:
        return self._options[plan.key].mode is not Mode.INCREMENTAL

    def _refuse_reserved(self, plan: ObjectPlan) -> None:
        """A source field named like a record timestamp would collide with the destination's own column."""
        stamps = self.record_timestamps
        clash = [o for o in plan.output_columns if stamps and o in stamps.columns]
        if clash:
            raise InvalidError(
                f"fields of [{plan.output}] collide with the record timestamps: {', '.join(clash)}"
                " (rename them or disable record timestamps)"
            )

    # objects ----------------------------------------------------------------------------------------------------

    async def open_object(self, plan: ObjectPlan, *, options: WriteOptions, resume: Position | None) -> Position | None:
        """Create the staging table (or reuse it past `resume`), or the target for incremental writes."""
        self._refuse_reserved(plan)
        await self._schema_ready()
        self._options[plan.key] = options
        if not self._uses_staging(plan):
            await self._ensure_target(plan)
            await self.conn.execute(f"DROP TABLE IF EXISTS pg_temp.{BATCH_TABLE}")
            await self.conn.execute(f"CREATE TEMP TABLE {BATCH_TABLE} ({_column_defs(plan)})")
            return resume
        if options.mode is not Mode.SNAPSHOT:
            await self._ensure_target(plan)
        staging = qualified(self.schema, self._staging(plan))
        exists = await self.conn.fetchval("SELECT to_regclass($1) IS NOT NULL", staging)
        if exists and resume and resume.get("after") and plan.primary_key:
            keys = ", ".join(quote_ident(c) for c in plan.output_key)
            types = {o: c.type for c, o in zip(plan.columns, plan.output_columns, strict=True)}
            values = ", ".join(
                f"{quote_literal(v)}::{types[k]}" for v, k in zip(resume["after"], plan.output_key, strict=True)
            )
            removed = await self.conn.execute(f"DELETE FROM {staging} WHERE ({keys}) > ({values})")
            self._rows[plan.key] = await self.conn.fetchval(f"SELECT count(*) FROM {staging}")
            log.info("destination.resumed", table=plan.output, removed=copy_rows(removed), kept=self._rows[plan.key])
            return resume
        await self.conn.execute(f"DROP TABLE IF EXISTS {staging}")
        key = ""
        if plan.primary_key:  # kept while loading: keys arrive in order, so the index only appends
            name = quote_ident(self._staging(plan) + "_pkey")
            key = f", CONSTRAINT {name} PRIMARY KEY ({', '.join(quote_ident(c) for c in plan.output_key)})"
        await self.conn.execute(f"CREATE TABLE {staging} ({_column_defs(plan, stamps=self.record_timestamps)}{key})")
        self._rows[plan.key] = 0
        return None

    async def _ensure_target(self, plan: ObjectPlan) -> None:
        existing = await self._columns(plan.output)
        if existing is None:
            key = f", PRIMARY KEY ({', '.join(quote_ident(c) for c in plan.output_key)})" if plan.primary_key else ""
            defs = _column_defs(plan, stamps=self.record_timestamps)
            await self.conn.execute(f"CREATE TABLE {self._target(plan)} ({defs}{key})")
            return
        changes = self._new_fields(plan, existing) + self._new_stamps(existing)
        if changes:  # only then: ALTER TABLE locks out readers even when it has nothing to do
            await self.conn.execute(f"ALTER TABLE {self._target(plan)} {', '.join(changes)}")
        await self._target_indexes(plan)

    def _new_fields(self, plan: ObjectPlan, existing: list[str]) -> list[str]:
        if self.new_fields is not Discover.ALL:
            return []
        missing = [(c, o) for c, o in zip(plan.columns, plan.output_columns, strict=True) if o not in existing]
        return [f"ADD COLUMN IF NOT EXISTS {quote_ident(o)} {c.type}" for c, o in missing]

    def _new_stamps(self, existing: list[str]) -> list[str]:
        """Record timestamps for a table made before they were on: added without a default, so its rows keep
        NULL, then given the default for the rows written from now on."""
        stamps = self.record_timestamps
        missing = [c for c in stamps.columns if c not in existing] if stamps else []
        adds = [f"ADD COLUMN IF NOT EXISTS {quote_ident(c)} timestamptz" for c in missing]
        return adds + [f"ALTER COLUMN {quote_ident(c)} SET DEFAULT now()" for c in missing]

    def write(self, plan: ObjectPlan, items: AsyncIterator[Item], *, encoding: Encoding) -> AsyncIterator[Committed]:
        """COPY each batch into staging (or upsert it), yielding after each."""
        return self._write(plan, items, encoding)

    async def _write(
        self, plan: ObjectPlan, items: AsyncIterator[Item], encoding: Encoding
    ) -> AsyncIterator[Committed]:
        staged = self._uses_staging(plan)
        table = self._staging(plan) if staged else BATCH_TABLE
        schema = self.schema if staged else None
        async for batch in batches(items):
            if batch.empty:
                yield Committed(position=batch.mark.position, rows=0)
                continue
            rows, size = await self._copy_in(plan, table, schema, batch, encoding)
            if staged:
                self._rows[plan.key] = self._rows.get(plan.key, 0) + rows
            else:
                rows = await self._upsert_batch(plan)
            yield Committed(position=batch.mark.position, rows=rows, bytes=size)

    async def _copy_in(
        self, plan: ObjectPlan, table: str, schema: str | None, batch: Batch, encoding: Encoding
    ) -> tuple[int, int]:
        if encoding is Encoding.ROWS:
            coerce = [_coercer(c.type) for c in plan.columns]
            names = [c.name for c in plan.columns]

            async def records() -> AsyncIterator[tuple[Any, ...]]:
                async for piece in batch.pieces():
                    for row in piece.data:
                        yield tuple(f(row.get(n)) for f, n in zip(coerce, names, strict=True))

            status = await copy_in(
                self.conn,
                self.conn.copy_records_to_table(
                    table, records=records(), columns=list(plan.output_columns), schema_name=schema
                ),
            )
            return copy_rows(status), batch.bytes

        async def data() -> AsyncIterator[bytes]:
            async for piece in batch.pieces():
                yield piece.data

        copy = self.conn.copy_to_table(
            table, source=data(), columns=list(plan.output_columns), format="binary", schema_name=schema
        )  # the column list lets the record timestamps take their defaults
        status = await copy_in(self.conn, copy)
        return copy_rows(status), batch.bytes

    async def _upsert_batch(self, plan: ObjectPlan) -> int:
        policy = self._options[plan.key].conflict_policy
        cols = ", ".join(quote_ident(c) for c in plan.output_columns)
        async with self.conn.transaction():
            try:
                status = await self.conn.execute(
                    f"INSERT INTO {self._target(plan)} ({cols}) SELECT {cols} FROM pg_temp.{BATCH_TABLE}"
                    f"{_on_conflict(plan, policy, stamps=self.record_timestamps)}"
                )
            except asyncpg.UniqueViolationError as exc:
                raise ConflictError(f"row already in [{plan.output}] (conflict policy stop): {exc.detail}") from exc
            await self.conn.execute(f"TRUNCATE pg_temp.{BATCH_TABLE}")
        return copy_rows(status)

    async def close_object(self, plan: ObjectPlan) -> ObjectOutcome:
        """Swap (snapshot), merge (full reads), or nothing more (incremental)."""
        options = self._options[plan.key]
        if options.mode is Mode.SNAPSHOT:
            outcome = await self._swap(plan)
        elif self._uses_staging(plan):
            outcome = await self._merge(plan)
        else:
            await self.conn.execute(f"DROP TABLE IF EXISTS pg_temp.{BATCH_TABLE}")
            outcome = ObjectOutcome(total=await self._count(plan))
        # kept until here: a failed close is aborted, which drops the staging table
        self._options.pop(plan.key, None)
        return outcome

    async def _swap(self, plan: ObjectPlan) -> ObjectOutcome:
        staging = self._staging(plan)
        stage = qualified(self.schema, staging)
        total = self._rows.pop(plan.key, 0)
        copied = await self._build_indexes(plan, table=staging)
        async with self.conn.transaction():
            await self.conn.execute(f"DROP TABLE IF EXISTS {self._target(plan)}")
            await self.conn.execute(f"ALTER TABLE {stage} RENAME TO {quote_ident(plan.output)}")
            if plan.primary_key:
                pkey = quote_ident(f"{plan.output[:58]}_pkey")
                await self.conn.execute(
                    f"ALTER TABLE {self._target(plan)} RENAME CONSTRAINT {quote_ident(staging + '_pkey')} TO {pkey}"
                )
            for index in copied:
                built = qualified(self.schema, index_name(staging, index.name))
                await self.conn.execute(
                    f"ALTER INDEX IF EXISTS {built} RENAME TO {quote_ident(index_name(plan.output, index.name))}"
                )
        self._indexed.add(plan.key)
        log.info("destination.swapped", table=plan.output, rows=total)
        return ObjectOutcome(total=total)

    # indexes -------------------------------------------------------------------------------------------------------

    def _copyable(self, plan: ObjectPlan) -> list[IndexInfo]:
        """The plan's source indexes this destination copies: those reading only columns copied as they are."""
        if not self.copy_indexes:
            return []
        as_is = {c.name for c, o in zip(plan.columns, plan.output_columns, strict=True) if c.name == o}
        as_is -= set(plan.obfuscated)
        kept = []
        for index in plan.indexes:
            missing = [c for c in index.columns if c not in as_is]
            if missing:
                log.info("destination.index_skipped", table=plan.output, index=index.name, not_copied=missing)
            else:
                kept.append(index)
        return kept

    async def _build_indexes(self, plan: ObjectPlan, *, table: str) -> list[IndexInfo]:
        """Create the plan's copyable indexes on `table` (named after it) unless there; those that exist after."""
        built = []
        for index in self._copyable(plan):
            name = quote_ident(index_name(table, index.name))
            statement = f"CREATE INDEX IF NOT EXISTS {name} ON {qualified(self.schema, table)} USING {index.definition}"
            try:
                await self.conn.execute(statement)
            except _UNBUILDABLE as exc:  # what the source has and this server lacks (an extension's operator class)
                log.warning("destination.index_skipped", table=plan.output, index=index.name, error=str(exc))
                continue
            built.append(index)
        return built

    async def _target_indexes(self, plan: ObjectPlan) -> None:
        """The target's missing copied indexes, once per object and run (an existing one is not rebuilt)."""
        if not self.copy_indexes or plan.key in self._indexed:
            return
        present = await self.conn.fetchval(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = $1 AND c.relname = ANY($2::text[])",
            self.schema,
            [index_name(plan.output, i.name) for i in plan.indexes],
        )
        if present < len(plan.indexes):
            await self._build_indexes(plan, table=plan.output)
        self._indexed.add(plan.key)

    async def _merge(self, plan: ObjectPlan) -> ObjectOutcome:
        stage = qualified(self.schema, self._staging(plan))
        target = self._target(plan)
        cols = ", ".join(quote_ident(c) for c in plan.output_columns)
        keys = [quote_ident(c) for c in plan.output_key]
        match = " AND ".join(f"s.{k} = t.{k}" for k in keys)
        async with self.conn.transaction():
            await self.conn.execute(
                f"INSERT INTO {target} AS t ({cols}) SELECT {cols} FROM {stage}"
                f"{_on_conflict(plan, ConflictPolicy.OVERWRITE, changed_only=True, stamps=self.record_timestamps)}"
            )
            deleted = await self.conn.execute(
                f"DELETE FROM {target} t WHERE NOT EXISTS (SELECT 1 FROM {stage} s WHERE {match})"
            )
            await self.conn.execute(f"DROP TABLE {stage}")
        return ObjectOutcome(deleted=copy_rows(deleted), total=await self._count(plan))

    async def _count(self, plan: ObjectPlan) -> int:
        total: int = await self.conn.fetchval(f"SELECT count(*) FROM {self._target(plan)}")
        return total

    async def abort_object(self, plan: ObjectPlan) -> None:
        """Drop the object's staging table (kept in mind until that worked: a connection stuck in an interrupted
        COPY fails here, and the object is aborted again once `recover` gave a fresh one)."""
        options = self._options.get(plan.key)
        if options is not None:
            await self.conn.execute(
                f"DROP TABLE IF EXISTS {qualified(self.schema, staging_name(options.run_id, plan.key))}"
            )
            self._options.pop(plan.key, None)

    async def recover(self) -> None:
        """A fresh connection after an object was interrupted (its COPY may have left this one unusable)."""
        if self._conn is not None:
            self._conn.terminate()
        self._conn = await connect(self.config)

    # change streams ---------------------------------------------------------------------------------------------

    def apply_changes(
        self, plans: Sequence[ObjectPlan], items: AsyncIterator[Item], *, options: WriteOptions
    ) -> AsyncIterator[Committed]:
        """COPY each batch of changes into a temporary table, then apply it to every object in one transaction."""
        return self._apply_changes(plans, items, options)

    async def _apply_changes(
        self, plans: Sequence[ObjectPlan], items: AsyncIterator[Item], options: WriteOptions
    ) -> AsyncIterator[Committed]:
        await self._schema_ready()
        for plan in plans:
            self._refuse_reserved(plan)
            self._options[plan.key] = options
            await self._ensure_target(plan)
        await self.conn.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {CHANGES_TABLE}"
            " (n bigint, o int, op text, new jsonb, old jsonb); "
            f"TRUNCATE {CHANGES_TABLE}"
        )
        lines = ChangeLines(plans)
        async for batch in batches(items):

            async def data(batch: Batch = batch) -> AsyncIterator[bytes]:
                async for piece in batch.pieces():
                    yield lines.encode(piece.data)

            started = time.perf_counter()
            if not batch.empty:
                copy = self.conn.copy_to_table(CHANGES_TABLE, source=data(), format="text", schema_name="pg_temp")
                await copy_in(self.conn, copy)
            copied = time.perf_counter()
            per_object: dict[str, tuple[int, int]] = {}
            size, touched = lines.take_batch()
            async with self.conn.transaction():
                for index, truncated in touched.items():  # objects without a change in the batch have nothing to do
                    plan = plans[index]
                    per_object[plan.key] = await self._apply_object(plan, index, options, truncated=truncated)
                await self.conn.execute(f"TRUNCATE pg_temp.{CHANGES_TABLE}")
            log.debug(
                "destination.changes_applied",
                changes=batch.mark.rows,
                copy_s=round(copied - started, 3),
                apply_s=round(time.perf_counter() - copied, 3),
            )
            yield Committed(
                position=batch.mark.position,
                rows=sum(w for w, _ in per_object.values()),
                bytes=size,
                deleted=sum(d for _, d in per_object.values()),
                objects=per_object,
            )
        for plan in plans:
            self._options.pop(plan.key, None)

    async def _apply_object(
        self, plan: ObjectPlan, index: int, options: WriteOptions, *, truncated: int | None
    ) -> tuple[int, int]:
        target = self._target(plan)
        deleted = 0
        if truncated is not None:  # what came before the TRUNCATE is gone with it
            deleted = await self.conn.fetchval(f"SELECT count(*) FROM {target}")
            await self.conn.execute(f"TRUNCATE {target}")
        sql = ChangeSql(plan, target=target, index=index, after=truncated or 0, stamps=self.record_timestamps)
        await self.conn.execute(sql.latest())
        try:
            await self.conn.execute(sql.complete_merges())
            await self._apply_filters(sql)
            deleted += copy_rows(await self.conn.execute(sql.delete()))
            written = copy_rows(await self.conn.execute(sql.upsert("U", ConflictPolicy.OVERWRITE)))
            catch_up = bool(options.extra.get("catch_up"))
            policy = ConflictPolicy.OVERWRITE if catch_up else options.conflict_policy
            try:
                written += copy_rows(await self.conn.execute(sql.upsert("I", policy)))
            except asyncpg.UniqueViolationError as exc:
                raise ConflictError(f"row already in [{plan.output}] (conflict policy stop): {exc.detail}") from exc
            written += copy_rows(await self.conn.execute(sql.update_partial()))
        finally:
            await self.conn.execute("DROP TABLE IF EXISTS pg_temp._syncline_events, pg_temp._syncline_latest")
        return written, deleted

    async def _apply_filters(self, sql: "ChangeSql") -> None:
        statement = sql.drop_filtered()
        if statement is not None:
            await self.conn.execute(statement)
        _, unjudged = sql.filtered_fields()
        if unjudged:
            log.warning("destination.filters_not_applied_to_changes", table=sql.plan.output, fields=unjudged)


_JSON = json.JSONEncoder(ensure_ascii=False, check_circular=False)


class ChangeLines:
    """Changes as rows of the changes table (COPY text): `n`, the object's index, the operation, the new row and
    the old identity as JSON objects of text values."""

    def __init__(self, plans: Sequence[ObjectPlan]) -> None:
        self.index = {(p.schema or "public", p.name): i for i, p in enumerate(plans)}
        self.names = [frozenset(c.name for c in p.columns) for p in plans]
        self.n = 0
        self.bytes = 0
        self.touched: dict[int, int | None] = {}
        """Objects with changes in the batch, with the `n` of their last TRUNCATE in it."""

    def encode(self, changes: list[Change]) -> bytes:
        """The COPY text lines of `changes` (JSON escapes every control character; only backslashes need
        doubling for COPY)."""
        out = []
        dumps = _JSON.encode
        for change in changes:
            index = self.index.get((change.schema, change.table))
            if index is None:
                continue
            self.n += 1
            if change.op == "T":
                self.touched[index] = self.n
            else:
                self.touched.setdefault(index, None)
            row = change.new
            if row is not None:
                missing = self.names[index] - row.keys()
                if missing:  # columns the source table did not have yet are NULL; unchanged TOAST stays absent
                    row = dict.fromkeys(missing.difference(change.unchanged)) | row
            new = "\\N" if row is None else dumps(row).replace("\\", "\\\\")
            old = "\\N" if change.old is None else dumps(change.old).replace("\\", "\\\\")
            out.append(f"{self.n}\t{index}\t{change.op}\t{new}\t{old}\n")
        data = "".join(out).encode()
        self.bytes += len(data)
        return data

    def take_batch(self) -> tuple[int, dict[int, int | None]]:
        """Bytes encoded since the last call, and the objects they touched (with their last TRUNCATE)."""
        size, touched = self.bytes, self.touched
        self.bytes, self.touched = 0, {}
        return size, touched


class ChangeSql:
    """The statements applying one object's changes from the changes table (its events after `after`, the last
    TRUNCATE of the batch)."""

    def __init__(
        self,
        plan: ObjectPlan,
        *,
        target: str,
        index: int = 0,
        after: int = 0,
        stamps: RecordTimestamps | None = None,
    ) -> None:
        self.plan = plan
        self.target = target
        self.index = index
        self.after = after
        self.stamps = stamps
        self.names = [c.name for c in plan.columns]
        self.all_names = "ARRAY[" + ", ".join(quote_literal(n) for n in self.names) + "]"

    def _value(self, name: str, source: str = "m") -> str:
        type_ = next(c.type for c in self.plan.columns if c.name == name)
        return f"({source}->>{quote_literal(name)})::{type_}"

    def latest(self) -> str:
        """Events per key (a key change deletes the old key), then the last one per key."""
        plan = self.plan
        olds = ", ".join(f"{self._value(k, 'old')} AS o{i}" for i, k in enumerate(plan.primary_key))
        news = ", ".join(f"{self._value(k, 'm')} AS k{i}" for i, k in enumerate(plan.primary_key))
        old_as_keys = ", ".join(f"o{i} AS k{i}" for i in range(len(plan.primary_key)))
        ks = ", ".join(f"k{i}" for i in range(len(plan.primary_key)))
        changed = " OR ".join(f"o{i} IS DISTINCT FROM k{i}" for i in range(len(plan.primary_key)))
        return f"""
        CREATE TEMP TABLE _syncline_events AS
        WITH ch AS (
            SELECT n, action, m, {news}, {olds}
            FROM (
                SELECT n, op AS action, new AS m, old FROM pg_temp.{CHANGES_TABLE}
                WHERE o = {int(self.index)} AND n > {int(self.after)} AND op IN ('I', 'U', 'D')
            ) c
        )
        SELECT n, 'D' AS op, NULL::jsonb AS m, {old_as_keys} FROM ch
            WHERE action = 'D' OR (action = 'U' AND o0 IS NOT NULL AND ({changed}))
        UNION ALL
        SELECT n, action, m, {ks} FROM ch WHERE action IN ('I', 'U');
        CREATE TEMP TABLE _syncline_latest AS
            SELECT DISTINCT ON ({ks}) * FROM _syncline_events ORDER BY {ks}, n DESC;
        ANALYZE _syncline_latest;  -- joins against the target: index lookups for a few keys, not a scan of it
        """

    def complete_merges(self) -> str:
        """Fill the fields an update left out (unchanged TOAST values) from earlier events of the same batch."""
        ks = [f"k{i}" for i in range(len(self.plan.primary_key))]
        same = " AND ".join(f"e.{k} = l.{k}" for k in ks)
        return f"""
        UPDATE _syncline_latest l SET m = (
            SELECT jsonb_object_agg(f.key, f.value ORDER BY e.n) FROM _syncline_events e, jsonb_each(e.m) f
            WHERE {same} AND e.op <> 'D' AND e.n > COALESCE(
                (SELECT max(d.n) FROM _syncline_events d WHERE d.op = 'D' AND {same.replace("e.", "d.")}), 0)
        )
        WHERE l.op <> 'D' AND NOT (l.m ?& {self.all_names})
        """

    def filtered_fields(self) -> tuple[list[str], list[str]]:
        """The object's filter fields the change can be judged on (selected, in clear), and those it cannot."""
        typed = {c.name for c in self.plan.columns if not c.obfuscated}
        fields = list(dict.fromkeys(f.field for f in self.plan.filters))
        return [f for f in fields if f in typed], [f for f in fields if f not in typed]

    def drop_filtered(self) -> str | None:
        """Keys whose new row fails the object's filters become deletes: the stream keeps the rows a snapshot selects
        (a row that leaves the filter leaves the destination; one outside it never lands)."""
        usable, _ = self.filtered_fields()
        if not usable:
            return None
        filters = [f for f in self.plan.filters if f.field in usable]
        typed = ", ".join(f"{self._value(n, 'l.m')} AS {quote_ident(n)}" for n in usable)
        present = "ARRAY[" + ", ".join(quote_literal(n) for n in usable) + "]"
        passes = " AND ".join(filter_sql(filters, alias="t"))
        return (
            f"UPDATE _syncline_latest l SET op = 'D' WHERE l.op <> 'D' AND l.m ?& {present}"
            f" AND NOT COALESCE((SELECT {passes} FROM (SELECT {typed}) t), false)"
        )

    def delete(self) -> str:
        """Remove the keys whose last event is a delete."""
        match = " AND ".join(f"t.{quote_ident(o)} = l.k{i}" for i, o in enumerate(self.plan.output_key))
        return f"DELETE FROM {self.target} t USING _syncline_latest l WHERE l.op = 'D' AND {match}"

    def upsert(self, op: str, policy: ConflictPolicy) -> str:
        """Insert (or update) the complete rows whose last event is `op`."""
        cols = ", ".join(quote_ident(o) for o in self.plan.output_columns)
        values = ", ".join(self._value(n) for n in self.names)
        return (
            f"INSERT INTO {self.target} ({cols}) SELECT {values} FROM _syncline_latest"
            f" WHERE op = {quote_literal(op)} AND m ?& {self.all_names}"
            f"{_on_conflict(self.plan, policy, stamps=self.stamps)}"
        )

    def update_partial(self) -> str:
        """Update the fields present in rows whose last event left some out."""
        sets = ", ".join(
            f"{quote_ident(o)} = CASE WHEN l.m ? {quote_literal(n)}"
            f" THEN {self._value(n, 'l.m')} ELSE t.{quote_ident(o)} END"
            for n, o in zip(self.names, self.plan.output_columns, strict=True)
        )
        if self.stamps:
            sets += f", {quote_ident(self.stamps.updated)} = now()"
        match = " AND ".join(f"t.{quote_ident(o)} = l.k{i}" for i, o in enumerate(self.plan.output_key))
        return (
            f"UPDATE {self.target} t SET {sets} FROM _syncline_latest l"
            f" WHERE l.op <> 'D' AND NOT (l.m ?& {self.all_names}) AND {match}"
        )


def _on_conflict(
    plan: ObjectPlan, policy: ConflictPolicy, *, changed_only: bool = False, stamps: RecordTimestamps | None = None
) -> str:
    """The ON CONFLICT clause of an upsert; `changed_only` leaves rows alone whose fields are all equal, `stamps`
    sets the updated rows' record timestamp (their created_at is left as it is)."""
    if not plan.primary_key or policy is ConflictPolicy.STOP:
        return ""
    keys = ", ".join(quote_ident(c) for c in plan.output_key)
    if policy is ConflictPolicy.IGNORE:
        return f" ON CONFLICT ({keys}) DO NOTHING"
    others = [c for c in plan.output_columns if c not in plan.output_key]
    if not others:
        return f" ON CONFLICT ({keys}) DO NOTHING"
    sets = [f"{quote_ident(c)} = EXCLUDED.{quote_ident(c)}" for c in others]
    if stamps:
        sets.append(f"{quote_ident(stamps.updated)} = now()")
    clause = f" ON CONFLICT ({keys}) DO UPDATE SET {', '.join(sets)}"
    if changed_only:
        target = ", ".join(f"t.{quote_ident(c)}" for c in others)
        excluded = ", ".join(f"EXCLUDED.{quote_ident(c)}" for c in others)
        clause += f" WHERE ({target}) IS DISTINCT FROM ({excluded})"
    return clause


def _column_defs(plan: ObjectPlan, *, stamps: RecordTimestamps | None = None) -> str:
    """The plan's columns, and the record timestamps (filled by their defaults) when `stamps` names them."""
    defs = [f"{quote_ident(o)} {c.type}" for c, o in zip(plan.columns, plan.output_columns, strict=True)]
    if stamps:
        defs += [f"{quote_ident(c)} timestamptz DEFAULT now()" for c in stamps.columns]
    return ", ".join(defs)


def _coercer(type_: str) -> Any:
    """A function turning a decoded value (JSON, CSV text) into what asyncpg encodes for `type_`."""
    if type_ in ("jsonb", "json"):
        return lambda v: v if v is None or isinstance(v, str) else json.dumps(v)
    if type_ in ("bigint", "integer", "smallint"):
        return lambda v: None if v is None or v == "" else int(v)
    if type_ in ("double precision", "real"):
        return lambda v: None if v is None or v == "" else float(v)
    if type_ == "boolean":
        return lambda v: v if v is None or isinstance(v, bool) else str(v).lower() in ("true", "t", "1", "yes")
    return lambda v: v if v is None or isinstance(v, str) else json.dumps(v) if isinstance(v, dict | list) else str(v)
