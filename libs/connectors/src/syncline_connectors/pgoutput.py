"""A decoder of PostgreSQL's built-in logical replication output (`pgoutput`, protocol version 1).

`pgoutput` ships with every PostgreSQL server since 10 (managed services included) and is the only output plugin
many of them allow. The source peeks a slot's messages as one binary COPY of `bytea` rows; this module turns them
into `Change`s, one per row event, and reports each transaction's commit so the reader can cut batches there.

Values arrive as their type's text output (the same text a `::text` cast gives in the reading session), `None`
for NULL; a TOASTed value that an update did not change is absent from the new row. The decoder keeps the
relations (`R` messages) it has seen: a column added at the source arrives as a new relation message before the
first change that has it, so every change is read with the columns it was written with.
"""

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_I16 = struct.Struct("!h")
_I32 = struct.Struct("!i")
_U32 = struct.Struct("!I")
_BEGIN = struct.Struct("!QqI")
_COMMIT = struct.Struct("!bQQq")
_COLUMN = struct.Struct("!Ii")
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

OP_INSERT = "I"
OP_UPDATE = "U"
OP_DELETE = "D"
OP_TRUNCATE = "T"


@dataclass(frozen=True, slots=True)
class Relation:
    """A table as the stream describes it: its columns in order, which of them form the replica identity."""

    schema: str
    name: str
    columns: tuple[str, ...]
    key: tuple[bool, ...]
    identity: str
    """`d` default (the primary key), `f` full, `i` an index, `n` nothing."""
    key_columns: frozenset[str]
    """The replica identity's columns."""


@dataclass(frozen=True, slots=True)
class Change:
    """One row event of a committed transaction."""

    op: str
    schema: str
    table: str
    new: dict[str, str | None] | None
    """The row after an insert or update (unchanged TOAST values left out)."""
    old: dict[str, str | None] | None
    """The replica identity before an update that changed it, or before a delete: the key columns (identity
    `d`/`i`) or the whole row (identity `f`). None when the update kept the key."""
    unchanged: tuple[str, ...] = ()
    """The columns of `new` an update left as they were without sending them (TOAST values). A column absent from
    `new` and not named here did not exist when the change was written."""


@dataclass(frozen=True, slots=True)
class Commit:
    """The end of a transaction: `end_lsn` is the position after it, `at` its commit time."""

    lsn: int
    end_lsn: int
    at: datetime


def lsn_text(lsn: int) -> str:
    """`X/Y`, as PostgreSQL writes a log sequence number."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def lsn_int(text: str) -> int:
    """A log sequence number from its `X/Y` text."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def _text(buf: bytes, pos: int) -> tuple[str, int]:
    end = buf.index(0, pos)
    return buf[pos:end].decode(), end + 1


class Decoder:
    """Decodes the messages of one peek, in order. Transactions that committed before `since` are skipped
    (already applied: the slot may not have been told yet)."""

    def __init__(self, *, since: int = 0) -> None:
        self.since = since
        self.relations: dict[int, Relation] = {}
        self._skipping = False

    def feed(self, message: bytes) -> Change | Commit | list[Change] | None:
        """What one message carries: a row event, a commit, the tables of a TRUNCATE, or nothing to apply."""
        kind = message[0]
        if kind in _ROWS:  # I, U, D: by far the most of them
            return None if self._skipping else self._row(message)
        if kind == 0x42:  # B: final_lsn, commit time, xid
            self._skipping = _BEGIN.unpack_from(message, 1)[0] < self.since
        elif kind == 0x43:  # C: flags, commit lsn, end lsn, commit time
            _, lsn, end_lsn, at = _COMMIT.unpack_from(message, 1)
            if not self._skipping:
                return Commit(lsn=lsn, end_lsn=end_lsn, at=PG_EPOCH + timedelta(microseconds=at))
        elif kind == 0x52:  # R
            self._relation(message)
        elif kind == 0x54 and not self._skipping:  # T
            return self._truncate(message)
        return None  # O (origin), Y (type), M (message): nothing to apply

    def _relation(self, message: bytes) -> None:
        relid = _U32.unpack_from(message, 1)[0]
        schema, pos = _text(message, 5)
        name, pos = _text(message, pos)
        identity = chr(message[pos])
        count = _I16.unpack_from(message, pos + 1)[0]
        pos += 3
        columns, key = [], []
        for _ in range(count):
            flags = message[pos]
            column, pos = _text(message, pos + 1)
            pos += _COLUMN.size  # type oid, type modifier
            columns.append(column)
            key.append(bool(flags & 1))
        keyed = frozenset(c for c, k in zip(columns, key, strict=True) if k)
        self.relations[relid] = Relation(schema, name, tuple(columns), tuple(key), identity, keyed)

    def _row(self, message: bytes) -> Change:
        op = _OPS[message[0]]
        relation = self.relations[_U32.unpack_from(message, 1)[0]]
        old = None
        pos = 5
        if message[5] in (0x4B, 0x4F):  # K (identity columns only) or O (the whole old row)
            old, pos, _ = _tuple(message, 6, relation.columns)
            if message[5] == 0x4B:
                old = {c: v for c, v in old.items() if c in relation.key_columns}
        if op == OP_DELETE:
            return Change(op, relation.schema, relation.name, None, old)
        new, _, unchanged = _tuple(message, pos + 1, relation.columns)  # after N
        return Change(op, relation.schema, relation.name, new, old, unchanged)

    def _truncate(self, message: bytes) -> list[Change]:
        count = _I32.unpack_from(message, 1)[0]
        changes = []
        for i in range(count):
            relation = self.relations.get(_U32.unpack_from(message, 6 + 4 * i)[0])
            if relation is not None:
                changes.append(Change(OP_TRUNCATE, relation.schema, relation.name, None, None))
        return changes


_ROWS = frozenset(b"IUD")
_OPS = {0x49: OP_INSERT, 0x55: OP_UPDATE, 0x44: OP_DELETE}


def _tuple(buf: bytes, pos: int, columns: tuple[str, ...]) -> tuple[dict[str, str | None], int, tuple[str, ...]]:
    """One TupleData: the values by column name (unchanged TOAST values left out), the position after it and the
    unchanged TOAST columns."""
    count = (buf[pos] << 8) | buf[pos + 1]
    pos += 2
    values: dict[str, str | None] = {}
    unchanged: tuple[str, ...] = ()
    unpack = _I32.unpack_from
    for i in range(count):
        kind = buf[pos]
        if kind == 0x74:  # t: text
            start = pos + 5
            pos = start + unpack(buf, pos + 1)[0]
            values[columns[i]] = buf[start:pos].decode()
        elif kind == 0x6E:  # n: null
            values[columns[i]] = None
            pos += 1
        elif kind == 0x75:  # u: unchanged TOAST
            unchanged += (columns[i],)
            pos += 1
        else:  # b: binary, which we never ask for
            raise ValueError(f"pgoutput: unexpected tuple value kind {kind!r}")
    return values, pos, unchanged
