"""DRS jobs: each action of a batch applied to its items one by one, each in its own savepoint, so a broken rule
fails only its item (`DrsItemError` → `status: failed` with DRS's code). No broker imports.

Writes `policy.drs_jobs` (and `policy.sync_specs` through `compilers/drs.py` when a job starts or its policy
changes); reads `scheduler_read.runs` and `executor_read.sync_state` for a started job's status. A start or resume
is a one-shot schedule (`once`, at `start_time` or now) announced to the scheduler; pause and terminate switch the
job's schedules off and stop its run; terminate also announces `DrsJobReleased` (the executor drops the slot).
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from syncline_connectors.reach import Reach
from syncline_contracts.base import Message
from syncline_contracts.drs_jobs import (
    ApplyDrsBatch,
    DrsAction,
    DrsBatchApplied,
    DrsItemResult,
    DrsJobReleased,
    DrsJobStatus,
    effective_status,
)
from syncline_contracts.schedules import RetryPolicy, Schedule, ScheduleKind, SchedulesConfigured, ScheduleSkipped
from syncline_platform.db import Conn
from syncline_platform.errors import as_terminal
from syncline_platform.secrets import Sealer
from syncline_policy import drs_checks, drs_rules
from syncline_policy.compilers import drs as compiler
from syncline_policy.drs_rules import FAILED, NO_JOB, DrsItemError, empty, invalid, wrong_state

STREAM = "__stream__"
"""The executor's key of a sync's change stream in `executor_read.sync_state`."""

RESTART_AFTER_MS = 3_000
"""A run restarted under a changed policy starts this long after the old one was asked to stop (which it does
within a second or two); a start that still finds it going is scheduled again (`start_skipped`)."""

_ENDPOINT_FIELDS = (
    "db_type",
    "ip",
    "db_port",
    "db_user",
    "db_name",
    "ssl_link",
    "inst_id",
    "region",
    "project_id",
    "kafka_security_config",
)
_ADDRESS = ("ip", "db_port", "db_user", "db_name", "db_type", "kafka_security_config")
_MODIFIABLE = (
    "name",
    "description",
    "task_type",
    "node_type",
    "engine_type",
    "net_type",
    "job_direction",
    "db_use_type",
    "is_target_readonly",
    "replace_definer",
    "store_db_info",
    "is_recreate",
    "alarm_notify",
    "tags",
    "product_id",
)
_RUNNING = frozenset(
    {
        DrsJobStatus.STARTJOBING,
        DrsJobStatus.WAITING_FOR_START,
        DrsJobStatus.FULL_TRANSFER_STARTED,
        DrsJobStatus.INCRE_TRANSFER_STARTED,
    }
)
_RESUMABLE = frozenset(
    {
        DrsJobStatus.PAUSING,
        DrsJobStatus.FULL_TRANSFER_FAILED,
        DrsJobStatus.INCRE_TRANSFER_FAILED,
        DrsJobStatus.START_JOB_FAILED,
    }
)
_DELETABLE = frozenset(
    {
        DrsJobStatus.CONFIGURATION,
        DrsJobStatus.CREATE_FAILED,
        DrsJobStatus.RELEASE_RESOURCE_COMPLETE,
        DrsJobStatus.RELEASE_RESOURCE_FAILED,
    }
)


@dataclass(frozen=True)
class Batch:
    """What every item of one batch shares."""

    org_id: str
    project_id: str
    sealer: Sealer
    reach: Reach
    """Where the organisation's endpoints may go (never Syncline's own databases)."""
    now: datetime
    received_at_ms: int


Applied = tuple[dict[str, Any] | None, list[Message]]
"""An item that took effect: what its answer shows, and the events it causes."""


# --- the batch ---------------------------------------------------------------------------------------------------


async def apply_batch(conn: Conn, *, org_id: str, cmd: ApplyDrsBatch, sealer: Sealer, reach: Reach) -> list[Message]:
    """Every item of the batch on its own; `DrsBatchApplied` first, then the events of the items that took effect."""
    now = datetime.now(UTC)
    batch = Batch(
        org_id=org_id,
        project_id=cmd.project_id,
        sealer=sealer,
        reach=reach.for_org(org_id),
        now=now,
        received_at_ms=cmd.received_at_ms or int(now.timestamp() * 1000),
    )
    action = _ACTIONS[cmd.action]
    results: list[DrsItemResult] = []
    events: list[Message] = []
    for item in cmd.items:
        result, caused = await _one(conn, batch, action, item)
        results.append(result)
        events.extend(caused)
    return [DrsBatchApplied(project_id=cmd.project_id, action=cmd.action, results=tuple(results)), *events]


async def _one(
    conn: Conn, batch: Batch, action: Callable[[Conn, Batch, dict[str, Any]], Awaitable[Applied]], item: dict[str, Any]
) -> tuple[DrsItemResult, list[Message]]:
    item_id = str(item.get("job_id") or item.get("id") or "")
    try:
        async with conn.transaction():  # a savepoint: a failed item leaves nothing behind
            details, events = await action(conn, batch, item)
    except DrsItemError as exc:
        return _failed(item_id, exc.code, exc.message), []
    except Exception as exc:
        terminal = as_terminal(exc)
        if terminal is None:
            raise  # may pass when tried again: the whole batch is retried
        return _failed(item_id, drs_rules.INVALID, str(terminal)), []
    return DrsItemResult(id=item_id, status="success", details=details), events


def _failed(item_id: str, code: str, message: str) -> DrsItemResult:
    return DrsItemResult(id=item_id, status="failed", error_code=code, error_msg=message)


# --- storage -----------------------------------------------------------------------------------------------------


async def _job(conn: Conn, batch: Batch, job_id: str) -> dict[str, Any]:
    row = await conn.fetchrow(
        "SELECT * FROM drs_jobs WHERE id = $1 AND org_id = $2 AND project_id = $3 AND status <> 'DELETED' FOR UPDATE",
        job_id,
        batch.org_id,
        batch.project_id,
    )
    if row is None:
        raise DrsItemError(NO_JOB, "Job does not exist, please check job ID.")
    return dict(row)


async def _save(conn: Conn, job_id: str, **changes: Any) -> dict[str, Any]:
    columns = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=2))
    row = await conn.fetchrow(
        f"UPDATE drs_jobs SET {columns}, updated_at = now() WHERE id = $1 RETURNING *",
        job_id,
        *changes.values(),
    )
    assert row is not None  # noqa: S101 - locked by `_job` in this transaction
    return dict(row)


async def status_now(conn: Conn, job: dict[str, Any], *, now: datetime) -> DrsJobStatus:
    """The job's status: its stored one, or what its latest run since the last start says."""
    run = None
    if job.get("last_start_at") is not None:
        run = await conn.fetchrow(
            "SELECT status, metadata FROM scheduler_read.runs WHERE org_id = $1 AND sync_id = $2 AND created_at >= $3"
            " ORDER BY created_at DESC LIMIT 1",
            job["org_id"],
            job["id"],
            job["last_start_at"],
        )
    stream: int = await conn.fetchval(
        "SELECT count(*) FROM executor_read.sync_state WHERE sync_id = $1 AND object = $2", job["id"], STREAM
    )
    return effective_status(
        stored=job["status"],
        task_type=job["definition"].get("task_type") or "FULL_INCR_TRANS",
        start_at=job.get("start_time"),
        now=now,
        run_status=run["status"] if run else None,
        streaming=bool(run and (run["metadata"] or {}).get("replication_lag")),
        released=not stream,
    )


