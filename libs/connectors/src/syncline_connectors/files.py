"""Local folders as a source (CSV and JSON lines, read recursively with include/exclude patterns) and as a
destination (JSON lines, CSV, Parquet).

Every folder lies inside one files root (`SYNCLINE_FILES__ROOT`): a connection's path is resolved against it,
symlinks followed, and refused when it lands outside (`confined`); an object's output folder must stay inside its
destination folder, and a file that is a symlink out of the source folder is not read.

Source objects are folders below the connection's folder (`object_per="folder"`): every matching file below a
folder belongs to it, read in path order, one batch per file, so a resumed run continues after the last whole file.
With `object_per="file"`, each file below the folder (Parquet too) is an object of its own, named by its path
relative to the folder, its fields those of its header (CSV), first line (JSON lines) or schema (Parquet).

A destination object is one file per run, `<folder>/<object>/<run id>.<ext>`, written under a temporary name and
renamed once complete: readers never see a partial file, and a retried run rewrites the same name. Each
object folder keeps a manifest per sync (`.syncline-<digest>.written`) of the files that sync wrote there, recorded
before each file takes its name; `rebuild` removes only those, never a file someone else put in the folder.
Obfuscated fields of source rows are replaced by the hex SHA-256 of the value's PostgreSQL text form (`pg_text`),
so a value hashes the same whether it is read from a file or from a PostgreSQL table.
"""

import asyncio
import contextlib
import csv
import fnmatch
import hashlib
import io
import json
import math
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import IO, Any, Literal, Self, get_args

from syncline_connectors.capabilities import (
    Column,
    Committed,
    Emit,
    Encoding,
    Item,
    Mark,
    ObjectInfo,
    ObjectOutcome,
    ObjectPlan,
    Piece,
    Position,
    RecordShape,
    WriteOptions,
)
from syncline_connectors.row_filters import matches
from syncline_connectors.spec import FileFormat
from syncline_connectors.stream import batches
from syncline_platform.errors import InvalidError, UnavailableError

SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
FILE_SUFFIXES = {**SUFFIXES, ".parquet": "parquet"}
"""What an object of its own may be (`object_per="file"`): Parquet files too."""
ObjectPer = Literal["folder", "file"]
ROWS_PER_PIECE = 5000
SAMPLE_ROWS = 1000


def confined(root: Path, path: str | Path, *, what: str = "path", inside: str = "the files root") -> Path:
    """`path` (relative to `root`, or absolute) resolved with its symlinks followed; an InvalidError unless it is
    `root` itself or lies below it (so `/`, an absolute folder elsewhere and any `..` or symlink out are refused)."""
    text = str(path)
    if "\x00" in text:
        raise InvalidError(f"{what} must not contain a NUL character")
    try:
        base = root.resolve()
        target = (base / path).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
        raise InvalidError(f"{what} [{text}] cannot be resolved: {exc}") from exc
    if not target.is_relative_to(base):
        raise InvalidError(
            f"{what} [{text}] is outside {inside}: give a folder inside it (a relative path, or an absolute one "
            "that stays inside it once .. and symlinks are followed)"
        )
    return target


def relative_name(value: str, *, what: str) -> str:
    """`value` as a name below a folder, judged without touching the disk: relative and without `..` (where it
    lands after symlinks is checked again when it is used)."""
    pure = PurePosixPath(value)
    if "\x00" in value or pure.is_absolute() or ".." in pure.parts:
        raise InvalidError(f"{what} [{value}] must stay inside its folder: a relative path without [..]")
    return value


@dataclass(frozen=True)
class FilesConfig:
    """A local folder and the patterns that select its files (matched against paths relative to the folder)."""

    path: str
    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()
    object_per: ObjectPer = "folder"
    """What one source object is: a sub-folder with its files, or one file."""

    @classmethod
    def from_values(cls, values: dict[str, Any], *, root: Path) -> "FilesConfig":
        """From configuration values, the path resolved inside the files `root` (InvalidError when it is not)."""
        if not values.get("path"):
            raise InvalidError("a files endpoint needs a path")
        object_per: ObjectPer = "file" if values.get("object_per") == "file" else "folder"
        if values.get("object_per") not in (None, *get_args(ObjectPer)):
            raise InvalidError(f"object_per must be one of {', '.join(get_args(ObjectPer))}")
        return cls(
            path=str(confined(root, str(values["path"]))),
            include=tuple(values.get("include") or ("*",)),
            exclude=tuple(values.get("exclude") or ()),
            object_per=object_per,
        )


