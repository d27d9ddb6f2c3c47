"""Bulk-sync executions: start, list, get, cancel, and the sync's status.

A start is `CreateSyncJob` on `syncline.runs.commands.v1` (the run id chosen here, the start options kept on the
run); the scheduler snapshots the sync's compiled spec and the executor moves the data. Reads come from the
scheduler's runs and schedules and the executor's checkpoints (read-only); cancels are `CancelRun`.
"""

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from syncline_contracts.runs import CancelRun, CreateSyncJob
from syncline_contracts.topics import RUN_COMMANDS
from syncline_gateway.credentials import Principal
from syncline_gateway.dialects.polytomic import execution_queries as q
from syncline_gateway.dialects.polytomic import queries
from syncline_gateway.dialects.polytomic.bulk_syncs import read_sync
from syncline_gateway.dialects.polytomic.common import Caller, answer
from syncline_gateway.dialects.polytomic.execution_rendering import execution
from syncline_gateway.dialects.polytomic.models import (
    Body,
    ExecutionEnvelope,
    ExecutionListEnvelope,
    ExecutionStartEnvelope,
    MessageEnvelope,
    SyncStatusEnvelope,
    parse,
)
from syncline_gateway.dialects.polytomic.rendering import RESYNC_MODES, iso
from syncline_gateway.errors import BadRequestError, RejectedError, ResourceNotFoundError
from syncline_gateway.openapi_bodies import answers, json_body
from syncline_gateway.routing import once, pool_of, send

router = APIRouter(tags=["polytomic"])
PAGE_LIMIT = 100
"""The largest page of `GET .../executions`."""


class StartIn(Body):
    """`POST /api/bulk/syncs/{id}/executions`."""

    fetch_mode: Literal["none", "incremental", "full"] | None = None
    resync_mode: str | None = None
    schemas: list[str] | None = None
    test: bool | None = None
    resync: bool | None = None


def _options(body: StartIn) -> dict[str, Any]:
    resync_mode = body.resync_mode or ("rebuild" if body.resync else None)
    if resync_mode is not None and resync_mode not in RESYNC_MODES:
        raise BadRequestError(f"resync_mode must be one of {', '.join(RESYNC_MODES)}")
    if body.test and resync_mode:
        raise BadRequestError("test and resync_mode cannot be used together")
    options: dict[str, Any] = {"fetch_mode": body.fetch_mode, "resync_mode": resync_mode, "test": body.test}
    if body.schemas:
        options["schemas"] = list(dict.fromkeys(body.schemas))
    return {k: v for k, v in options.items() if v is not None}


async def _check_schemas(request: Request, *, sync_id: str, schemas: list[str]) -> None:
    async with pool_of(request).acquire() as conn:
        known = {o["id"] for o in await queries.objects(conn, sync_id=sync_id, enabled=True)}
    unknown = [s for s in schemas if s not in known]
    if unknown:
        raise BadRequestError(f"schema [{unknown[0]}] is not an enabled schema of bulk sync {sync_id}")


async def _detail(request: Request, run: dict[str, Any]) -> dict[str, Any]:
    async with pool_of(request).acquire() as conn:
        return execution(run, await q.checkpoints(conn, run_id=run["id"]))


@router.post(  # the body is optional: a start without one takes the defaults
    "/api/bulk/syncs/{sync_id}/executions",
    openapi_extra={"requestBody": json_body(StartIn)["requestBody"] | {"required": False}},
    responses=answers({200: ExecutionStartEnvelope}),
)
async def start_execution(request: Request, sync_id: str, caller: Caller) -> Response:
    return await once(request, caller, lambda: _start(request, caller, sync_id))


async def _start(request: Request, caller: Principal, sync_id: str) -> Response:
    raw = await request.body()
    body = parse(raw, StartIn) if raw.strip() else StartIn()
    options = _options(body)
    row = await read_sync(request, caller, sync_id)
    await _check_schemas(request, sync_id=sync_id, schemas=options.get("schemas", []))
    # the scheduler refuses the start (409) while another execution is going, under the sync's lock
    command = CreateSyncJob(run_id=str(uuid.uuid4()), sync_id=sync_id, options=options, exclusive=True)
    await send(request, topic=RUN_COMMANDS, message=command, org_id=row["org_id"], invalid_is_400=True)
    async with pool_of(request).acquire() as conn:
        run = await q.run(conn, sync_id=sync_id, run_id=command.run_id)
    if run is None:  # the scheduler has not answered within the bound: the run is on its way
        return answer({"id": command.run_id, "status": "created", "type": "bulk", "schemas": []})
    return answer(await _detail(request, run))