def _endpoint(values: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (values or {}).items() if k not in ("db_password", "db_password_sealed") and v is not None}


def _password(batch: Batch, sealed: str | None) -> str:
    return batch.sealer.open(sealed) if sealed else ""


def _kafka_target(job: dict[str, Any]) -> bool:
    return bool(job["target_endpoint"].get("db_type") == "kafka")


# --- actions -----------------------------------------------------------------------------------------------------


async def create(conn: Conn, batch: Batch, item: dict[str, Any]) -> Applied:
    """A job in CONFIGURATION."""
    source, target = item.get("source_endpoint") or {}, item.get("target_endpoint") or {}
    drs_rules.check_engine(
        engine_type=item.get("engine_type"), db_use_type=item.get("db_use_type"), source=source, target=target
    )
    drs_rules.check_task_type(item.get("task_type"))
    sealed = {
        side: e["db_password_sealed"]
        for side, e in (("source", source), ("target", target))
        if e.get("db_password_sealed")
    }
    definition = {k: v for k, v in item.items() if k not in ("job_id", "source_endpoint", "target_endpoint")}
    definition.setdefault("task_type", "FULL_INCR_TRANS")
    row = await conn.fetchrow(
        """
        INSERT INTO drs_jobs (id, org_id, project_id, name, status, definition, source_endpoint, target_endpoint,
            sealed_secrets)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING name, status, created_at
        """,
        item["job_id"],
        batch.org_id,
        batch.project_id,
        item["name"],
        DrsJobStatus.CONFIGURATION.value,
        definition,
        _endpoint(source),
        _endpoint(target),
        sealed,
    )
    assert row is not None  # noqa: S101
    created_ms = str(int(row["created_at"].timestamp() * 1000))
    return {"name": row["name"], "status": row["status"], "create_time": created_ms}, []


