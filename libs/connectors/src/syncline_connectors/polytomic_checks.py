"""Connection types as Polytomic's dialect names them, their real checks, and source discovery.

- `CONNECTION_TYPES`: each type's configuration keys (which are secret, required, typed), the bulk-sync source
  and destination configuration keys, and the destination's modes; `validate_configuration` checks values
  against them.
- `check_connection`: does the connection answer for real (PostgreSQL accepts a login, the folder exists and is
  readable, the Kafka bootstrap servers answer a metadata request)? None when it does, else why not. A folder
  outside the files root is not a failed check but a broken rule (InvalidError), whether checked or not.
- `discover`: the objects (schemas) of a source with their fields, types and primary keys, read live.
- `check_secrets_given`: a change of where a connection points must carry its stored secrets again.
"""

import asyncio
import csv
import importlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from syncline_connectors.files import confined, file_problem
from syncline_platform.errors import InvalidError

CHECK_TIMEOUT_S = 3.0
"""How long a check or a discovery may wait for the other side."""

ValueKind = Literal["string", "integer", "boolean"]


@dataclass(frozen=True)
class ConfigKey:
    """One configuration key of a connection type (or of a sync's source/destination configuration)."""

    name: str
    kind: ValueKind
    title: str
    required: bool = False
    secret: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()

    def schema(self) -> dict[str, Any]:
        """The key as a JSON Schema property."""
        prop: dict[str, Any] = {"type": self.kind, "title": self.title}
        if self.default is not None:
            prop["default"] = self.default
        if self.choices:
            prop["enum"] = list(self.choices)
        if self.secret:
            prop["format"] = "password"
        return prop


@dataclass(frozen=True)
class ConnectionType:
    """What a connection of one type is made of, and what syncs may do with it."""

    id: str
    name: str
    keys: tuple[ConfigKey, ...]
    source: bool
    destination: bool
    source_configuration: tuple[ConfigKey, ...] = ()
    destination_configuration: tuple[ConfigKey, ...] = ()
    modes: tuple[str, ...] = ()
    identity: tuple[str, ...] = ()
    """Keys that say where the secrets go (host, port, user, database): changing one needs the secrets again."""

    @property
    def secret_keys(self) -> frozenset[str]:
        """Keys whose values are sealed at rest and never echoed."""
        return frozenset(k.name for k in self.keys if k.secret)

    @property
    def operations(self) -> list[str]:
        """What syncs may do with it, in Polytomic's words."""
        return (["bulksync_source"] if self.source else []) + (["bulksync_target"] if self.destination else [])


def json_schema(keys: tuple[ConfigKey, ...]) -> dict[str, Any]:
    """A JSON Schema object for a set of keys."""
    return {
        "type": "object",
        "properties": {k.name: k.schema() for k in keys},
        "required": [k.name for k in keys if k.required],
    }


BULK_MODES = ("snapshot", "replicate")
RESYNC_MODES = ("refetch", "resync", "rebuild")
FILE_FORMATS = ("jsonl", "csv", "parquet")

CONNECTION_TYPES: dict[str, ConnectionType] = {
    "postgresql": ConnectionType(
        id="postgresql",
        name="PostgreSQL",
        keys=(
            ConfigKey("hostname", "string", "Host", required=True),
            ConfigKey("port", "integer", "Port", default=5432),
            ConfigKey("username", "string", "Username", required=True),
            ConfigKey("password", "string", "Password", secret=True),
            ConfigKey("database", "string", "Database", required=True),
            ConfigKey("ssl", "boolean", "Use SSL", default=False),
            ConfigKey("change_detection", "boolean", "Use logical replication for change detection", default=False),
            ConfigKey("publication", "string", "Publication (change detection)"),
        ),
        source=True,
        destination=True,
        source_configuration=(
            ConfigKey("replication_slot", "string", "Replication slot (replicate mode)"),
            ConfigKey("sync_lookback", "integer", "Sync lookback (minutes)"),
        ),
        destination_configuration=(ConfigKey("schema", "string", "Output schema", default="public"),),
        modes=BULK_MODES,
        identity=("hostname", "port", "username", "database"),
    ),
    "file": ConnectionType(
        id="file",
        name="Local folder",
        keys=(ConfigKey("path", "string", "Folder", required=True),),
        source=True,
        destination=True,
        destination_configuration=(
            ConfigKey("format", "string", "File format", default="jsonl", choices=FILE_FORMATS),
            ConfigKey("path", "string", "Sub-folder for this sync's files"),
        ),
        modes=BULK_MODES,
    ),
    "kafka": ConnectionType(
        id="kafka",
        name="Apache Kafka",
        keys=(ConfigKey("bootstrap_servers", "string", "Bootstrap servers", required=True),),
        source=False,
        destination=True,
        destination_configuration=(
            ConfigKey("topic_prefix", "string", "Topic prefix (one topic per object)", default=""),
            ConfigKey("format", "string", "Message format", default="json", choices=("json",)),
        ),
        modes=BULK_MODES,
    ),
}
"""Every connection type Syncline speaks Polytomic's dialect for."""


