"""A bulk sync compiled to the data plane's `SyncSpec`, stored beside the sync (`syncs.spec`) whenever the sync or
its selection changes, so the scheduler can snapshot it for a new run (through `policy.sync_snapshots`).

Endpoint secrets stay sealed and are left out here: the snapshot view reads them from the connections.
"""

from pathlib import PurePath
from typing import Any

from syncline_connectors.spec import (
    Discover,
    Endpoint,
    FileFormat,
    Filter,
    Mode,
    NormalizeNames,
    ObjectSpec,
    SyncSpec,
)
from syncline_platform.db import Conn
from syncline_platform.errors import InvalidError
from syncline_policy import sync_repository as repo

FILTER_OPS: dict[str, str] = {
    "Equality": "=",
    "Inequality": "!=",
    "GreaterThan": ">",
    "GreaterThanEqual": ">=",
    "LessThan": "<",
    "LessThanEqual": "<=",
    "OnOrAfter": ">=",
    "OnOrBefore": "<=",
    "IsNull": "is_null",
    "IsNotNull": "not_null",
    "StringOneOf": "in",
}
"""Polytomic filter functions the data plane runs, and their `Filter.op`."""

_ENDPOINT_TYPES = {"postgresql": "postgresql", "file": "files", "kafka": "kafka"}


def endpoint(connection: dict[str, Any], *, extra: dict[str, Any]) -> Endpoint:
    """A connection as an endpoint (secrets left for the snapshot view to add)."""
    values = connection["configuration"]
    if connection["type"] == "postgresql":
        config = {
            "host": values.get("hostname"),
            "port": values.get("port") or 5432,
            "username": values.get("username"),
            "database": values.get("database"),
            "ssl_enabled": bool(values.get("ssl")),
        }
    else:
        config = dict(values)
    return Endpoint(type=_ENDPOINT_TYPES[connection["type"]], config=config | extra)


def _filter(object_id: str, item: dict[str, Any]) -> Filter:
    op = FILTER_OPS.get(item["function"])
    if op is None:
        raise InvalidError(f"schema [{object_id}]: filter function [{item['function']}] cannot run here yet")
    value = item.get("value")
    if op == "in" and not isinstance(value, list):
        value = [value]
    return Filter(field=item["field_id"], op=op, value=value)  # type: ignore[arg-type]


def object_spec(row: dict[str, Any], *, source_type: str) -> ObjectSpec:
    """One enabled selection row as the data plane's object."""
    fields = [f for f in row["fields"] if f.get("enabled", True)]
    everything = len(fields) == len(row["fields"])
    if source_type == "postgresql" and "." in row["id"]:
        schema_name, name = row["id"].split(".", 1)
    else:
        schema_name, name = None, row["id"]
    return ObjectSpec(
        name=name,
        schema_name=schema_name,
        fields=None if everything else tuple(f["id"] for f in fields),
        filters=tuple(_filter(row["id"], f) for f in row["filters"]),
        tracking_field=row["tracking_field"] or None,
        output_name=row["user_output_name"] or row["output_name"] or None,
    )


def compile_spec(
    sync: dict[str, Any], *, source: dict[str, Any], target: dict[str, Any], objects: list[dict[str, Any]]
) -> SyncSpec:
    """The spec of a bulk sync's runs."""
    target_config = dict(sync["destination_configuration"])
    file_format = target_config.pop("format", None) if target["type"] == "file" else None
    if target["type"] == "file" and target_config.get("path"):  # a sub-folder of the connection's folder
        target_config["path"] = str(PurePath(target["configuration"]["path"]) / target_config["path"])
    return SyncSpec(
        sync_id=sync["id"],
        source=endpoint(source, extra=dict(sync["source_configuration"])),
        destination=endpoint(target, extra=target_config),
        objects=tuple(object_spec(r, source_type=source["type"]) for r in objects if r["enabled"]),
        mode=Mode(sync["mode"]),
        new_objects=Discover.ALL if sync["add_new_objects"] == "all" else Discover.NONE,
        new_fields=Discover.NONE if sync["add_new_fields"] == "none" else Discover.ALL,
        normalize_names=NormalizeNames(sync["normalize_names"]),
        file_format=FileFormat(file_format) if file_format else FileFormat.JSONL,
        isolate_failures=True,
    )


async def store_spec(conn: Conn, *, org_id: str, sync_id: str) -> None:
    """Compile the stored sync and keep its spec beside it."""
    sync = await repo.get_sync(conn, org_id=org_id, sync_id=sync_id)
    assert sync is not None  # noqa: S101 - written in this transaction
    source = await repo.get_connection(conn, org_id=org_id, connection_id=sync["source_connection_id"])
    target = await repo.get_connection(conn, org_id=org_id, connection_id=sync["destination_connection_id"])
    assert source is not None  # noqa: S101 - checked in this transaction
    assert target is not None  # noqa: S101
    spec = compile_spec(sync, source=source, target=target, objects=await repo.list_objects(conn, sync_id=sync_id))
    await repo.set_spec(conn, sync_id=sync_id, spec=spec.model_dump(mode="json"))