async def test_connection(conn: Conn, batch: Batch, item: dict[str, Any]) -> Applied:
    """Test the source (`so`) or target (`ta`) for real; a passed test keeps the endpoint it tested."""
    job = await _job(conn, batch, item["id"])
    if job["status"] != DrsJobStatus.CONFIGURATION:
        raise wrong_state(job["status"], "test connection")
    side = {"so": "source", "ta": "target"}.get(item.get("end_point_type") or "")
    if side is None:
        raise invalid("end_point_type", "Expected so or ta.")
    endpoint = job[f"{side}_endpoint"] | {k: item[k] for k in _ENDPOINT_FIELDS if item.get(k) is not None}
    sealed = dict(job["sealed_secrets"])
    if item.get("db_password_sealed"):
        sealed[side] = item["db_password_sealed"]
    problem = await drs_checks.test_endpoint(endpoint, password=_password(batch, sealed.get(side)), reach=batch.reach)
    if problem is not None:
        await _save(conn, job["id"], **{f"{side}_tested": False})
        return {"tested": False, "error_code": FAILED, "error_msg": problem}, []
    await _save(conn, job["id"], **{f"{side}_endpoint": endpoint, f"{side}_tested": True, "sealed_secrets": sealed})
    return {"tested": True}, []


async def modify(conn: Conn, batch: Batch, item: dict[str, Any]) -> Applied:
    """Change what is given; changing where an endpoint points needs its connection tested again."""
    job = await _job(conn, batch, item["job_id"])
    if job["status"] != DrsJobStatus.CONFIGURATION:
        raise wrong_state(job["status"], "modify")
    drs_rules.check_task_type(item.get("task_type"))
    definition = job["definition"] | {k: item[k] for k in _MODIFIABLE if item.get(k) is not None}
    changes: dict[str, Any] = {"modified": True, "definition": definition, "name": definition["name"]}
    sealed = dict(job["sealed_secrets"])
    for side in ("source", "target"):
        given = item.get(f"{side}_endpoint")
        if not given:
            continue
        merged = job[f"{side}_endpoint"] | _endpoint(given)
        changes[f"{side}_endpoint"] = merged
        if any(merged.get(k) != job[f"{side}_endpoint"].get(k) for k in _ADDRESS):
            changes[f"{side}_tested"] = False
        if given.get("db_password_sealed"):
            sealed[side] = given["db_password_sealed"]
            changes[f"{side}_tested"] = False
    changes["sealed_secrets"] = sealed
    drs_rules.check_engine(
        engine_type=definition.get("engine_type"),
        db_use_type=definition.get("db_use_type"),
        source=changes.get("source_endpoint", job["source_endpoint"]),
        target=changes.get("target_endpoint", job["target_endpoint"]),
    )
    await _save(conn, job["id"], **changes)
    return None, []


async def select_objects(conn: Conn, batch: Batch, item: dict[str, Any]) -> Applied:
    """The tables the job moves, resolved against the source and checked to exist."""
    job = await _job(conn, batch, item["job_id"])
    if job["status"] != DrsJobStatus.CONFIGURATION:
        raise wrong_state(job["status"], "select objects")
    if not job["source_tested"]:
        raise wrong_state(job["status"], "select objects before the source connection test passed")
    if item.get("selected") is not False and not item.get("job"):
        raise empty("job")
    password = _password(batch, job["sealed_secrets"].get("source"))
    tables = await drs_checks.resolve_tables(
        job["source_endpoint"], password=password, reach=batch.reach, selection=item
    )
    selection = {k: v for k, v in item.items() if k != "job_id"} | {"tables": tables}
    await _save(conn, job["id"], objects=selection, precheck=None)
    return None, []


