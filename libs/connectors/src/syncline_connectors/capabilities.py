"""The narrow capabilities connectors offer, and the stream that flows between a reader and a writer.

A reader pushes `Piece`s (data in one `Encoding`) and `Mark`s (the end of a batch, with the source position
after it) to an `emit` callable, usually a bounded queue's `put`. A writer consumes that stream and yields one
`Committed` per mark once the batch is durable, so the executor can checkpoint the position. Every connector is an
async context manager; the executor asks for the capability it needs by connection type (`registry`).
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

from syncline_connectors.spec import ConflictPolicy, Filter, Mode

Position = dict[str, Any]
"""A JSON-serialisable place in a source (keyset values, file index, log sequence number)."""


class Encoding(StrEnum):
    """How the data of a `Piece` is laid out."""

    PG_BINARY = "pg_binary"
    """PostgreSQL binary COPY of the plan's columns: one complete COPY stream (header to trailer) per batch."""
    CSV = "csv"
    """CSV rows in the plan's column order, no header."""
    JSONL = "jsonl"
    """One JSON object per line, keys are source field names."""
    RECORDS = "records"
    """`list[Record]`: a key and a JSON value in the writer's `RecordShape`."""
    ROWS = "rows"
    """`list[dict[str, Any]]` of Python values keyed by source field name."""
    CHANGES = "changes"
    """`list[pgoutput.Change]`: a change stream's row events in commit order, values as their text output."""


class RecordShape(StrEnum):
    """The JSON a `Record` value carries."""

    DOCUMENT = "document"
    """An Elastic document: `<schema>_<table>_<column>` fields plus `Database`, `Table`, `schema`."""
    MESSAGE = "message"
    """A DRS Kafka message: database, schema, table, type, pkNames, data[row], old, ts."""


@dataclass(frozen=True)
class Record:
    """One keyed record (a document, a Kafka message)."""

    key: str
    value: str


@dataclass(frozen=True)
class Piece:
    """A slice of data; `rows` is 0 when the encoding does not tell."""

    data: Any
    rows: int = 0


@dataclass(frozen=True)
class Mark:
    """The end of a batch: everything emitted before it forms one unit, read up to `position`."""

    position: Position
    rows: int


Item = Piece | Mark
Emit = Callable[[Item], Awaitable[None]]


@dataclass(frozen=True)
class Committed:
    """A batch is durable in the destination."""

    position: Position
    rows: int
    bytes: int = 0
    deleted: int = 0
    objects: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per object key (change streams span objects): rows written and deleted by this batch."""


@dataclass(frozen=True)
class Column:
    """A field with its PostgreSQL type (the lingua franca: files sources map their values onto these)."""

    name: str
    type: str
    nullable: bool = True
    obfuscated: bool = False
    """Values leave the source as the lower-case hex SHA-256 of their text (NULL stays NULL); `type` is then
    `text`, the type the destination gets."""
    source_type: str | None = None
    """The field's type at the source when `type` differs from it (an obfuscated field)."""
    native_type: str | None = None
    """The type's own name in the source's catalogue when it says more than `type` (PostgreSQL's `udt_name`:
    `int4`, `timestamptz`, `_text` for `text[]`, a domain's base type); None: `type` is all there is."""

    @property
    def read_type(self) -> str:
        """The field's type where it is read (what source-side literals and casts use)."""
        return self.source_type or self.type


@dataclass(frozen=True)
class IndexInfo:
    """A secondary index of a source table (PostgreSQL), as a destination can build it on its own table."""

    name: str
    """Its name at the source."""
    definition: str
    """What follows `USING` in its definition: the method, the keys (with their operator classes and order), any
    INCLUDE, storage parameters and WHERE clause, in source column names."""
    columns: tuple[str, ...]
    """Every column it reads (keys, expressions, INCLUDE, predicate)."""


@dataclass(frozen=True)
class ObjectInfo:
    """A discovered object."""

    schema: str | None
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    indexes: tuple[IndexInfo, ...] = ()
    """Secondary indexes (neither the primary key nor an exclusion constraint), where the source has them."""

    @property
    def key(self) -> str:
        """`schema.name`, or the name alone."""
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True)
class ObjectPlan:
    """One object of one run: what is read (source names) and where it lands (destination names)."""

    schema: str | None
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    output: str
    output_columns: tuple[str, ...]
    tracking_field: str | None = None
    filters: tuple[Filter, ...] = ()
    table_columns: tuple[str, ...] = ()
    """Every column of the source table in its order (change events list them so)."""
    indexes: tuple[IndexInfo, ...] = ()
    """The source table's secondary indexes (a destination copies them when the spec says `copy_indexes`)."""

    @property
    def key(self) -> str:
        """The object's id in checkpoints: `schema.name`, or the name alone."""
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def output_name(self, column: str) -> str:
        """The destination name of a source column."""
        return self.output_columns[[c.name for c in self.columns].index(column)]

    @property
    def output_key(self) -> tuple[str, ...]:
        """The primary key in destination names."""
        return tuple(self.output_name(c) for c in self.primary_key)

    @property
    def obfuscated(self) -> tuple[str, ...]:
        """The fields whose values leave the source hashed (`Column.obfuscated`)."""
        return tuple(c.name for c in self.columns if c.obfuscated)


