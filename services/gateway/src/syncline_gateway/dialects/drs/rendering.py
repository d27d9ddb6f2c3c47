"""DRS's answers: a job's status, progress, detail, list entry and precheck result, from `reads.JobView`.

Progress is the run's own: in the full phase, rows written against the rows the precheck counted; the delay of
the incremental phase is the stream's lag as of its last applied batch (0 once it caught up). `progress_map` has
`data` and one entry per selected table (`schema.table`): the rows the run's checkpoints say it read against the
rows the precheck counted, and the time left at the rate measured so far (rows read from the run's start to its
last checkpoint); `remaining_time` is the full phase's."""

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from syncline_contracts.drs_jobs import DrsJobStatus
from syncline_gateway.dialects.drs.reads import STREAM, JobView

NO_JOB = "DRS.10000010"
NO_JOB_MSG = "Job does not exist, please check job ID."
_FAILED = frozenset(
    {DrsJobStatus.FULL_TRANSFER_FAILED, DrsJobStatus.INCRE_TRANSFER_FAILED, DrsJobStatus.START_JOB_FAILED}
)
_ACTIONS: dict[DrsJobStatus, tuple[str, ...]] = {
    DrsJobStatus.CONFIGURATION: ("MODIFY", "PRECHECK", "START", "DELETE"),
    DrsJobStatus.STARTJOBING: ("PAUSE", "STOP"),
    DrsJobStatus.WAITING_FOR_START: ("PAUSE", "STOP"),
    DrsJobStatus.FULL_TRANSFER_STARTED: ("PAUSE", "STOP"),
    DrsJobStatus.INCRE_TRANSFER_STARTED: ("PAUSE", "STOP"),
    DrsJobStatus.PAUSING: ("RESUME", "STOP"),
    DrsJobStatus.FULL_TRANSFER_FAILED: ("RESUME", "STOP"),
    DrsJobStatus.INCRE_TRANSFER_FAILED: ("RESUME", "STOP"),
    DrsJobStatus.FULL_TRANSFER_COMPLETE: ("STOP", "DELETE"),
    DrsJobStatus.RELEASE_RESOURCE_COMPLETE: ("DELETE",),
}


def ms(at: datetime | None) -> str | None:
    """An instant as DRS shows it: epoch milliseconds, as a string."""
    return str(int(at.timestamp() * 1000)) if at is not None else None


def _error(view: JobView) -> str | None:
    if view.status in _FAILED and view.run is not None:
        return str(view.run.get("error") or "the job's run failed")
    return None


def status(view: JobView) -> dict[str, Any]:
    """`QueryJobStatusResp`."""
    error = _error(view)
    return {
        "id": view.job["id"],
        "status": view.status.value,
        "error_code": "DRS.10000001" if error else None,
        "error_message": error,
    }


