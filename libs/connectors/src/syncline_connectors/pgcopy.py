"""PostgreSQL COPY helpers: identifiers and literals, and a streaming parser for binary COPY rows.

The parser is used where a writer needs individual rows (Kafka records, documents, change events); PostgreSQL to
PostgreSQL passes the binary stream through untouched.
"""

import asyncio
import struct

import asyncpg

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER = len(SIGNATURE) + 8
_COUNT = struct.Struct("!h")
_LENGTH = struct.Struct("!i")

Row = tuple[bytes | None, ...]


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A PostgreSQL string literal (standard_conforming_strings on)."""
    return "'" + text.replace("'", "''") + "'"


def qualified(schema: str | None, name: str) -> str:
    """`"schema"."name"`, or the quoted name alone."""
    return f"{quote_ident(schema)}.{quote_ident(name)}" if schema else quote_ident(name)


def copy_rows(status: str) -> int:
    """The row count of a `COPY n` command status."""
    tail = status.rsplit(maxsplit=1)[-1] if status else "0"
    return int(tail) if tail.isdigit() else 0


class BinaryRowParser:
    """Splits binary COPY output (possibly several concatenated streams, cut anywhere) into rows of raw fields."""

    def __init__(self) -> None:
        self._rest = b""
        self._in_stream = False

    def feed(self, data: bytes) -> list[Row]:
        """The rows completed by `data`."""
        buf = self._rest + data if self._rest else data
        rows: list[Row] = []
        pos = self._consume(buf, 0, rows)
        self._rest = buf[pos:]
        return rows

    @property
    def pending(self) -> int:
        """Bytes of an incomplete row held back."""
        return len(self._rest)

    def _consume(self, buf: bytes, pos: int, rows: list[Row]) -> int:
        end = len(buf)
        while True:
            if not self._in_stream:
                if end - pos < _HEADER:
                    return pos
                extension = _LENGTH.unpack_from(buf, pos + len(SIGNATURE) + 4)[0]
                if end - pos < _HEADER + extension:
                    return pos
                pos += _HEADER + extension
                self._in_stream = True
            row, after = _row(buf, pos, end)
            if after < 0:
                return pos
            pos = after
            if row is None:
                self._in_stream = False
            else:
                rows.append(row)


def _row(buf: bytes, pos: int, end: int) -> tuple[Row | None, int]:
    """One row starting at `pos` and the position after it; (None, after) at a trailer; (None, -1) when cut."""
    if end - pos < 2:
        return None, -1
    count = _COUNT.unpack_from(buf, pos)[0]
    pos += 2
    if count == -1:
        return None, pos
    fields: list[bytes | None] = []
    for _ in range(count):
        if end - pos < 4:
            return None, -1
        length = _LENGTH.unpack_from(buf, pos)[0]
        pos += 4
        if length < 0:
            fields.append(None)
            continue
        if end - pos < length:
            return None, -1
        fields.append(buf[pos : pos + length])
        pos += length
    return tuple(fields), pos


async def release(conn: asyncpg.Connection, *, failed: bool) -> None:
    """Close a connector's connection. After a failure or a cancel the connection may be in the middle of a
    COPY, where a polite close can wait on the server indefinitely: it is terminated at once instead."""
    if failed:
        conn.terminate()
        return
    try:
        await asyncio.wait_for(conn.close(), timeout=10)
    except TimeoutError:
        conn.terminate()
