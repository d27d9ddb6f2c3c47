"""A bulk sync's selection: one row per source object (enabled or not) with its field choices, filters and
output names, built from what discovery found, what is stored, and what the command asks for."""

import re
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from syncline_connectors.capabilities import ObjectInfo
from syncline_contracts.syncs import BulkSyncObject, ObjectField
from syncline_platform.errors import InvalidError
from syncline_policy.errors import SchemaNotFoundError

FILTER_FUNCTIONS = frozenset(
    {
        "Equality",
        "Inequality",
        "IsNull",
        "IsNotNull",
        "True",
        "False",
        "OnOrAfter",
        "OnOrBefore",
        "GreaterThan",
        "GreaterThanEqual",
        "LessThan",
        "LessThanEqual",
        "StringContains",
        "StringStartsWith",
        "StringEndsWith",
        "StringDoesNotContain",
        "StringDoesNotStartWith",
        "StringDoesNotEndWith",
        "StringOneOf",
        "StringNotOneOf",
        "Between",
        "ArrayContains",
        "ArrayDoesNotContain",
        "InTheLast",
        "RelativeOnOrBefore",
        "RelativeOnOrAfter",
        "StringLike",
        "StringNotLike",
        "StringMatchesTrimmed",
    }
)
"""Polytomic's filter functions."""

_NOT_NAME = re.compile(r"[^a-z0-9_]+")


def output_name(name: str, *, normalize: str) -> str:
    """A name as the destination gets it: `enabled` lower-cases and replaces anything but [a-z0-9_] with `_`,
    `legacy` only lower-cases, `disabled` keeps it."""
    if normalize == "disabled":
        return name
    if normalize == "legacy":
        return name.lower()
    return _NOT_NAME.sub("_", name.lower()).strip("_") or "_"


def base_name(object_id: str, *, source_type: str) -> str:
    """The part of an object id that names its output: the table of `schema.table`, the stem of a file."""
    if source_type == "file":
        stem = object_id.rsplit(".", 1)[0] if "." in object_id.rsplit("/", 1)[-1] else object_id
        return stem.replace("/", "_")
    return object_id.rsplit(".", 1)[-1]


def new_row(found: ObjectInfo, *, position: int, enabled: bool) -> dict[str, Any]:
    """The row of an object discovery found and the sync did not know: every field enabled. Its id is the
    object's key (`schema.table`, or a file's path in its folder)."""
    return {
        "id": found.key,
        "position": position,
        "enabled": enabled,
        "output_name": "",
        "user_output_name": "",
        "partition_key": "",
        "tracking_field": "",
        "data_cutoff_timestamp": None,
        "disable_data_cutoff": False,
        "history_enabled": False,
        "fields": [
            {"id": c.name, "enabled": True, "obfuscated": False, "user_output_name": "", "output_name": ""}
            for c in found.columns
        ],
        "filters": [],
    }


def merge_discovered(rows: list[dict[str, Any]], discovered: Sequence[ObjectInfo]) -> list[dict[str, Any]]:
    """Stored rows plus objects (and fields of known objects) discovery found since; new ones start disabled."""
    by_id = {r["id"]: r for r in rows}
    merged = [dict(r) for r in rows]
    for found in discovered:
        row = by_id.get(found.key)
        if row is None:
            merged.append(new_row(found, position=len(merged), enabled=False))
            continue
        known = {f["id"] for f in row["fields"]}
        extra = [
            {"id": c.name, "enabled": True, "obfuscated": False, "user_output_name": "", "output_name": ""}
            for c in found.columns
            if c.name not in known
        ]
        if extra:
            target = next(m for m in merged if m["id"] == found.key)
            target["fields"] = [*row["fields"], *extra]
    return merged


def _field_ids(row: dict[str, Any]) -> set[str]:
    return {f["id"] for f in row["fields"]}


def _known_field(row: dict[str, Any], field_id: str, *, what: str) -> str:
    if field_id and field_id not in _field_ids(row):
        raise InvalidError(f"schema [{row['id']}]: {what} [{field_id}] is not a field of it")
    return field_id


