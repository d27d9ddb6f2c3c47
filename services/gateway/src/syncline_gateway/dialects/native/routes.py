"""The native API's routes (`/v1`): syncs and runs of every dialect in one list, run detail, run start and
cancel, keys and connections. Reads come from the read models (`reads`); a start or cancel is one command on
`syncline.runs.commands.v1`, answered by the scheduler's run event. The live events are in `events`."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from syncline_contracts.status import RunStatus
from syncline_gateway import repository, run_logs
from syncline_gateway.credentials import Credentials, Principal, new_key_pair
from syncline_gateway.dialects.native import commands, reads
from syncline_gateway.dialects.native.auth import Caller
from syncline_gateway.dialects.native.kafka import access_of
from syncline_gateway.dialects.native.models import (
    CancelOut,
    ConnectionList,
    ConnectionOut,
    ErrorOut,
    KeyCreate,
    KeyList,
    KeyOut,
    NewKey,
    ObjectStats,
    RunAccepted,
    RunDetail,
    RunList,
    RunLogLine,
    RunLogList,
    RunOut,
    RunStart,
    SyncList,
    SyncOut,
)
from syncline_gateway.errors import RejectedError, ResourceNotFoundError
from syncline_gateway.openapi_bodies import answers
from syncline_gateway.routing import once, pool_of, send
from syncline_platform.secrets import Sealer

ERRORS = answers(dict.fromkeys((400, 401, 404, 409, 413, 422, 503, "default"), ErrorOut))
"""Every route may answer these, in the native error body (any status a route does not list is an error too)."""

router = APIRouter(prefix="/v1", tags=["native"], responses=ERRORS)
PAGE_LIMIT = 500
"""The largest page of `GET /v1/runs`."""


@router.get("/syncs", response_model=SyncList)
async def list_syncs(request: Request, caller: Caller, dialect: str | None = None) -> SyncList:
    """The organisation's syncs of every dialect, by dialect and name; `dialect` keeps one dialect's."""
    async with pool_of(request).acquire() as conn:
        rows = await reads.syncs(conn, org_id=caller.org_id, dialect=dialect)
    return SyncList(data=[SyncOut.model_validate(r) for r in rows])


def run_out(row: dict[str, Any]) -> dict[str, Any]:
    """A run row of the read model → the fields of `RunOut`."""
    return {
        **row,
        "rows_written": row["indexed_document_count"],
        "rows_deleted": row["deleted_document_count"],
        "bytes_written": row["indexed_document_volume"],
        "worker": row["worker_hostname"],
    }


@router.get("/runs", response_model=RunList)
async def list_runs(
    request: Request,
    caller: Caller,
    *,
    dialect: str | None = None,
    status: Annotated[list[RunStatus] | None, Query()] = None,
    sync_id: str | None = None,
    since: datetime | None = None,
    before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 100,
) -> RunList:
    """The organisation's runs of every dialect, newest first: `dialect`, `status` (repeatable), `sync_id`,
    created at or after `since` and before `before` (the previous page's `next_before`)."""
    where = reads.RunFilter(
        dialect=dialect,
        statuses=[s.value for s in status] if status else None,
        sync_id=sync_id,
        since=since,
        before=before,
    )
    async with pool_of(request).acquire() as conn:
        rows = await reads.runs(conn, org_id=caller.org_id, where=where, limit=limit)
    next_before = rows[-1]["created_at"] if len(rows) == limit else None
    return RunList(data=[RunOut.model_validate(run_out(r)) for r in rows], next_before=next_before)


async def _run_or_404(request: Request, caller: Principal, run_id: str) -> dict[str, Any]:
    async with pool_of(request).acquire() as conn:
        return await commands.run_or_404(conn, org_id=caller.org_id, run_id=run_id)


@router.get("/runs/{run_id}", response_model=RunDetail)
async def get_run(request: Request, run_id: str, caller: Caller) -> RunDetail:
    """A run with its per-object stats and errors."""
    row = await _run_or_404(request, caller, run_id)
    async with pool_of(request).acquire() as conn:
        objects = await reads.checkpoints(conn, run_id=run_id)
    return RunDetail.model_validate(run_out(row) | {"objects": [ObjectStats.model_validate(o) for o in objects]})


@router.get("/runs/{run_id}/logs", response_model=RunLogList)
async def get_run_logs(
    request: Request,
    run_id: str,
    caller: Caller,
    *,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=run_logs.MAX_LINES)] = run_logs.MAX_LINES,
) -> RunLogList:
    """A run's log lines, oldest first: what its executor did (objects moved with their counts, failures,
    cancels, the end); `after` (a line's `seq`) answers only the lines after it."""
    await _run_or_404(request, caller, run_id)
    async with pool_of(request).acquire() as conn:
        found = await run_logs.lines(conn, org_id=caller.org_id, run_id=run_id, after=after, limit=limit)
    return RunLogList(data=[RunLogLine.model_validate(line) for line in found], next_after=_last_seq(found, after))


def _last_seq(found: list[dict[str, Any]], after: int | None) -> int | None:
    return found[-1]["seq"] if found else after