def _coerce(key: ConfigKey, value: Any) -> Any:
    if key.kind == "integer":
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"[{key.name}] must be an integer")
        return value
    if key.kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"[{key.name}] must be a boolean")
        return value
    if not isinstance(value, str):
        raise ValueError(f"[{key.name}] must be a string")
    if key.choices and value not in key.choices:
        raise ValueError(f"[{key.name}] must be one of {', '.join(key.choices)}")
    return value


def validate_configuration(
    keys: tuple[ConfigKey, ...], values: dict[str, Any], *, skip: frozenset[str] = frozenset()
) -> tuple[dict[str, Any], list[str]]:
    """The values typed and defaulted, and what is wrong with them; `skip` names keys checked elsewhere."""
    by_name = {k.name: k for k in keys}
    problems = [f"unknown configuration key [{name}]" for name in sorted(set(values) - set(by_name))]
    result: dict[str, Any] = {}
    for key in keys:
        if key.name in skip:
            continue
        value = values.get(key.name)
        if value is None or value == "":
            if key.required:
                problems.append(f"[{key.name}] is required")
            elif key.default is not None:
                result[key.name] = key.default
            continue
        try:
            result[key.name] = _coerce(key, value)
        except ValueError as exc:
            problems.append(str(exc))
    return result, problems


@dataclass(frozen=True)
class DiscoveredField:
    """A field (column) of a source object."""

    id: str
    remote_type: str
    type: str
    is_primary_key: bool = False


@dataclass(frozen=True)
class DiscoveredObject:
    """A source object (table, file) and its fields."""

    id: str
    name: str
    fields: tuple[DiscoveredField, ...] = field(default_factory=tuple)


class SourceUnavailableError(Exception):
    """The source could not be read."""


def check_secrets_given(
    kind: ConnectionType,
    *,
    before: dict[str, Any],
    after: dict[str, Any],
    stored: Iterable[str],
    given: Iterable[str],
) -> None:
    """Refuse (InvalidError) a change of where a connection points (`kind.identity`) that would keep a stored
    secret rather than carry it again, as Airbyte and Fivetran do: otherwise any key of the organisation could
    send a stored password to a server of its choosing."""
    moved = [k for k in kind.identity if _text(after.get(k)) != _text(before.get(k))]
    kept = sorted((kind.secret_keys & set(stored)) - set(given))
    if moved and kept:
        raise InvalidError(
            f"[{', '.join(kept)}] must be given again when [{', '.join(moved)}] changes: "
            "a stored secret never follows a connection elsewhere"
        )


def _text(value: Any) -> str:
    return "" if value is None else str(value)


async def check_connection(
    connection_type: str, values: dict[str, Any], *, password: str, files_root: Path
) -> str | None:
    """None when the connection answers for real; otherwise why not. InvalidError for a folder outside
    `files_root`."""
    try:
        match connection_type:
            case "postgresql":
                conn = await _pg_connect(values, password=password)
                await conn.close()
            case "file":
                _readable_folder(values, files_root=files_root)
            case "kafka":
                await _kafka_metadata(values)
            case _:
                return f"unknown connection type [{connection_type}]"
    except SourceUnavailableError as exc:
        return str(exc)
    return None


async def discover(
    connection_type: str, values: dict[str, Any], *, password: str, files_root: Path
) -> list[DiscoveredObject]:
    """The objects a source offers, read live; raises SourceUnavailableError when it does not answer, and
    InvalidError for a folder outside `files_root` or a file in it that cannot be read as its kind (a CSV header
    over the csv module's field limit, malformed JSON)."""
    match connection_type:
        case "postgresql":
            return await _pg_discover(values, password=password)
        case "file":
            return await asyncio.to_thread(_folder_discover, values, files_root=files_root)
    raise SourceUnavailableError(f"a [{connection_type}] connection cannot be a bulk sync source")


async def _pg_connect(values: dict[str, Any], *, password: str) -> asyncpg.Connection:
    where = f"{values.get('hostname')}:{values.get('port', 5432)}/{values.get('database')}"
    try:
        conn: asyncpg.Connection = await asyncpg.connect(
            host=values["hostname"],
            port=int(values.get("port") or 5432),
            user=values["username"],
            password=password or None,
            database=values["database"],
            ssl="require" if values.get("ssl") else False,
            timeout=CHECK_TIMEOUT_S,
        )
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise SourceUnavailableError(f"cannot connect to PostgreSQL at {where}: {exc}") from exc
    return conn


