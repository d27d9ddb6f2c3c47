"""PostgreSQL COPY helpers: identifiers and literals, and a streaming parser for binary COPY rows.

The parser is used where a writer needs individual rows (Kafka records, documents, change events); PostgreSQL to
PostgreSQL passes the binary stream through untouched.
"""

import asyncio
import struct
from collections.abc import Coroutine
from typing import Any, TypeVar

import asyncpg

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER = len(SIGNATURE) + 8
_COUNT = struct.Struct("!h")
_LENGTH = struct.Struct("!i")

Row = tuple[bytes | None, ...]
T = TypeVar("T")


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


COPY_STOP_S = 5.0
"""How long a COPY cancelled because its connection was lost may take to end before it is left behind."""


async def copy_in(conn: asyncpg.Connection, copy: Coroutine[Any, Any, T]) -> T:
    """Run a COPY into the server (`copy`, a coroutine on `conn`), ended with `ConnectionDoesNotExistError` as soon
    as the server drops the connection.

    asyncpg waits for the socket to drain before it sends each chunk of a COPY, and a connection lost while its
    writes are paused (a server that stopped reading, then went away: a restart, a shutdown, a terminated backend)
    never wakes that wait: the COPY would wait for ever, and with it the run. A termination listener notices the
    loss and the COPY is cancelled."""
    loop = asyncio.get_running_loop()
    lost: asyncio.Future[None] = loop.create_future()

    def on_lost(_conn: object) -> None:
        if not lost.done():
            lost.set_result(None)

    conn.add_termination_listener(on_lost)
    task = asyncio.ensure_future(copy)
    task.add_done_callback(lambda t: t.cancelled() or t.exception())  # its error is read, whoever is left to
    try:
        either: set[asyncio.Future[Any]] = {task, lost}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        await _stop(task)  # cancelled from outside: the COPY ends with it, as it would had it run in this task
        raise
    finally:
        conn.remove_termination_listener(on_lost)
    if task.done():
        return task.result()
    await _stop(task)
    if task.done() and not task.cancelled() and (error := task.exception()) is not None:
        raise error  # the COPY's own error, if it ended with one
    raise asyncpg.ConnectionDoesNotExistError("the connection was lost during a COPY")


async def _stop(task: "asyncio.Future[Any]") -> None:
    """Cancel a COPY's task and give it `COPY_STOP_S` to end."""
    task.cancel()
    await asyncio.wait({task}, timeout=COPY_STOP_S)