@router.post("/runs", response_model=RunOut, status_code=201, responses={202: {"model": RunAccepted}})
async def start_run(request: Request, body: RunStart, caller: Caller) -> Response:
    """Start a run of a sync now (409 while another run of it is going). 201 with the run; 202 when the scheduler
    has not answered within the gateway's bound. With `Idempotency-Key`, the first answer is replayed (24 h)."""
    return await once(request, caller, lambda: _start(request, body, caller))


async def _start(request: Request, body: RunStart, caller: Principal) -> Response:
    async with pool_of(request).acquire() as conn:
        command = await commands.start_run(
            conn, org_id=caller.org_id, sync_id=body.sync_id, job_type=body.job_type, run_id=str(uuid.uuid4())
        )
    await send(request, topic=command.topic, message=command.message, org_id=caller.org_id)
    async with pool_of(request).acquire() as conn:
        row = await reads.run(conn, org_id=caller.org_id, run_id=command.resource_id)
    if row is None:  # the scheduler has not answered within the bound: the run is on its way
        accepted = RunAccepted(
            id=command.resource_id, sync_id=body.sync_id, message="the run is on its way: read it later"
        )
        return JSONResponse(accepted.model_dump(mode="json"), status_code=202)
    return JSONResponse(RunOut.model_validate(run_out(row)).model_dump(mode="json"), status_code=201)


@router.post("/runs/{run_id}/cancel", response_model=CancelOut, status_code=202)
async def cancel_run(request: Request, run_id: str, caller: Caller) -> CancelOut:
    """Cancel a run: a pending one at once, a running one when its executor next checks in (a second or two).
    409 when it has ended."""
    row = await _run_or_404(request, caller, run_id)
    async with pool_of(request).acquire() as conn:
        command = await commands.cancel_run(conn, org_id=caller.org_id, run_id=run_id)
    try:
        await send(request, topic=command.topic, message=command.message, org_id=caller.org_id)
    except RejectedError as exc:
        if exc.code == "illegal_transition":
            raise RejectedError(
                code="conflict", reason=f"run {run_id} is {row['status']}: it cannot be canceled"
            ) from exc
        raise
    row = await _run_or_404(request, caller, run_id)
    return CancelOut(run=RunOut.model_validate(run_out(row)), message=f"cancellation of run {run_id} requested")


@router.get("/keys", response_model=KeyList)
async def list_keys(request: Request, caller: Caller) -> KeyList:
    """The organisation's key pairs, revoked ones included, newest first; never their secrets."""
    async with pool_of(request).acquire() as conn:
        rows = await reads.keys(conn, org_id=caller.org_id)
    return KeyList(data=[KeyOut.model_validate(r) for r in rows])


@router.post("/keys", response_model=NewKey, status_code=201)
async def create_key(request: Request, caller: Caller, body: KeyCreate | None = None) -> NewKey:
    """A new key pair of the caller's organisation (no body, or `{}`); its secret is answered now only."""
    del body
    sealer: Sealer = request.app.state.sealer
    pair = new_key_pair()
    async with pool_of(request).acquire() as conn, conn.transaction():
        await repository.create_key(conn, key_id=pair.id, org_id=caller.org_id, sealed_secret=sealer.seal(pair.secret))
        row = await reads.key(conn, org_id=caller.org_id, key_id=pair.id)
        # the broker principal too (a failure there rolls the key back)
        await access_of(request).grant(org_id=caller.org_id, key_id=pair.id, secret=pair.secret)
    return NewKey.model_validate((row or {}) | {"secret": pair.secret, "encoded": pair.encoded})


@router.delete("/keys/{key_id}", response_model=KeyOut)
async def revoke_key(request: Request, key_id: str, caller: Caller) -> KeyOut:
    """Revoke a key pair of the organisation (the caller's own too). This replica refuses it at once; every
    other replica once its cached copy expires (`SYNCLINE_KEY_CACHE_S`); the broker at once (its credential and
    ACLs are removed)."""
    async with pool_of(request).acquire() as conn:
        row = await reads.revoke_key(conn, org_id=caller.org_id, key_id=key_id)
    if row is None:
        raise ResourceNotFoundError(kind="key", resource_id=key_id, message=f"key {key_id} not found")
    credentials: Credentials = request.app.state.credentials
    credentials.forget(key_id)
    await access_of(request).revoke(key_id=key_id)
    return KeyOut.model_validate(row)


def connection_out(row: dict[str, Any]) -> ConnectionOut:
    """A connection row → its answer, without its secrets (also any that a configuration might carry)."""
    sealed = set(row["sealed_secrets"] or {})
    configuration = {k: v for k, v in (row["configuration"] or {}).items() if k not in sealed}
    return ConnectionOut.model_validate(row | {"configuration": configuration, "secrets": sorted(sealed)})


@router.get("/connections", response_model=ConnectionList)
async def list_connections(request: Request, caller: Caller) -> ConnectionList:
    """The organisation's connections (made with any dialect), by name; secrets never shown."""
    async with pool_of(request).acquire() as conn:
        rows = await reads.connections(conn, org_id=caller.org_id)
    return ConnectionList(data=[connection_out(r) for r in rows])