_PG_COLUMNS = """
SELECT c.table_schema, c.table_name, c.column_name, c.data_type, c.udt_name,
       EXISTS (
           SELECT 1 FROM information_schema.table_constraints tc
           JOIN information_schema.key_column_usage k
             ON k.constraint_name = tc.constraint_name AND k.table_schema = tc.table_schema
            AND k.table_name = tc.table_name
           WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = c.table_schema
             AND tc.table_name = c.table_name AND k.column_name = c.column_name
       ) AS is_primary_key
FROM information_schema.columns c
JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema') AND c.table_schema NOT LIKE 'pg\\_%'
  AND t.table_type IN ('BASE TABLE', 'VIEW')
ORDER BY c.table_schema, c.table_name, c.ordinal_position
"""

_PG_TYPES = (
    (("int2", "int4", "int8", "numeric", "float4", "float8", "money", "oid"), "number"),
    (("bool",), "boolean"),
    (("timestamp", "timestamptz", "date", "time", "timetz"), "datetime"),
    (("json", "jsonb"), "object"),
    (("bytea",), "binary"),
)


def _pg_field_type(data_type: str, udt_name: str) -> str:
    if data_type == "ARRAY":
        return "array"
    return next((kind for names, kind in _PG_TYPES if udt_name in names), "string")


async def _pg_discover(values: dict[str, Any], *, password: str) -> list[DiscoveredObject]:
    conn = await _pg_connect(values, password=password)
    try:
        rows = await conn.fetch(_PG_COLUMNS, timeout=CHECK_TIMEOUT_S * 4)
    finally:
        await conn.close()
    objects: dict[str, list[DiscoveredField]] = {}
    for row in rows:
        object_id = f"{row['table_schema']}.{row['table_name']}"
        objects.setdefault(object_id, []).append(
            DiscoveredField(
                id=row["column_name"],
                remote_type=row["udt_name"],
                type=_pg_field_type(row["data_type"], row["udt_name"]),
                is_primary_key=row["is_primary_key"],
            )
        )
    return [DiscoveredObject(id=oid, name=oid, fields=tuple(fields)) for oid, fields in objects.items()]


def _readable_folder(values: dict[str, Any], *, files_root: Path) -> Path:
    given = str(values.get("path") or "")
    if not given:
        raise SourceUnavailableError("a folder needs a [path]")
    folder = confined(files_root, given)
    if not folder.is_dir():
        raise SourceUnavailableError(f"folder [{given}] does not exist")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise SourceUnavailableError(f"folder [{given}] is not readable")
    return folder


async def _kafka_metadata(values: dict[str, Any]) -> None:
    servers = str(values.get("bootstrap_servers") or "")
    admin = AIOKafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=int(CHECK_TIMEOUT_S * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout=CHECK_TIMEOUT_S)
        await asyncio.wait_for(admin.list_topics(), timeout=CHECK_TIMEOUT_S)
    except (TimeoutError, OSError, KafkaError) as exc:
        raise SourceUnavailableError(f"Kafka at [{servers}] does not answer: {exc!r}") from exc
    finally:
        await admin.close()


_FILE_SUFFIXES = (".csv", ".jsonl", ".json", ".ndjson", ".parquet")


def _file_fields(path: Path) -> tuple[DiscoveredField, ...]:
    try:
        if path.suffix == ".parquet":  # pyarrow is heavy: imported only when a folder holds Parquet files
            schema = importlib.import_module("pyarrow.parquet").read_schema(path)
            return tuple(
                DiscoveredField(id=n, remote_type=str(t), type="string")
                for n, t in zip(schema.names, schema.types, strict=True)
            )
        with path.open(newline="") as handle:
            if path.suffix == ".csv":
                header = next(csv.reader(handle), [])
                return tuple(DiscoveredField(id=name, remote_type="text", type="string") for name in header)
            first = json.loads(handle.readline() or "{}")
    except OSError as exc:
        raise SourceUnavailableError(f"cannot read [{path.name}]: {exc}") from exc
    except (csv.Error, ValueError) as exc:  # the file's content: a broken rule of the folder, not an outage
        raise InvalidError(f"cannot read file [{path.name}]: {file_problem(exc)}") from exc
    return (
        tuple(DiscoveredField(id=str(k), remote_type="json", type="string") for k in first)
        if isinstance(first, dict)
        else ()
    )


def _folder_discover(values: dict[str, Any], *, files_root: Path) -> list[DiscoveredObject]:
    folder = _readable_folder(values, files_root=files_root)
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix in _FILE_SUFFIXES
        and not p.name.startswith(".")
        and p.resolve().is_relative_to(folder)  # not a symlink out of the folder
    )
    return [DiscoveredObject(id=str(p.relative_to(folder)), name=p.name, fields=_file_fields(p)) for p in files]
