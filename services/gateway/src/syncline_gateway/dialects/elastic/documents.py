"""Rendering Syncline's connectors and runs as Elasticsearch connector and sync-job documents."""

from datetime import UTC, datetime
from typing import Any

from syncline_connectors.config import schema_for

MIB = 1024 * 1024

DEFAULT_FEATURES = {
    "document_level_security": {"enabled": False},
    "incremental_sync": {"enabled": True},
    "sync_rules": {"advanced": {"enabled": False}, "basic": {"enabled": True}},
}


def es_time(value: datetime | None) -> str | None:
    """Elasticsearch's date format (ISO-8601, milliseconds, UTC)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def configuration(service_type: str | None, values: dict[str, Any], sealed: dict[str, Any]) -> dict[str, Any]:
    """Elastic's configuration objects; secret values are never echoed."""
    rendered: dict[str, Any] = {}
    for field in schema_for(service_type) or ():
        value = values.get(field.key)
        if field.sensitive:
            value = ""
        rendered[field.key] = {
            "default_value": field.default,
            "depends_on": [],
            "display": "toggle" if field.type == "bool" else ("numeric" if field.type == "int" else "text"),
            "label": field.label,
            "options": [],
            "order": field.order,
            "required": field.required,
            "sensitive": field.sensitive,
            "tooltip": None,
            "type": field.type,
            "ui_restrictions": [],
            "validations": [],
            "value": value,
            "is_set": field.key in sealed if field.sensitive else value is not None,
        }
    return rendered


def _scheduling(stored: dict[str, Any]) -> dict[str, Any]:
    default = {"enabled": False, "interval": "0 0 0 * * ?"}
    return {kind: stored.get(kind, default) for kind in ("access_control", "full", "incremental")}


def connector(row: dict[str, Any], last_run: dict[str, Any] | None) -> dict[str, Any]:
    """A connector document."""
    return {
        "id": row["id"],
        "api_key_id": row.get("api_key_id"),
        "api_key_secret_id": row.get("api_key_secret_id"),
        "configuration": configuration(row["service_type"], row["configuration"], row["sealed_secrets"]),
        "custom_scheduling": {},
        "description": row["description"],
        "error": row["error"],
        "features": row.get("features") or DEFAULT_FEATURES,
        "filtering": row["filtering"],
        "index_name": row["index_name"],
        "is_native": row["is_native"],
        "language": row["language"],
        "last_seen": es_time(row.get("last_seen")),
        "name": row["name"],
        "pipeline": row.get("pipeline") or {},
        "scheduling": _scheduling(row["scheduling"]),
        "service_type": row["service_type"],
        "status": row["status"],
        "sync_cursor": row["sync_cursor"],
        "sync_now": False,
        **_last_sync(last_run, row.get("last_sync") or {}),
    }


def _last_sync(run: dict[str, Any] | None, reported: dict[str, Any]) -> dict[str, Any]:
    """The latest finished run's facts; an external worker's `_last_sync` report fills what runs do not know."""
    facts = {
        "last_access_control_sync_error": None,
        "last_access_control_sync_scheduled_at": None,
        "last_access_control_sync_status": None,
        "last_incremental_sync_scheduled_at": None,
        "last_sync_scheduled_at": None,
        "last_sync_status": None,
        "last_sync_error": None,
        "last_synced": None,
        "last_indexed_document_count": None,
        "last_deleted_document_count": None,
    } | {k: v for k, v in reported.items() if k != "last_seen"}
    if run is None:
        return facts
    return facts | {
        "last_sync_status": run["status"],
        "last_sync_error": run["error"],
        "last_synced": es_time(run["completed_at"] or run["canceled_at"]),
        "last_indexed_document_count": run["indexed_document_count"],
        "last_deleted_document_count": run["deleted_document_count"],
    }


def sync_job(run: dict[str, Any]) -> dict[str, Any]:
    """A sync-job document (`indexed_document_volume` in MiB, as Elasticsearch reports it)."""
    snapshot = run["connector"]
    return {
        "id": run["id"],
        "cancelation_requested_at": es_time(run["cancelation_requested_at"]),
        "canceled_at": es_time(run["canceled_at"]),
        "completed_at": es_time(run["completed_at"]),
        "connector": {
            "id": snapshot["id"],
            "configuration": configuration(snapshot["service_type"], snapshot["configuration"], run["sealed_secrets"]),
            "filtering": snapshot.get("filtering") or [],
            "index_name": snapshot.get("index_name"),
            "language": snapshot.get("language"),
            "pipeline": {},
            "service_type": snapshot.get("service_type"),
            "sync_cursor": snapshot.get("sync_cursor"),
        },
        "created_at": es_time(run["created_at"]),
        "deleted_document_count": run["deleted_document_count"],
        "error": run["error"],
        "indexed_document_count": run["indexed_document_count"],
        "indexed_document_volume": run["indexed_document_volume"] // MIB,
        "job_type": run["job_type"],
        "last_seen": es_time(run["last_seen"]),
        "metadata": run["metadata"],
        "started_at": es_time(run["started_at"]),
        "status": run["status"],
        "total_document_count": run["total_document_count"],
        "trigger_method": run["trigger_method"],
        "worker_hostname": run["worker_hostname"],
    }