def _apply_fields(row: dict[str, Any], changes: Sequence[ObjectField]) -> None:
    fields = {f["id"]: dict(f) for f in row["fields"]}
    for change in changes:
        current = fields.get(change.id)
        if current is None:
            raise InvalidError(f"schema [{row['id']}]: field [{change.id}] is not a field of it")
        for attr in ("enabled", "obfuscated", "user_output_name"):
            value = getattr(change, attr)
            if value is not None:
                current[attr] = value
    row["fields"] = [fields[f["id"]] for f in row["fields"]]


def _apply_filters(row: dict[str, Any], change: BulkSyncObject) -> None:
    filters = []
    for item in change.filters or ():
        if item.function not in FILTER_FUNCTIONS:
            raise InvalidError(f"schema [{row['id']}]: unknown filter function [{item.function}]")
        if not item.field_id:
            raise InvalidError(f"schema [{row['id']}]: a filter needs a field_id")
        _known_field(row, item.field_id, what="filter field")
        filters.append(item.model_dump(mode="json"))
    row["filters"] = filters


def apply_change(row: dict[str, Any], change: BulkSyncObject, *, default_enabled: bool | None = None) -> None:
    """Apply one object's requested configuration to its row; values left out (None) keep theirs."""
    enabled = change.enabled if change.enabled is not None else default_enabled
    if enabled is not None:
        row["enabled"] = enabled
    if change.partition_key is not None:
        row["partition_key"] = _known_field(row, change.partition_key, what="partition_key")
    if change.tracking_field is not None:
        row["tracking_field"] = _known_field(row, change.tracking_field, what="tracking_field")
    if change.user_output_name is not None:
        row["user_output_name"] = change.user_output_name
    if change.data_cutoff_timestamp is not None:
        cutoff = change.data_cutoff_timestamp
        row["data_cutoff_timestamp"] = cutoff if cutoff.tzinfo else cutoff.replace(tzinfo=UTC)
    for attr in ("disable_data_cutoff", "history_enabled"):
        value = getattr(change, attr)
        if value is not None:
            row[attr] = value
    if change.fields is not None:
        _apply_fields(row, change.fields)
    if change.filters is not None:
        _apply_filters(row, change)


def select(rows: list[dict[str, Any]], requested: Sequence[BulkSyncObject] | None) -> list[dict[str, Any]]:
    """The rows with a requested selection applied: listed objects enabled (unless they say otherwise) and
    configured, the others disabled; None keeps the rows as they are."""
    if not requested:
        return rows
    by_id = {r["id"]: r for r in rows}
    unknown = [c.id for c in requested if c.id not in by_id]
    if unknown:
        raise InvalidError(f"schema [{unknown[0]}] is not an object of the source connection")
    listed = {c.id for c in requested}
    for row in rows:
        if row["id"] not in listed:
            row["enabled"] = False
    for change in requested:
        apply_change(by_id[change.id], change, default_enabled=True)
    return rows


def configure(rows: list[dict[str, Any]], changes: Sequence[BulkSyncObject], *, sync_id: str) -> list[dict[str, Any]]:
    """PATCH/PUT of objects: each named object must exist; values left out keep theirs."""
    by_id = {r["id"]: r for r in rows}
    for change in changes:
        row = by_id.get(change.id)
        if row is None:
            raise SchemaNotFoundError(sync_id=sync_id, schema_id=change.id)
        apply_change(row, change)
    return rows


def name_outputs(rows: list[dict[str, Any]], *, normalize: str, source_type: str) -> list[dict[str, Any]]:
    """Compute every object's and field's output name from overrides and the naming rule."""
    for position, row in enumerate(rows):
        row["position"] = position
        row["output_name"] = output_name(
            row["user_output_name"] or base_name(row["id"], source_type=source_type), normalize=normalize
        )
        row["fields"] = [
            f | {"output_name": output_name(f["user_output_name"] or f["id"], normalize=normalize)}
            for f in row["fields"]
        ]
    return rows
