"""The status of many bulk syncs: `GET /api/bulk/syncs/status?all=&active=&sync_id=`.

A summary, not a history: per sync, the status of its current (else last) execution, its next scheduled time,
and each enabled schema once with the newest execution that moved it (a running one first), which may be an
older run than the last when later runs were partial. Reads the scheduler's runs and schedules and the executor's
checkpoints (read-only), rendered as `execution_rendering` renders an execution's schemas.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from syncline_gateway.credentials import Principal
from syncline_gateway.dialects.polytomic import execution_queries, status_queries
from syncline_gateway.dialects.polytomic.auth import scope
from syncline_gateway.dialects.polytomic.common import Caller, answer
from syncline_gateway.dialects.polytomic.execution_rendering import execution_status, schemas
from syncline_gateway.dialects.polytomic.models import SyncStatusesEnvelope
from syncline_gateway.dialects.polytomic.rendering import iso
from syncline_gateway.errors import BadRequestError, ResourceNotFoundError
from syncline_gateway.openapi_bodies import answers
from syncline_gateway.routing import pool_of
from syncline_platform.db import Conn

router = APIRouter(tags=["polytomic"])

SCHEMA_FIELDS = (
    "status",
    "status_message",
    "record_count",
    "error_count",
    "warning_count",
    "started_at",
    "completed_at",
)
"""What a `BulkSyncSchemaExecutionStatus` keeps of a rendered `BulkSyncSchemaExecution`."""


async def _targets(
    conn: Conn, caller: Principal, *, everything: bool, active: bool, sync_ids: list[str]
) -> list[dict[str, Any]]:
    """The syncs asked for: the caller's (active) ones with `all`/`active`, else the named ones, in their order."""
    if everything or active:
        return await status_queries.syncs(conn, org_id=scope(caller), sync_ids=None, active_only=active)
    found = {
        r["id"]: r for r in await status_queries.syncs(conn, org_id=scope(caller), sync_ids=sync_ids, active_only=False)
    }
    missing = next((s for s in sync_ids if s not in found), None)
    if missing is not None:
        raise ResourceNotFoundError(kind="bulk sync", resource_id=missing, message=f"bulk sync {missing} not found")
    return [found[s] for s in sync_ids]


def _no_execution(key: str) -> dict[str, Any]:
    return {"schema": key, "execution_id": None} | dict.fromkeys(SCHEMA_FIELDS)


async def _schema_statuses(conn: Conn, *, sync_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Per sync, each enabled schema with its newest execution's status (or none)."""
    latest = await status_queries.latest_runs_by_object(conn, sync_ids=sync_ids)
    runs = await status_queries.runs(conn, run_ids=list({r["run_id"] for r in latest if r["run_id"]}))
    rendered: dict[str, dict[str, dict[str, Any]]] = {}
    for run_id, run in runs.items():
        checkpoints = await execution_queries.checkpoints(conn, run_id=run_id)
        rendered[run_id] = {s["schema"]: s for s in schemas(run, checkpoints)}
    by_sync: dict[str, list[dict[str, Any]]] = {s: [] for s in sync_ids}
    for row in latest:
        found = rendered.get(row["run_id"] or "", {}).get(row["object"])
        entry = _no_execution(row["object"])
        if found is not None:
            entry |= {"execution_id": row["run_id"]} | {f: found[f] for f in SCHEMA_FIELDS}
        by_sync[row["sync_id"]].append(entry)
    return by_sync


async def _statuses(conn: Conn, *, sync_ids: list[str]) -> list[dict[str, Any]]:
    current = await status_queries.current_runs(conn, sync_ids=sync_ids)
    next_fires = await status_queries.next_fires(conn, sync_ids=sync_ids)
    by_sync = await _schema_statuses(conn, sync_ids=sync_ids)
    return [
        {
            "sync_id": sync_id,
            "status": execution_status(current[sync_id]) if sync_id in current else None,
            "nextExecutionTime": iso(next_fires.get(sync_id)),
            "schemas": by_sync[sync_id],
        }
        for sync_id in sync_ids
    ]


@router.get("/api/bulk/syncs/status", responses=answers({200: SyncStatusesEnvelope}))
async def bulk_syncs_status(
    request: Request,
    caller: Caller,
    *,
    everything: Annotated[bool, Query(alias="all")] = False,
    active: bool = False,
    sync_id: Annotated[list[str] | None, Query()] = None,
) -> JSONResponse:
    wanted = list(dict.fromkeys(s for s in sync_id or () if s))
    if not (everything or active or wanted):
        raise BadRequestError("one of all, active or sync_id is required")
    # one snapshot: a run finishing between the reads must not show in one and not in another
    async with pool_of(request).acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        targets = await _targets(conn, caller, everything=everything, active=active, sync_ids=wanted)
        return answer(await _statuses(conn, sync_ids=[t["id"] for t in targets]))