def _token(value: str | None) -> tuple[datetime, str] | None:
    if not value:
        return None
    try:
        stamp, run_id = json.loads(base64.urlsafe_b64decode(value.encode()))
        return datetime.fromisoformat(stamp), str(run_id)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise BadRequestError("page_token is not a token this API returned") from exc


def _next_token(rows: list[dict[str, Any]], *, limit: int) -> str | None:
    if len(rows) < limit:
        return None
    last = rows[-1]
    return base64.urlsafe_b64encode(json.dumps([last["created_at"].isoformat(), last["id"]]).encode()).decode()


@router.get("/api/bulk/syncs/{sync_id}/executions", responses=answers({200: ExecutionListEnvelope}))
async def list_executions(
    request: Request,
    sync_id: str,
    caller: Caller,
    *,
    page_token: str | None = None,
    limit: Annotated[int, Query(ge=1)] = PAGE_LIMIT,
    only_terminal: bool = False,
    ascending: bool = False,
) -> JSONResponse:
    await read_sync(request, caller, sync_id)
    limit = min(limit, PAGE_LIMIT)
    async with pool_of(request).acquire() as conn:
        rows = await q.runs_page(
            conn,
            sync_id=sync_id,
            only_terminal=only_terminal,
            ascending=ascending,
            after=_token(page_token),
            limit=limit,
        )
    data = [execution(r) for r in rows]
    return JSONResponse({"data": data, "pagination": {"next_page_token": _next_token(rows, limit=limit)}})


async def run_or_404(request: Request, caller: Principal, sync_id: str, execution_id: str) -> dict[str, Any]:
    """An execution of a bulk sync in the caller's scope, or a 404."""
    await read_sync(request, caller, sync_id)
    async with pool_of(request).acquire() as conn:
        run = await q.run(conn, sync_id=sync_id, run_id=execution_id)
    if run is None:
        raise ResourceNotFoundError(
            kind="execution", resource_id=execution_id, message=f"execution {execution_id} not found"
        )
    return run


@router.get("/api/bulk/syncs/{sync_id}/executions/{execution_id}", responses=answers({200: ExecutionEnvelope}))
async def get_execution(request: Request, sync_id: str, execution_id: str, caller: Caller) -> JSONResponse:
    return answer(await _detail(request, await run_or_404(request, caller, sync_id, execution_id)))


async def _cancel(request: Request, run: dict[str, Any]) -> str:
    """Ask for a run's cancellation; what to tell the caller."""
    try:
        await send(request, topic=RUN_COMMANDS, message=CancelRun(run_id=run["id"]), org_id=run["org_id"])
    except RejectedError as exc:
        if exc.code != "illegal_transition":
            raise
        return f"execution {run['id']} is not running"
    return f"cancellation of execution {run['id']} requested"


@router.post("/api/bulk/syncs/{sync_id}/executions/{execution_id}/cancel", responses=answers({200: MessageEnvelope}))
async def cancel_execution(request: Request, sync_id: str, execution_id: str, caller: Caller) -> Response:
    run = await run_or_404(request, caller, sync_id, execution_id)
    return await once(request, caller, lambda: _answer_cancel(request, run))


async def _answer_cancel(request: Request, run: dict[str, Any] | None) -> Response:
    if run is None:
        return answer({"message": "no execution is running"})
    return answer({"message": await _cancel(request, run)})


@router.post("/api/bulk/syncs/{sync_id}/cancel", responses=answers({200: MessageEnvelope}))
async def cancel_bulk_sync(request: Request, sync_id: str, caller: Caller) -> Response:
    await read_sync(request, caller, sync_id)
    async with pool_of(request).acquire() as conn:
        run = await q.active_run(conn, sync_id=sync_id)
    return await once(request, caller, lambda: _answer_cancel(request, run))


@router.get("/api/bulk/syncs/{sync_id}/status", responses=answers({200: SyncStatusEnvelope}))
async def bulk_sync_status(request: Request, sync_id: str, caller: Caller) -> JSONResponse:
    await read_sync(request, caller, sync_id)
    async with pool_of(request).acquire() as conn:
        current = await q.active_run(conn, sync_id=sync_id)
        last = await q.last_terminal_run(conn, sync_id=sync_id)
        next_time = await q.next_fire(conn, sync_id=sync_id)
        current_data = execution(current, await q.checkpoints(conn, run_id=current["id"])) if current else None
        last_data = execution(last, await q.checkpoints(conn, run_id=last["id"])) if last else None
    return answer(
        {
            "current_execution": current_data,
            "last_execution": last_data,
            "next_execution_time": iso(next_time),
            "ingestion_status": None,
        }
    )