@dataclass
class ObjectOutcome:
    """What closing an object did."""

    deleted: int = 0
    total: int | None = None


@dataclass
class WriteOptions:
    """How a writer treats an object in this run."""

    mode: Mode
    conflict_policy: ConflictPolicy = ConflictPolicy.OVERWRITE
    run_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Connector(Protocol):
    """Every connector: an async context manager that can check its endpoint."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def check(self) -> None:
        """Raise when the endpoint cannot be used."""


@runtime_checkable
class SchemaDiscoverer(Protocol):
    """Lists objects with their fields, types and keys."""

    async def discover(self) -> list[ObjectInfo]:
        """Every object the source offers."""
        ...


@runtime_checkable
class SnapshotReader(Protocol):
    """Reads whole objects in batches, resumable after a position."""

    encodings: frozenset[Encoding]

    async def read_snapshot(
        self, plan: ObjectPlan, *, after: Position | None, encoding: Encoding, shape: RecordShape | None, emit: Emit
    ) -> None:
        """Emit the object's rows after `after`, a `Mark` after each batch."""


@runtime_checkable
class Sampler(Protocol):
    """Reads a few rows of an object, for a test run that validates a sync without moving its data."""

    async def sample(self, plan: ObjectPlan, *, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` rows that pass the plan's filters, keyed by source field name."""


@runtime_checkable
class IncrementalReader(Protocol):
    """Reads the rows whose `(tracking field, key)` moved past a position."""

    async def read_incremental(
        self, plan: ObjectPlan, *, after: Position | None, encoding: Encoding, shape: RecordShape | None, emit: Emit
    ) -> None:
        """Emit rows with `(cursor, key) > after`, in that order, a `Mark` after each batch."""


@runtime_checkable
class ChangeStreamReader(Protocol):
    """Reads committed changes (inserts, updates, deletes) from a durable stream the sync owns."""

    async def open_stream(self, *, name: str, plans: Sequence[ObjectPlan]) -> Position:
        """Create the stream when missing (before any snapshot is taken); returns its start position."""
        ...

    async def read_changes(
        self, *, name: str, plans: Sequence[ObjectPlan], after: Position | None, encoding: Encoding, emit: Emit
    ) -> None:
        """Emit the changes committed after `after` up to now, then a `Mark` with the position reached."""

    async def confirm(self, *, name: str, position: Position) -> None:
        """The changes up to `position` are stored; the stream may forget them."""

    async def drop_stream(self, *, name: str) -> bool:
        """Remove the stream; False when it did not exist."""
        ...


@runtime_checkable
class BatchWriter(Protocol):
    """Writes objects batch by batch; each batch durable (and idempotent) before it is acknowledged."""

    accepts: tuple[Encoding, ...]
    shape: RecordShape | None

    async def open_object(self, plan: ObjectPlan, *, options: WriteOptions, resume: Position | None) -> Position | None:
        """Prepare the object; returns the position to resume after (None: from the start)."""
        ...

    def write(self, plan: ObjectPlan, items: AsyncIterator[Item], *, encoding: Encoding) -> AsyncIterator[Committed]:
        """Consume the stream; yield one `Committed` per `Mark` once the batch is durable."""
        ...

    async def close_object(self, plan: ObjectPlan) -> ObjectOutcome:
        """Finish the object (swap, merge, delete unseen, rename files)."""
        ...

    async def abort_object(self, plan: ObjectPlan) -> None:
        """Throw away what a canceled object left behind."""


@runtime_checkable
class ChangeWriter(Protocol):
    """Applies a change stream (upserts and deletes by key)."""

    def apply_changes(
        self, plans: Sequence[ObjectPlan], items: AsyncIterator[Item], *, options: WriteOptions
    ) -> AsyncIterator[Committed]:
        """Apply changes batch by batch; yield one `Committed` per `Mark` with per-object counts."""
        ...


def describe(value: Any) -> str:
    """A short, safe description of a value for errors."""
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."
