"""Polytomic's compiler: a bulk sync → the data plane's `SyncSpec`, kept in `policy.sync_specs` whenever the sync,
its selection or one of its connections changes, so the scheduler can snapshot it for a new run.

`compile_spec` leaves endpoint secrets out; `store_spec` seals them in from the connections (so a changed password
reaches the next run: updating a connection compiles its syncs again). Bulk syncs run one way whatever the job
type, so their spec is stored for full jobs, the only ones they make.
"""

import re
from datetime import datetime
from pathlib import PurePath
from typing import Any

from syncline_connectors.connection_types import endpoint_of
from syncline_connectors.files import relative_name
from syncline_connectors.spec import (
    Discover,
    Endpoint,
    FileFormat,
    Filter,
    Mode,
    NormalizeNames,
    ObjectSpec,
    RecordTimestamps,
    SyncSpec,
)
from syncline_contracts.status import JobType
from syncline_platform.db import Conn
from syncline_platform.errors import InvalidError
from syncline_policy import sync_repository as repo
from syncline_policy.compilers import Compiled, store

RECORD_TIMESTAMPS = RecordTimestamps(created="_polytomic_created_at", updated="_polytomic_updated_at")
"""Polytomic's names for the columns a bulk sync records a row's first and last write in (unless the sync sets
`disable_record_timestamps`)."""
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

FILE_OBJECTS = {"object_per": "file"}
"""A folder source's schemas are its files (Polytomic's schema ids are their paths): the source side's keys that
say so, for runs and for discovery alike."""


def endpoint(connection: dict[str, Any], *, extra: dict[str, Any]) -> Endpoint:
    """A connection as one side of a sync (secrets sealed in by `store_spec`): the endpoint that checks and
    discovery open too (`connection_types.endpoint_of`)."""
    return endpoint_of(connection["type"], connection["configuration"], extra=extra)


def source_extra(connection_type: str) -> dict[str, str]:
    """The source side's keys a bulk sync's runs and its discovery share."""
    return dict(FILE_OBJECTS) if connection_type == "file" else {}


def _filter(object_id: str, item: dict[str, Any]) -> Filter:
    op = FILTER_OPS.get(item["function"])
    if op is None:
        raise InvalidError(f"schema [{object_id}]: filter function [{item['function']}] cannot run here yet")
    value = item.get("value")
    if op == "in" and not isinstance(value, list):
        value = [value]
    return Filter(field=item["field_id"], op=op, value=value)  # type: ignore[arg-type]


def _cutoff(row: dict[str, Any], *, default: datetime | None) -> tuple[Filter, ...]:
    """The data cutoff as a filter on the tracking field: the schema's own cutoff, else the sync's (unless the
    schema disables it). A record's age is its tracking field: a schema without one has no cutoff to apply, so its
    own cutoff is refused and the sync's passes it by."""
    own = row.get("data_cutoff_timestamp")
    cutoff = own or (None if row.get("disable_data_cutoff") else default)
    if cutoff is None:
        return ()
    if not row["tracking_field"]:
        if own is not None:
            raise InvalidError(f"schema [{row['id']}]: data_cutoff_timestamp needs a tracking_field")
        return ()
    return (Filter(field=row["tracking_field"], op=">=", value=cutoff.isoformat()),)


def object_spec(row: dict[str, Any], *, source_type: str, cutoff: datetime | None = None) -> ObjectSpec:
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
        filters=(*(_filter(row["id"], f) for f in row["filters"]), *_cutoff(row, default=cutoff)),
        tracking_field=row["tracking_field"] or None,
        output_name=row["user_output_name"] or row["output_name"] or None,
        obfuscated=tuple(f["id"] for f in fields if f.get("obfuscated")),
    )


MAX_CONCURRENCY = 8
"""The most objects one run moves at once, whatever a sync asks for (each mover holds a connection to each side)."""


def _concurrency(limit: int | None) -> int | None:
    return None if not limit else max(1, min(int(limit), MAX_CONCURRENCY))