def _progress_percent(view: JobView) -> str:
    if view.status in (DrsJobStatus.FULL_TRANSFER_COMPLETE, DrsJobStatus.INCRE_TRANSFER_STARTED):
        return "100"
    if view.status is not DrsJobStatus.FULL_TRANSFER_STARTED or view.run is None:
        return "0"
    total = view.job.get("source_rows") or 0
    written = int(view.run.get("indexed_document_count") or 0)
    return str(min(99, written * 100 // total)) if total else "0"


@dataclass(frozen=True)
class _Table:
    """One selected table in the full phase."""

    read: int
    total: int | None
    done: bool

    def percent(self) -> int:
        if self.done:
            return 100
        return min(99, self.read * 100 // self.total) if self.total else 0

    def left(self) -> int | None:
        """Rows still to read; None when the precheck did not count the table."""
        if self.done:
            return 0
        return None if self.total is None else max(self.total - self.read, 0)


def _tables(view: JobView) -> dict[str, _Table]:
    """The selected tables, by `schema.table`, as the run's checkpoints show them; every one done once the full
    phase is (a stream checkpoint comes only after the snapshots, and a resumed job's run has none of its own)."""
    counted = (view.job.get("precheck") or {}).get("rows") or {}
    complete = STREAM in view.objects or view.status in (
        DrsJobStatus.FULL_TRANSFER_COMPLETE,
        DrsJobStatus.INCRE_TRANSFER_STARTED,
    )
    tables = {}
    for t in (view.job.get("objects") or {}).get("tables") or []:
        key = f"{t['schema']}.{t['table']}"
        moved = view.objects.get(key) or {}
        tables[key] = _Table(int(moved.get("rows_read") or 0), counted.get(key), complete or bool(moved.get("done")))
    return tables


def _rate(view: JobView, tables: dict[str, _Table]) -> float:
    """Rows read a second, from the run's start to its last table checkpoint (0 before there is one)."""
    started = (view.run or {}).get("started_at")
    moved = [view.objects[k]["updated_at"] for k in tables if k in view.objects]
    seconds = (max(moved) - started).total_seconds() if started and moved else 0.0
    read = sum(t.read for k, t in tables.items() if k in view.objects)
    return read / seconds if seconds > 0 else 0.0


def _full_phase(view: JobView) -> tuple[dict[str, dict[str, str | None]] | None, str | None]:
    """`progress_map` and `remaining_time`; none for a job without a full phase or before its run."""
    if view.task_type == "INCR_TRANS" or view.run is None:
        return None, None
    tables = _tables(view)
    moving = view.status is DrsJobStatus.FULL_TRANSFER_STARTED
    rate = _rate(view, tables) if moving else 0.0

    def remaining(rows: int | None) -> str | None:
        if rows == 0:
            return "0"
        return str(math.ceil(rows / rate)) if rows is not None and rate > 0 else None

    total = sum(t.total or 0 for t in tables.values())
    read = sum(t.total or 0 if t.done else min(t.read, t.total or 0) for t in tables.values())
    done = all(t.done for t in tables.values())
    data = 100 if done else min(99, read * 100 // total) if total else 0
    lefts = [t.left() for t in tables.values()]
    left = remaining(None if None in lefts else sum(n or 0 for n in lefts))
    progress_map: dict[str, dict[str, str | None]] = {"data": {"completed": f"{data}%", "remaining_time": left}}
    for key, table in tables.items():
        progress_map[key] = {"completed": f"{table.percent()}%", "remaining_time": remaining(table.left())}
    return progress_map, left if moving or done else None


def progress(view: JobView) -> dict[str, Any]:
    """`QueryProgressResp`: the run's real figures."""
    progress_map, remaining_time = _full_phase(view)
    run = view.run or {}
    lag = view.lag if view.status is DrsJobStatus.INCRE_TRANSFER_STARTED else None
    started, seen = run.get("started_at"), run.get("last_seen")
    seconds = (seen - started).total_seconds() if started and seen else 0.0
    written = int(run.get("indexed_document_count") or 0)
    error = _error(view)
    return {
        "job_id": view.job["id"],
        "progress": _progress_percent(view),
        "incre_trans_delay": str(round(lag["seconds"])) if lag else None,
        "incre_trans_delay_millis": str(round(lag["seconds"] * 1000)) if lag else None,
        "task_mode": view.task_type,
        "transfer_status": view.status.value,
        "process_time": str(int(seconds * 1000)) if started else None,
        "remaining_time": remaining_time,
        "progress_map": progress_map,
        "apply_rows_rate": int(written / seconds) if seconds > 0 else 0,
        "apply_bytes_rate": int(int(run.get("indexed_document_volume") or 0) / seconds) if seconds > 0 else 0,
        "error_code": "DRS.10000001" if error else None,
        "error_msg": error,
    }


def _endpoint(values: dict[str, Any]) -> dict[str, Any]:
    """An endpoint as answered: its secrets (sealed, at any depth) left out."""
    return {
        k: _endpoint(v) if isinstance(v, dict) else v
        for k, v in values.items()
        if k != "db_password" and not k.endswith("_sealed")
    }


def detail(view: JobView) -> dict[str, Any]:
    """`QueryJobResp`: the job as configured, with its status now."""
    job, definition, policy = view.job, view.job["definition"], view.job.get("policy") or {}
    tables = (job.get("objects") or {}).get("tables") or []
    run = view.run or {}
    error = _error(view)
    return {
        "id": job["id"],
        "name": job["name"],
        "status": view.status.value,
        "description": definition.get("description"),
        "create_time": ms(job["created_at"]),
        "update_time": ms(job["updated_at"]),
        "task_type": view.task_type,
        "source_endpoint": _endpoint(job["source_endpoint"]),
        "target_endpoint": _endpoint(job["target_endpoint"]),
        "net_type": definition.get("net_type"),
        "job_direction": definition.get("job_direction"),
        "db_use_type": definition.get("db_use_type"),
        "is_target_readonly": definition.get("is_target_readonly"),
        "multi_write": definition.get("multi_write"),
        "node_num": definition.get("node_num"),
        "conflict_policy": policy.get("conflict_policy"),
        "filter_ddl_policy": policy.get("filter_ddl_policy"),
        "index_trans": policy.get("index_trans"),
        "actual_start_time": ms(run.get("started_at")),
        "full_transfer_complete_time": ms(run.get("completed_at"))
        if view.status is DrsJobStatus.FULL_TRANSFER_COMPLETE
        else None,
        "object_infos": [
            {
                "id": f"{t['schema']}.{t['table']}",
                "parent_id": t["schema"],
                "type": "table",
                "name": t["table"],
                "alias_name": t.get("alias"),
            }
            for t in tables
        ],
        "tags": definition.get("tags") or [],
        "failed_reason": error,
        "error_code": "DRS.10000001" if error else None,
        "error_message": error,
    }


def list_entry(view: JobView) -> dict[str, Any]:
    """`JobInfo` of `show_job_list`."""
    job, definition = view.job, view.job["definition"]
    available = _ACTIONS.get(view.status, ())
    return {
        "id": job["id"],
        "name": job["name"],
        "status": view.status.value,
        "create_time": ms(job["created_at"]),
        "description": definition.get("description"),
        "engine_type": definition.get("engine_type"),
        "net_type": definition.get("net_type"),
        "billing_tag": False,
        "job_direction": definition.get("job_direction"),
        "db_use_type": definition.get("db_use_type"),
        "task_type": view.task_type,
        "children": [],
        "node_newFramework": True,
        "job_action": {"available_actions": list(available), "unavailable_actions": [], "current_action": ""},
    }


def precheck_result(view: JobView) -> dict[str, Any]:
    """`QueryPreCheckResp` of the job's last precheck."""
    precheck = view.job.get("precheck")
    if not precheck:
        return {"error_code": NO_JOB, "error_msg": "The job has no precheck; call batch-precheck first."}
    items = precheck["items"]
    passed = sum(1 for i in items if i["result"] == "success")
    return {
        "precheck_id": precheck["precheck_id"],
        "result": precheck["result"],
        "process": "100%",
        "total_passed_rate": f"{passed * 100 // max(len(items), 1)}%",
        "job_direction": view.job["definition"].get("job_direction"),
        "precheck_result": [
            {"item": i["item"], "result": i["result"], "failed_reason": i.get("failed_reason")} for i in items
        ],
    }


def now_ms() -> int:
    """Now, in epoch milliseconds."""
    return int(datetime.now(UTC).timestamp() * 1000)