async def set_policy(conn: Conn, batch: Batch, item: dict[str, Any]) -> Applied:
    """The sync policy: in CONFIGURATION once both connection tests passed and a modify succeeded; a Kafka
    target's Kafka fields also while the job replicates (`INCRE_TRANSFER_STARTED`), for its next run."""
    job = await _job(conn, batch, item["job_id"])
    status = await status_now(conn, job, now=batch.now)
    kafka = _kafka_target(job)
    if status is DrsJobStatus.INCRE_TRANSFER_STARTED and kafka:
        changed = [k for k, v in item.items() if v is not None and k not in (*drs_rules.KAFKA_FIELDS, "job_id")]
        if changed:
            raise wrong_state(status, f"change {changed[0]} while replicating")
    elif status is not DrsJobStatus.CONFIGURATION:
        raise wrong_state(status, "set sync policy")
    elif not (job["source_tested"] and job["target_tested"]):
        raise wrong_state(status, "set sync policy before both connection tests passed")
    elif not job["modified"]:
        raise wrong_state(status, "set sync policy before the job was modified")
    given = {k: v for k, v in item.items() if k != "job_id" and v is not None}
    policy = drs_rules.check_policy((job["policy"] or {}) | given, kafka_target=kafka)
    if status is DrsJobStatus.CONFIGURATION:
        await _save(conn, job["id"], policy=policy)
        return None, []
    # while replicating: the run stops and a new one goes on from the stream's position under the new policy
    job = await _save(
        conn,
        job["id"],
        policy=policy,
        status=DrsJobStatus.STARTJOBING.value,
        start_time=None,
        starts=job["starts"] + 1,
        last_start_at=batch.now,
    )
    await compiler.store_spec(conn, org_id=batch.org_id, job=job)
    at_ms = batch.received_at_ms + RESTART_AFTER_MS
    return None, [_stop(job, now=batch.now), _run_once(job, at_ms=at_ms, number=job["starts"], now=batch.now)]


def _configured(job: dict[str, Any]) -> str | None:
    """What a job still lacks before it can be checked and started."""
    if not (job["source_tested"] and job["target_tested"]):
        return "both connection tests must pass first"
    if not job["modified"]:
        return "the job must be modified first"
    if not (job["objects"] or {}).get("tables"):
        return "objects must be selected first"
    if _kafka_target(job) and not (job["policy"] or {}).get("topic_policy"):
        return "a Kafka target needs its sync policy first"
    return None


async def precheck(conn: Conn, batch: Batch, item: dict[str, Any]) -> Applied:
    """Check the job's endpoints and tables for real; the result is read with `batch-precheck-result`."""
    job = await _job(conn, batch, item["job_id"])
    if job["status"] != DrsJobStatus.CONFIGURATION:
        raise wrong_state(job["status"], "precheck")
    lacking = _configured(job)
    if lacking is not None:
        raise wrong_state(job["status"], f"precheck: {lacking}")
    sealed = job["sealed_secrets"]
    streams = job["definition"].get("task_type") != "FULL_TRANS"
    items, rows = await drs_checks.precheck_source(
        job["source_endpoint"],
        password=_password(batch, sealed.get("source")),
        reach=batch.reach,
        tables=job["objects"]["tables"],
        streams=streams,
    )
    items += await drs_checks.precheck_target(
        job["target_endpoint"], password=_password(batch, sealed.get("target")), reach=batch.reach
    )
    precheck_id = f"pc-{uuid.uuid4().hex}"
    result = {
        "precheck_id": precheck_id,
        "result": all(i["result"] == "success" for i in items),
        "items": items,
        "precheck_mode": item.get("precheck_mode") or "forStartJob",
        "rows": rows,
    }
    await _save(conn, job["id"], precheck=result, source_rows=sum(rows.values()))
    return {"precheck_id": precheck_id}, []


def _start_ms(batch: Batch, item: dict[str, Any]) -> int:
    text = str(item.get("start_time") or "").strip()
    if not text:
        return batch.received_at_ms
    if not text.isdigit():
        raise invalid("start_time", "Epoch milliseconds.")
    return int(text)


def _run_once(job: dict[str, Any], *, at_ms: int, number: int, now: datetime) -> SchedulesConfigured:
    schedule = Schedule(schedule_id=f"start-{number}", kind=ScheduleKind.ONCE, start_at=at_ms)
    return SchedulesConfigured(
        sync_id=job["id"], schedules=(schedule,), retry=RetryPolicy(max_attempts=1), configured_at=now
    )


def _stop(job: dict[str, Any], *, now: datetime) -> SchedulesConfigured:
    return SchedulesConfigured(sync_id=job["id"], schedules=(), active=False, stop_runs=True, configured_at=now)