SLOT_NAME = re.compile(r"[a-z0-9_]{1,63}")
"""What PostgreSQL accepts as a replication slot name."""


def _source_configuration(sync: dict[str, Any]) -> dict[str, Any]:
    config = dict(sync["source_configuration"])
    slot = config.get("replication_slot")
    if slot is not None and not (isinstance(slot, str) and SLOT_NAME.fullmatch(slot)):
        raise InvalidError("source_configuration.replication_slot: 1-63 lower-case letters, digits or _")
    return config


def compile_spec(
    sync: dict[str, Any], *, source: dict[str, Any], target: dict[str, Any], objects: list[dict[str, Any]]
) -> SyncSpec:
    """The spec of a bulk sync's runs."""
    target_config = dict(sync["destination_configuration"])
    file_format = target_config.pop("format", None) if target["type"] == "file" else None
    if target["type"] == "file" and target_config.get("path"):  # a sub-folder of the connection's folder
        sub_folder = relative_name(target_config["path"], what="destination_configuration.path")
        target_config["path"] = str(PurePath(target["configuration"]["path"]) / sub_folder)
    specs = tuple(
        object_spec(r, source_type=source["type"], cutoff=sync.get("data_cutoff_timestamp"))
        for r in objects
        if r["enabled"]
    )
    if target["type"] == "file":  # each object's files go to a folder named by its output: it stays inside
        for o in specs:
            schema_id = f"{o.schema_name}.{o.name}" if o.schema_name else o.name
            relative_name(o.output_name or o.name, what=f"schema [{schema_id}]: output_name")
    return SyncSpec(
        sync_id=sync["id"],
        source=endpoint(source, extra=_source_configuration(sync) | source_extra(source["type"])),
        destination=endpoint(target, extra=target_config),
        objects=specs,
        mode=Mode(sync["mode"]),
        new_objects=Discover.ALL if sync["add_new_objects"] == "all" else Discover.NONE,
        new_fields=Discover.NONE if sync["add_new_fields"] == "none" else Discover.ALL,
        normalize_names=NormalizeNames(sync["normalize_names"]),
        file_format=FileFormat(file_format) if file_format else FileFormat.JSONL,
        isolate_failures=True,
        concurrency=_concurrency(sync.get("concurrency_limit")) or 1,
        resync_concurrency=_concurrency(sync.get("resync_concurrency_limit")),
        record_timestamps=None if sync.get("disable_record_timestamps") else RECORD_TIMESTAMPS,
    )


def _sealed(endpoint: Endpoint, connection: dict[str, Any]) -> Endpoint:
    return endpoint.model_copy(update={"sealed_secrets": dict(connection["sealed_secrets"])})


async def store_spec(conn: Conn, *, org_id: str, sync_id: str) -> None:
    """Compile the stored sync, its connections' secrets sealed in, and keep its spec for its runs."""
    sync = await repo.get_sync(conn, org_id=org_id, sync_id=sync_id)
    assert sync is not None  # noqa: S101 - written in this transaction
    source = await repo.get_connection(conn, org_id=org_id, connection_id=sync["source_connection_id"])
    target = await repo.get_connection(conn, org_id=org_id, connection_id=sync["destination_connection_id"])
    assert source is not None  # noqa: S101 - checked in this transaction
    assert target is not None  # noqa: S101
    spec = compile_spec(sync, source=source, target=target, objects=await repo.list_objects(conn, sync_id=sync_id))
    spec = spec.model_copy(
        update={"source": _sealed(spec.source, source), "destination": _sealed(spec.destination, target)}
    )
    compiled = Compiled(
        dialect=sync["dialect"],
        definition={"id": sync["id"], "name": sync["name"], "dialect": sync["dialect"]},
        specs={JobType.FULL.value: spec},
    )
    await store(conn, org_id=org_id, sync_id=sync_id, compiled=compiled)