class FilesSource:
    """Reads CSV and JSON-lines files below a folder. Use as an async context manager."""

    encodings = frozenset({Encoding.ROWS})

    def __init__(self, config: FilesConfig) -> None:
        self.config = config
        self.root = Path(config.path).resolve()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def check(self) -> None:
        """The root is a folder this process may list and read."""
        if not self.root.is_dir():
            raise UnavailableError(dependency=f"folder {self.root.name}", detail="it does not exist")
        if not os.access(self.root, os.R_OK | os.X_OK):
            raise UnavailableError(dependency=f"folder {self.root.name}", detail="it is not readable")

    @property
    def _suffixes(self) -> dict[str, str]:
        return FILE_SUFFIXES if self.config.object_per == "file" else SUFFIXES

    def files(self, name: str) -> list[Path]:
        """The matching files of an object (a folder, or a file, relative to the root), in path order."""
        base = self.root if name in (".", "") else confined(self.root, name, what="object", inside="the folder")
        found = []
        for path in [base] if base.is_file() else sorted(base.rglob("*")):
            rel = path.relative_to(self.root).as_posix()
            if not path.is_file() or path.suffix.lower() not in self._suffixes or path.name.startswith("."):
                continue
            if not path.resolve().is_relative_to(self.root):  # a link out of the folder
                continue
            if not any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(path.name, p) for p in self.config.include):
                continue
            if any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(path.name, p) for p in self.config.exclude):
                continue
            found.append(path)
        return found

    def _shown(self, path: Path) -> str:
        """A file's name as errors show it: relative to the connection's folder (the server's paths stay hidden)."""
        return path.relative_to(self.root).as_posix()

    async def discover(self) -> list[ObjectInfo]:
        """One object per sub-folder holding matching files (the root itself when it has no sub-folders)."""
        return await asyncio.to_thread(self._discover)

    def _discover(self) -> list[ObjectInfo]:
        if self.config.object_per == "file":
            return [
                ObjectInfo(schema=None, name=self._shown(p), columns=_file_columns(p), primary_key=())
                for p in self.files(".")
            ]
        folders = sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and p.resolve().is_relative_to(self.root) and self.files(p.name)
        )
        names = folders or ["."]
        return [ObjectInfo(schema=None, name=n, columns=self._columns(n), primary_key=()) for n in names]

    def _columns(self, folder: str) -> tuple[Column, ...]:
        types: dict[str, set[str]] = {}
        sampled = 0
        for path in self.files(folder):
            for row in _rows(path, shown=self._shown(path)):
                for key, value in row.items():
                    types.setdefault(key, set()).add(_kind(value))
                sampled += 1
                if sampled >= SAMPLE_ROWS:
                    break
            if sampled >= SAMPLE_ROWS:
                break
        return tuple(Column(name=k, type=_pg_type(v)) for k, v in types.items())

    async def read_snapshot(
        self, plan: ObjectPlan, *, after: Position | None, encoding: Encoding, shape: RecordShape | None, emit: Emit
    ) -> None:
        """Rows of every file after `after["file"]`, a mark after each file."""
        done = (after or {}).get("file")
        project = _projection(plan)
        for path in self.files(plan.name):
            rel = path.relative_to(self.root).as_posix()
            if done is not None and rel <= done:
                continue
            rows = 0
            chunks = _chunks(path, shown=rel)
            while chunk := await asyncio.to_thread(next, chunks, None):
                kept = [project(r) for r in chunk if matches(r, plan.filters)]
                rows += len(kept)
                if kept:
                    await emit(Piece(kept, rows=len(kept)))
            await emit(Mark(position={"file": rel}, rows=rows))

    async def sample(self, plan: ObjectPlan, *, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` rows of the object's files that pass its filters."""
        project = _projection(plan)

        def first() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            for path in self.files(plan.name):
                for row in _rows(path, shown=self._shown(path)):
                    if matches(row, plan.filters):
                        found.append(project(row))
                    if len(found) >= limit:
                        return found
            return found

        return await asyncio.to_thread(first)


def _projection(plan: ObjectPlan) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A row of a file as the plan's fields, obfuscated ones hashed (filters see the clear values before)."""
    names = [c.name for c in plan.columns]
    hidden = frozenset(plan.obfuscated)

    def project(row: dict[str, Any]) -> dict[str, Any]:
        return {n: obfuscated(row.get(n)) if n in hidden else row.get(n) for n in names}

    return project


def obfuscated(value: Any) -> str | None:
    """The lower-case hex SHA-256 of the value's PostgreSQL text form; None stays None."""
    return None if value is None else hashlib.sha256(pg_text(value).encode()).hexdigest()


def pg_text(value: Any) -> str:
    """The text PostgreSQL prints for a value decoded from a file (booleans, floats, JSON as `jsonb`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict | list):
        return _jsonb_text(value)
    return str(value)


def _float_text(value: float) -> str:
    """`double precision` output: the shortest exact digits, fixed-point for exponents -4 to 14."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    digits = Decimal(repr(value)).normalize()
    exponent = digits.adjusted()
    if -4 <= exponent < 15:  # PostgreSQL's thresholds
        return format(digits, "f")
    sign, figures, _ = digits.as_tuple()
    mantissa = "".join(map(str, figures))
    mantissa = mantissa[0] + (f".{mantissa[1:]}" if len(mantissa) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def _jsonb_text(value: Any) -> str:
    """`jsonb` output: keys by length then bytes, `, ` and `: ` separators, numbers as `numeric` prints them."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: (len(kv[0].encode()), kv[0].encode()))
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {_jsonb_text(v)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_jsonb_text(v) for v in value) + "]"
    if isinstance(value, float) and math.isfinite(value):
        return format(Decimal(repr(value)), "f")
    return json.dumps(value, ensure_ascii=False)


def _file_columns(path: Path) -> tuple[Column, ...]:
    """A file's fields as its header (CSV: text), first line (JSON lines: typed by its values) or schema (Parquet)
    gives them; an InvalidError naming the file when its content cannot be read as its kind."""
    try:
        if path.suffix.lower() == ".parquet":
            from syncline_connectors import parquet  # noqa: PLC0415 - Arrow is large; loaded only when used

            return tuple(Column(name=n, type=t, native_type=native) for n, t, native in parquet.fields_of(path))
        with path.open(newline="", encoding="utf-8") as handle:
            if FILE_SUFFIXES[path.suffix.lower()] == "csv":
                return tuple(Column(name=n, type="text") for n in next(csv.reader(handle), []))
            first = next((line for line in handle if line.strip()), "{}")
            return tuple(Column(name=str(k), type=_pg_type({_kind(v)})) for k, v in _object(json.loads(first)).items())
    except OSError as exc:
        raise UnavailableError(dependency=f"file {path.name}", detail=exc.strerror or str(exc)) from exc
    except (csv.Error, ValueError) as exc:  # the file's content: a broken rule of the folder, not an outage
        raise InvalidError(f"cannot read file [{path.name}]: {file_problem(exc)}") from exc


def _rows(path: Path, *, shown: str) -> Iterator[dict[str, Any]]:
    """The file's rows; an InvalidError naming the file (as `shown`) and the line when it cannot be read: a CSV
    field (a header included) longer than the csv module's limit (128 KiB), malformed JSON, text not UTF-8."""
    if path.suffix.lower() == ".parquet":
        from syncline_connectors import parquet  # noqa: PLC0415 - Arrow is large; loaded only when used

        yield from parquet.rows_of(path)
        return
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle) if SUFFIXES[path.suffix.lower()] == "csv" else None
        line = 0
        try:
            if reader is not None:
                yield from reader
                return
            for line, text in enumerate(handle, start=1):  # noqa: B007 - the except clause reads it
                if text.strip():
                    yield _object(json.loads(text))
        except (csv.Error, ValueError) as exc:  # ValueError: JSONDecodeError, UnicodeDecodeError
            where = max(reader.line_num if reader is not None else line, 1)
            at = "" if isinstance(exc, UnicodeDecodeError) else f" at line {where}"  # decoded in chunks: no line
            raise InvalidError(f"cannot read file [{shown}]{at}: {file_problem(exc)}") from exc


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("a line is not a JSON object")
    return value


def file_problem(exc: Exception) -> str:
    """What a `csv.Error` or `ValueError` met while reading a data file says, in a tenant's words."""
    if isinstance(exc, csv.Error) and "field limit" in str(exc):
        return f"a CSV field or header is longer than {csv.field_size_limit()} characters"
    if isinstance(exc, UnicodeDecodeError):
        return "the file is not UTF-8 text"
    return str(exc)


def _chunks(path: Path, *, shown: str) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in _rows(path, shown=shown):
        chunk.append(row)
        if len(chunk) >= ROWS_PER_PIECE:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, float):
        return "double precision"
    if isinstance(value, dict | list):
        return "jsonb"
    return "text"


def _pg_type(kinds: set[str]) -> str:
    kinds = kinds - {"null"}
    if not kinds:
        return "text"
    if len(kinds) == 1:
        return kinds.pop()
    if kinds <= {"bigint", "double precision"}:
        return "double precision"
    return "jsonb" if "jsonb" in kinds else "text"


# destination --------------------------------------------------------------------------------------------------


@dataclass
class _OpenFile:
    final: Path
    temp: Path
    rows: int = 0
    handle: IO[bytes] | None = None
    parquet: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class FilesDestination:
    """Writes one file per object and run below a folder, recording each in the sync's manifest of that object's
    folder. Use as an async context manager."""

    shape = None

    def __init__(self, config: FilesConfig, *, file_format: FileFormat, run_id: str, sync_id: str) -> None:
        self.root = Path(config.path).resolve()
        self.format = file_format
        self.run_id = run_id
        self.manifest_name = f".syncline-{hashlib.sha256(sync_id.encode()).hexdigest()[:16]}.written"
        self.accepts = {
            FileFormat.JSONL: (Encoding.JSONL, Encoding.ROWS),
            FileFormat.CSV: (Encoding.CSV, Encoding.ROWS),
            FileFormat.PARQUET: (Encoding.CSV, Encoding.ROWS),
        }[file_format]
        self._open: dict[str, _OpenFile] = {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for key in list(self._open):
            self._discard(key)

    async def check(self) -> None:
        """The root exists or can be created."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UnavailableError(dependency=f"folder {self.root}", detail=str(exc)) from exc

    def path_for(self, output: str) -> Path:
        """The file an object gets in this run; InvalidError when the output would leave the folder."""
        folder = confined(self.root, output, what="output name", inside="the destination folder")
        return folder / f"{self.run_id}.{self.format.value}"

    async def open_object(self, plan: ObjectPlan, *, options: WriteOptions, resume: Position | None) -> Position | None:
        """Start the object's temporary file; a file is rewritten whole, so nothing is resumed."""
        final = self.path_for(plan.output)
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.with_name(f".{final.name}.tmp")
        opened = _OpenFile(final=final, temp=temp, extra={"rebuild": bool(options.extra.get("rebuild"))})
        if self.format is FileFormat.PARQUET:
            from syncline_connectors import parquet  # noqa: PLC0415 - Arrow is large; loaded only when used

            opened.parquet = parquet.ParquetSink(temp, parquet.schema_of(plan))
        else:
            opened.handle = temp.open("wb")
            if self.format is FileFormat.CSV:
                opened.handle.write(_csv_line(list(plan.output_columns)))
        self._open[plan.key] = opened
        return None

    def write(self, plan: ObjectPlan, items: AsyncIterator[Item], *, encoding: Encoding) -> AsyncIterator[Committed]:
        """Append every piece to the temporary file."""
        return self._write(plan, items, encoding)

    async def _write(
        self, plan: ObjectPlan, items: AsyncIterator[Item], encoding: Encoding
    ) -> AsyncIterator[Committed]:
        opened = self._open[plan.key]
        async for batch in batches(items):
            size = 0
            async for piece in batch.pieces():
                size += await self._append(plan, opened, piece, encoding)
            opened.rows += batch.mark.rows
            yield Committed(position=batch.mark.position, rows=batch.mark.rows, bytes=size)

    async def _append(self, plan: ObjectPlan, opened: _OpenFile, piece: Piece, encoding: Encoding) -> int:
        if encoding is Encoding.ROWS:
            rows = [
                {o: r.get(c.name) for c, o in zip(plan.columns, plan.output_columns, strict=True)} for r in piece.data
            ]
            if opened.parquet is not None:
                return int(await opened.parquet.write_rows(rows))
            data = _jsonl(rows) if self.format is FileFormat.JSONL else _csv_rows(rows, plan.output_columns)
        else:
            data = piece.data
        if opened.parquet is not None:
            await opened.parquet.feed(data)
        elif opened.handle is not None:
            opened.handle.write(data)
        return len(data)

    async def close_object(self, plan: ObjectPlan) -> ObjectOutcome:
        """Flush, sync and rename the temporary file to its final name."""
        opened = self._open.pop(plan.key)
        if opened.parquet is not None:
            await opened.parquet.close()
        elif opened.handle is not None:
            opened.handle.flush()
            os.fsync(opened.handle.fileno())
            opened.handle.close()
        manifest = Manifest(opened.final.parent / self.manifest_name)
        manifest.record(opened.final.name)  # before the file takes its name: a crash in between leaves no stranger
        opened.temp.replace(opened.final)
        if opened.extra["rebuild"]:  # the object is this run's file alone: the sync's earlier files go, no other
            manifest.keep_only(opened.final.name)
        return ObjectOutcome(total=opened.rows)

    async def abort_object(self, plan: ObjectPlan) -> None:
        """Remove the temporary file."""
        self._discard(plan.key)

    def _discard(self, key: str) -> None:
        opened = self._open.pop(key, None)
        if opened is None:
            return
        if opened.handle is not None:
            opened.handle.close()
        if opened.parquet is not None:
            opened.parquet.abandon()
        with contextlib.suppress(FileNotFoundError):
            opened.temp.unlink()


@dataclass(frozen=True)
class Manifest:
    """The names of the files one sync wrote in one folder (JSON: `{"files": [...]}`), rewritten atomically."""

    path: Path

    def names(self) -> list[str]:
        """The recorded names (none when there is no manifest yet or it cannot be read)."""
        try:
            files = json.loads(self.path.read_text()).get("files")
        except (OSError, ValueError, AttributeError):
            return []
        return [n for n in files if isinstance(n, str)] if isinstance(files, list) else []

    def record(self, name: str) -> None:
        """Add a file name."""
        names = self.names()
        if name not in names:
            self._write([*names, name])

    def keep_only(self, name: str) -> None:
        """Remove every recorded file of this folder but `name`, and forget them."""
        for earlier in self.names():
            if earlier != name and _plain_name(earlier):  # a bare name of this folder, never a path elsewhere
                (self.path.parent / earlier).unlink(missing_ok=True)
        self._write([name])

    def _write(self, names: list[str]) -> None:
        temp = self.path.with_name(f"{self.path.name}.tmp")
        temp.write_text(json.dumps({"files": names}))
        temp.replace(self.path)


def _plain_name(name: str) -> bool:
    return (
        bool(name) and "/" not in name and "\x00" not in name and name not in (".", "..") and not name.startswith(".")
    )


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, default=str, ensure_ascii=False) + "\n" for r in rows).encode()


def _csv_line(values: list[Any]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue().encode()


def _csv_rows(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _text(row.get(c)) for c in columns])
    return out.getvalue().encode()


def _text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, dict | list) else str(value)
