"""Policy's rows as Polytomic's response objects, typed exactly as the official SDK's models parse them
(times are ISO-8601 strings, schedule fields strings, actors `{id, name, type}`)."""

from datetime import UTC, datetime
from typing import Any

from syncline_connectors.capabilities import Column, ObjectInfo
from syncline_connectors.connection_types import CONNECTION_TYPES, ConnectionType, json_schema
from syncline_gateway.dialects.polytomic.versions import LEGACY

RESYNC_MODES = ("refetch", "resync", "rebuild")
"""An execution's (and a schedule's) `resync_mode`."""
_SCHEDULE_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month")
_MODE_LABELS = {
    "snapshot": "Snapshot: replace the destination's rows with the source's on every run",
    "replicate": "Replicate: upsert changed rows and apply deletes",
}
_FIELD_TYPES = {
    **dict.fromkeys(("int2", "int4", "int8", "numeric", "float4", "float8", "money", "oid"), "number"),
    **dict.fromkeys(("smallint", "integer", "bigint", "real", "double precision"), "number"),
    **dict.fromkeys(("bool", "boolean"), "boolean"),
    **dict.fromkeys(("timestamp", "timestamptz", "date", "time", "timetz"), "datetime"),
    **dict.fromkeys(("json", "jsonb"), "object"),
    "bytea": "binary",
}
"""Polytomic's field types by the source's own type name (PostgreSQL's `udt_name`, or the type a file's values
were read as)."""