async def start(conn: Conn, batch: Batch, item: dict[str, Any]) -> Applied:
    """Compile the job and schedule its run, now or at `start_time` (epoch ms)."""
    job = await _job(conn, batch, item["job_id"])
    if job["status"] != DrsJobStatus.CONFIGURATION:
        raise wrong_state(job["status"], "start")
    if not (job["precheck"] or {}).get("result"):
        raise wrong_state(job["status"], "start before a precheck passed")
    at_ms = _start_ms(batch, item)
    job = await _save(
        conn,
        job["id"],
        status=DrsJobStatus.STARTJOBING.value,
        start_time=datetime.fromtimestamp(at_ms / 1000, UTC),
        starts=job["starts"] + 1,
        last_start_at=batch.now,
    )
    await compiler.store_spec(conn, org_id=batch.org_id, job=job)
    return None, [_run_once(job, at_ms=at_ms, number=job["starts"], now=batch.now)]


async def pause(conn: Conn, batch: Batch, item: dict[str, Any]) -> Applied:
    """Stop the job's run; its stream keeps its position for the resume."""
    job = await _job(conn, batch, item["job_id"])
    status = await status_now(conn, job, now=batch.now)
    if status not in _RUNNING:
        raise wrong_state(status, "pause")
    if item.get("pause_mode") not in (None, "target", "all"):
        raise invalid("pause_mode", "Expected target or all.")
    await _save(conn, job["id"], status=DrsJobStatus.PAUSING.value)
    return None, [_stop(job, now=batch.now)]


async def resume(conn: Conn, batch: Batch, item: dict[str, Any]) -> Applied:
    """Start a paused or failed job again, from where its stream stopped (a moment later if its last run is still
    stopping: `start_skipped`)."""
    job = await _job(conn, batch, item["job_id"])
    status = await status_now(conn, job, now=batch.now)
    if status not in _RESUMABLE:
        raise wrong_state(status, "resume")
    job = await _save(
        conn,
        job["id"],
        status=DrsJobStatus.STARTJOBING.value,
        start_time=None,
        starts=job["starts"] + 1,
        last_start_at=batch.now,
    )
    await compiler.store_spec(conn, org_id=batch.org_id, job=job)
    return None, [_run_once(job, at_ms=batch.received_at_ms, number=job["starts"], now=batch.now)]


async def delete(conn: Conn, batch: Batch, item: dict[str, Any]) -> Applied:
    """`terminate`/`force_terminate`: stop the run and give the slot and publication back; `delete`: forget a job
    that runs no more."""
    job = await _job(conn, batch, item["job_id"])
    status = await status_now(conn, job, now=batch.now)
    released = DrsJobReleased(sync_id=job["id"], project_id=batch.project_id)
    match item.get("delete_type"):
        case "terminate" | "force_terminate":
            if status in _DELETABLE or status is DrsJobStatus.RELEASE_RESOURCE_STARTED:
                raise wrong_state(status, "terminate")
            await _save(conn, job["id"], status=DrsJobStatus.RELEASE_RESOURCE_STARTED.value)
            return None, [_stop(job, now=batch.now), released]
        case "delete":
            if status not in _DELETABLE and status is not DrsJobStatus.FULL_TRANSFER_COMPLETE:
                raise wrong_state(status, "delete (terminate the job first)")
            await _save(conn, job["id"], status=DrsJobStatus.DELETED.value)
            return None, [_stop(job, now=batch.now), released]
        case None:
            raise empty("delete_type")
        case _:
            raise invalid("delete_type", "Expected terminate, force_terminate or delete.")


async def start_skipped(conn: Conn, *, org_id: str, skipped: ScheduleSkipped) -> list[Message]:
    """The job's latest start met its previous run still stopping: schedule it again, a moment later."""
    row = await conn.fetchrow(
        "SELECT * FROM drs_jobs WHERE id = $1 AND org_id = $2 AND status = $3 FOR UPDATE",
        skipped.sync_id,
        org_id,
        DrsJobStatus.STARTJOBING.value,
    )
    if row is None or skipped.schedule_id != f"start-{row['starts']}":
        return []
    now = datetime.now(UTC)
    job = await _save(conn, row["id"], starts=row["starts"] + 1)
    at_ms = int(now.timestamp() * 1000) + RESTART_AFTER_MS
    return [_run_once(job, at_ms=at_ms, number=job["starts"], now=now)]


_ACTIONS: dict[DrsAction, Callable[[Conn, Batch, dict[str, Any]], Awaitable[Applied]]] = {
    DrsAction.CREATE: create,
    DrsAction.TEST_CONNECTION: test_connection,
    DrsAction.MODIFY: modify,
    DrsAction.SELECT_OBJECTS: select_objects,
    DrsAction.SET_POLICY: set_policy,
    DrsAction.PRECHECK: precheck,
    DrsAction.START: start,
    DrsAction.PAUSE: pause,
    DrsAction.RESUME: resume,
    DrsAction.DELETE: delete,
}
