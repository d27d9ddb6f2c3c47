"""Runs rendered as Polytomic's `BulkSyncExecution` (A1.9): the run lifecycle mapped onto Polytomic's execution
statuses, and one `BulkSyncSchemaExecution` per object the run moves."""

from typing import Any

from syncline_gateway.dialects.polytomic.rendering import iso

EXECUTION_STATUS = {
    "pending": "created",
    "suspended": "scheduled",
    "in_progress": "running",
    "canceling": "canceling",
    "canceled": "canceled",
    "completed": "completed",
    "error": "failed",
}
"""Run status → `BulkExecutionStatus`."""
TERMINAL_EXECUTION = frozenset({"completed", "canceled", "failed", "errors", "interrupted"})
"""Execution statuses that end an execution."""


def execution_status(run: dict[str, Any]) -> str:
    """A run's execution status; a pending run fired by a schedule is `scheduled`, a run that completed while
    some of its objects failed is `errors`."""
    if run["status"] == "pending" and run["trigger_method"] == "scheduled":
        return "scheduled"
    if run["status"] == "completed" and run["error"]:
        return "errors"
    return EXECUTION_STATUS[run["status"]]


def _object_key(item: dict[str, Any]) -> str:
    return f"{item['schema_name']}.{item['name']}" if item.get("schema_name") else str(item["name"])


def _objects(run: dict[str, Any]) -> list[tuple[str, str]]:
    """(object key, output name) of what the run moves, as its spec snapshot selects it."""
    spec = run["connector"].get("spec") or {}
    wanted = set((run["options"] or {}).get("schemas") or ())
    found = []
    for item in spec.get("objects") or ():
        key = _object_key(item)
        if not wanted or key in wanted or item["name"] in wanted:
            found.append((key, item.get("output_name") or item["name"]))
    return found


def _schema_status(run_status: str, checkpoint: dict[str, Any] | None) -> str:
    if checkpoint is not None and checkpoint.get("outcome"):
        return "canceled" if checkpoint["outcome"] == "canceled" else "failed"
    if checkpoint is not None and checkpoint["done"]:
        return "completed"
    return {
        "pending": "created",
        "suspended": "scheduled",
        "in_progress": "running" if checkpoint else "scheduled",
        "canceling": "running" if checkpoint else "scheduled",
        "canceled": "canceled",
        "completed": "completed",
        "error": "failed",
    }[run_status]


def _message(run: dict[str, Any], status: str, checkpoint: dict[str, Any] | None) -> str:
    if status != "failed":
        return ""
    return str((checkpoint or {}).get("error") or run["error"] or "")


def _records(run: dict[str, Any], checkpoint: dict[str, Any] | None) -> int:
    """Records the schema moved (a test execution writes nothing: the records it read)."""
    if checkpoint is None:
        return 0
    return int(checkpoint["rows_read"] if _is_test(run) else checkpoint["rows_written"])


def _is_test(run: dict[str, Any]) -> bool:
    return bool((run["options"] or {}).get("test"))


def _schema(run: dict[str, Any], key: str, output: str, checkpoint: dict[str, Any] | None) -> dict[str, Any]:
    status = _schema_status(run["status"], checkpoint)
    return {
        "schema": key,
        "output_name": output,
        "status": status,
        "status_message": _message(run, status, checkpoint),
        "record_count": _records(run, checkpoint),
        "error_count": 1 if status == "failed" else 0,
        "warning_count": 0,
        "created_at": iso(run["created_at"]),
        "started_at": iso(run["started_at"]) if checkpoint else None,
        "completed_at": iso(checkpoint["updated_at"])
        if checkpoint and (checkpoint["done"] or checkpoint.get("outcome"))
        else None,
        "updated_at": iso(checkpoint["updated_at"] if checkpoint else run["created_at"]),
    }


def schemas(run: dict[str, Any], checkpoints: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per object: its status and counters (objects discovery added at run time come from the checkpoints)."""
    listed = _objects(run)
    known = {key for key, _ in listed}
    listed += [(key, key.rsplit(".", 1)[-1]) for key in sorted(checkpoints) if key not in known]
    return [_schema(run, key, output, checkpoints.get(key)) for key, output in listed]


def _error_count(run: dict[str, Any], checkpoints: dict[str, dict[str, Any]] | None) -> int:
    """Failed schemas (known from the checkpoints), else one for a failed or partly failed run."""
    failed = sum(1 for c in (checkpoints or {}).values() if c.get("outcome") == "failed")
    if failed:
        return failed
    return 1 if run["status"] == "error" or (run["status"] == "completed" and run["error"]) else 0


def execution(run: dict[str, Any], checkpoints: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A run as a `BulkSyncExecution`; per-schema detail when `checkpoints` are given."""
    options = run["options"] or {}
    finished = run["completed_at"] or run["canceled_at"]
    stamps = [s for s in (run["created_at"], run["started_at"], run["last_seen"], finished) if s is not None]
    return {
        "id": run["id"],
        "status": execution_status(run),
        "status_message": run["error"] or "",
        "type": "bulk",
        "fetch_mode": options.get("fetch_mode") or "none",
        "output_disposition": "rebuild" if options.get("resync_mode") == "rebuild" else "retain",
        "is_partial": bool(options.get("schemas")),
        "is_resync": bool(options.get("resync_mode")),
        "is_test": bool(options.get("test")),
        "record_count": run["rows_read"] if _is_test(run) else run["indexed_document_count"],
        "error_count": _error_count(run, checkpoints),
        "warning_count": 0,
        "created_at": iso(run["created_at"]),
        "started_at": iso(run["started_at"]),
        "completed_at": iso(finished),
        "updated_at": iso(max(stamps)),
        "schemas": schemas(run, checkpoints) if checkpoints is not None else [],
    }