def iso(value: datetime | None) -> str | None:
    """A UTC timestamp as ISO-8601 with a `Z`."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else None


def actor(key_id: str) -> dict[str, str]:
    """Who made a change: the API key."""
    return {"id": key_id, "name": "API key", "type": "apikey"}


def connection_type_ref(kind: ConnectionType) -> dict[str, Any]:
    """The short form of a connection type inside a connection."""
    return {"id": kind.id, "name": kind.name, "operations": operations(kind)}


def operations(kind: ConnectionType) -> list[str]:
    """What bulk syncs may do with a connection of this type."""
    return (["bulksync_source"] if kind.source else []) + (["bulksync_target"] if kind.destination else [])


def connection_type(kind: ConnectionType) -> dict[str, Any]:
    """`GET /api/connection_types` item."""
    return {
        "id": kind.id,
        "name": kind.name,
        "capabilities": {
            "source": kind.source,
            "destination": kind.destination,
            "enrichment": False,
            "logging": False,
            "orchestration": False,
        },
        "configurationForm": {"jsonschema": json_schema(kind.keys), "uischema": {}},
        "use_oauth": False,
    }


def connection(row: dict[str, Any]) -> dict[str, Any]:
    """A connection; secrets are never part of it."""
    kind = CONNECTION_TYPES[row["type"]]
    return {
        "id": row["id"],
        "name": row["name"],
        "organization_id": row["org_id"],
        "type": connection_type_ref(kind),
        "configuration": {k: v for k, v in row["configuration"].items() if k not in kind.secret_keys},
        "status": row["status"],
        "status_error": row["status_error"],
        "saved": True,
        "healthcheck_interval": row["healthcheck_interval"],
        "policies": list(row["policies"]),
        "created_at": iso(row["created_at"]),
        "created_by": actor(row["created_by"]),
        "updated_at": iso(row["updated_at"]),
        "updated_by": actor(row["updated_by"]),
    }


def _times(spec: dict[str, Any]) -> dict[str, Any]:
    return {name: spec.get(name) for name in _SCHEDULE_FIELDS}


def _stamps(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "created_at": iso(row["created_at"]),
        "created_by": actor(row["created_by"]),
        "updated_at": iso(row["updated_at"]),
        "updated_by": actor(row["updated_by"]),
    }


def default_schedule(row: dict[str, Any]) -> dict[str, Any]:
    """`default_schedule` (SDK 25.9.x)."""
    return {"id": row["id"], "frequency": row["spec"]["frequency"], **_times(row["spec"]), **_stamps(row)}


def additional_schedule(row: dict[str, Any]) -> dict[str, Any]:
    """An item of `additional_schedules` (SDK 25.9.x)."""
    spec = row["spec"]
    return default_schedule(row) | {
        "selective_mode": spec.get("selective_mode"),
        "resync_mode": spec.get("sync_mode"),
        "schemas": list(spec.get("schemas") or []),
    }


def listed_schedule(row: dict[str, Any]) -> dict[str, Any]:
    """An item of `schedules[]` (the 2025-09-18 migration guide's shape)."""
    return additional_schedule(row) | {"is_default": row["is_default"]}


def legacy_schedule(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """`schedule` (2024-02-08): the one schedule, or `frequency: multi` with each as an itemized schedule."""
    if len(rows) == 1:
        return {"frequency": rows[0]["spec"]["frequency"], **_times(rows[0]["spec"])}
    items = [
        {
            "item": r["spec"].get("selective_mode") or "none",
            "schedule": {"frequency": r["spec"]["frequency"], **_times(r["spec"])},
        }
        for r in rows
    ]
    return {"frequency": "multi", "multi": {"type": "selective", "schedules": items}}


def schedule_shapes(rows: list[dict[str, Any]], *, version: str) -> dict[str, Any]:
    """The schedule keys of a bulk sync in the shape of `version`."""
    if version == LEGACY:
        return {"schedule": legacy_schedule(rows)}
    default = next((r for r in rows if r["is_default"]), rows[0] if rows else None)
    return {
        "default_schedule": default_schedule(default) if default else None,
        "additional_schedules": [additional_schedule(r) for r in rows if r is not default],
        "schedules": [listed_schedule(r) for r in rows],
    }


def bulk_sync(row: dict[str, Any], schedules: list[dict[str, Any]], *, version: str) -> dict[str, Any]:
    """A bulk sync, its schedules in the shape of `version`."""
    return {
        "id": row["id"],
        "organization_id": row["org_id"],
        "name": row["name"],
        "active": row["active"],
        "mode": row["mode"],
        "source_connection_id": row["source_connection_id"],
        "destination_connection_id": row["destination_connection_id"],
        "source_configuration": row["source_configuration"],
        "destination_configuration": row["destination_configuration"],
        **schedule_shapes(schedules, version=version),
        "automatically_add_new_fields": row["add_new_fields"],
        "automatically_add_new_objects": row["add_new_objects"],
        "discover": row["add_new_objects"] != "none",
        "normalize_names": row["normalize_names"],
        "data_cutoff_timestamp": iso(row["data_cutoff_timestamp"]),
        "disable_record_timestamps": row["disable_record_timestamps"],
        "concurrency_limit": row["concurrency_limit"],
        "resync_concurrency_limit": row["resync_concurrency_limit"],
        "policies": list(row["policies"]),
        **_stamps(row),
    }


def api_schedule(row: dict[str, Any], *, sync_id: str) -> dict[str, Any]:
    """A schedule of the schedules sub-resource (camelCase keys; actors are plain ids there)."""
    spec = row["spec"]
    return {
        "id": row["id"],
        "syncId": sync_id,
        "isDefault": row["is_default"],
        "frequency": spec["frequency"],
        "minute": spec.get("minute"),
        "hour": spec.get("hour"),
        "dayOfWeek": spec.get("day_of_week"),
        "dayOfMonth": spec.get("day_of_month"),
        "month": spec.get("month"),
        "selectiveMode": spec.get("selective_mode"),
        "syncMode": spec.get("sync_mode"),
        "schemas": list(spec.get("schemas") or []),
        "createdAt": iso(row["created_at"]),
        "createdBy": row["created_by"],
        "updatedAt": iso(row["updated_at"]),
        "updatedBy": row["updated_by"],
    }


def schema_item(row: dict[str, Any]) -> dict[str, Any]:
    """A schema of `GET /api/bulk/syncs/{id}/schemas` (no fields or filters, as on Polytomic's list)."""
    return {
        "id": row["id"],
        "enabled": row["enabled"],
        "output_name": row["output_name"],
        "user_output_name": row["user_output_name"],
        "partition_key": row["partition_key"],
        "tracking_field": row["tracking_field"],
        "data_cutoff_timestamp": iso(row["data_cutoff_timestamp"]),
        "disable_data_cutoff": row["disable_data_cutoff"],
        "history_enabled": row["history_enabled"],
    }


def schema(row: dict[str, Any]) -> dict[str, Any]:
    """A schema with its fields and filters."""
    return schema_item(row) | {
        "fields": [
            {
                "id": f["id"],
                "enabled": f["enabled"],
                "obfuscated": f["obfuscated"],
                "output_name": f["output_name"],
                "user_output_name": f["user_output_name"],
            }
            for f in row["fields"]
        ],
        "filters": list(row["filters"]),
    }


def field_type(column: Column) -> str:
    """A discovered column's Polytomic type (`string` unless the source's type says otherwise)."""
    native = column.native_type or column.type
    if native.startswith("_") or column.type.endswith("[]"):  # PostgreSQL names an array type `_<element>`
        return "array"
    return _FIELD_TYPES.get(native, "string")


def source_schema(found: ObjectInfo, *, include_fields: bool) -> dict[str, Any]:
    """A schema a source offers: a table as `schema.table`, a file by its path in the folder (named by its file
    name)."""
    body: dict[str, Any] = {"id": found.key, "name": found.key if found.schema else found.name.rsplit("/", 1)[-1]}
    if include_fields:
        body["fields"] = [
            {
                "id": c.name,
                "name": c.name,
                "type": field_type(c),
                "remote_type": c.native_type or c.type,
                "is_primary_key": c.name in found.primary_key,
                "source_primary_key": c.name in found.primary_key,
            }
            for c in found.columns
        ]
    return body


def source(kind: ConnectionType, found: list[ObjectInfo], *, include_fields: bool) -> dict[str, Any]:
    """`GET /api/connections/{id}/bulksync/source`."""
    return {
        "schemas": [source_schema(f, include_fields=include_fields) for f in found],
        "capabilities": {"supports_namespaces": kind.id == "postgresql", "supports_tracking_fields": True},
        "configuration": json_schema(kind.source_configuration),
    }


def target(kind: ConnectionType) -> dict[str, Any]:
    """`GET /api/connections/{id}/bulksync/target`."""
    return {
        "configuration": json_schema(kind.destination_configuration),
        "modes": [
            {
                "id": mode.value,
                "label": mode.value.capitalize(),
                "description": _MODE_LABELS[mode.value],
                "requires_identity": mode.value == "replicate",
                "supports_field_sync_mode": False,
                "supports_target_filters": False,
            }
            for mode in kind.modes
        ],
        "supported_resync_modes": list(RESYNC_MODES),
        "supports_history_mode": False,
    }


def webhook(row: dict[str, Any], *, secret: str) -> dict[str, Any]:
    """The organisation's webhook."""
    return {
        "id": row["id"],
        "organization_id": row["org_id"],
        "endpoint": row["endpoint"],
        "secret": secret,
        "disabled": row["disabled"],
        "disabled_at": iso(row["disabled_at"]),
        "disabled_reason": row["disabled_reason"],
        "created_at": iso(row["created_at"]),
    }
