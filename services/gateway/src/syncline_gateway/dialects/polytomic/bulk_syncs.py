"""Bulk syncs: `/api/bulk/syncs[/{id}[/activate]]`.

Writes are commands on `syncline.syncs.commands.v1`; policy validates (connections, enums, schedules,
selection) and answers on `syncline.syncs.events.v1`. Each answer carries the schedules in the shape of the
request's `X-Polytomic-Version`.
"""

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from syncline_contracts.syncs import (
    ActivateBulkSync,
    BulkSyncDefinition,
    BulkSyncSchedule,
    CreateBulkSync,
    DeleteBulkSync,
    UpdateBulkSync,
)
from syncline_contracts.topics import SYNC_COMMANDS
from syncline_gateway.credentials import Principal
from syncline_gateway.dialects.polytomic import queries, rendering
from syncline_gateway.dialects.polytomic.auth import acting_org, scope
from syncline_gateway.dialects.polytomic.common import Caller, answer
from syncline_gateway.dialects.polytomic.models import (
    ActivateEnvelope,
    ActivateIn,
    BulkSyncEnvelope,
    BulkSyncIn,
    BulkSyncListEnvelope,
    BulkSyncPendingEnvelope,
    parse,
)
from syncline_gateway.dialects.polytomic.versions import version_of
from syncline_gateway.errors import BadRequestError, ForbiddenError, ResourceNotFoundError
from syncline_gateway.openapi_bodies import answers, json_body
from syncline_gateway.routing import once, pool_of, send

router = APIRouter(tags=["polytomic"])
PAGE_LIMIT = 50
"""The largest (and default) page of `GET /api/bulk/syncs`."""


def definition(body: BulkSyncIn, *, schedules: tuple[BulkSyncSchedule, ...]) -> BulkSyncDefinition:
    """The command's definition of a sync; fields left out take their defaults (a full replace)."""
    add_objects = body.automatically_add_new_objects or ("all" if body.discover else "none")
    return BulkSyncDefinition(
        name=body.name,
        source_connection_id=body.source_connection_id,
        destination_connection_id=body.destination_connection_id,
        active=bool(body.active),
        mode=body.mode or "snapshot",
        source_configuration=body.source_configuration or {},
        destination_configuration=body.destination_configuration,
        automatically_add_new_objects=add_objects,
        automatically_add_new_fields=body.automatically_add_new_fields or "all",
        normalize_names=body.normalize_names or "enabled",
        data_cutoff_timestamp=body.data_cutoff_timestamp,
        disable_record_timestamps=bool(body.disable_record_timestamps),
        concurrency_limit=body.concurrency_limit,
        resync_concurrency_limit=body.resync_concurrency_limit,
        policies=tuple(body.policies or ()),
        schedules=schedules,
        schemas=body.selection(),
    )


async def read_sync(request: Request, caller: Principal, sync_id: str) -> dict[str, Any]:
    """A bulk sync in the caller's scope, or a 404."""
    async with pool_of(request).acquire() as conn:
        row = await queries.sync(conn, org_id=scope(caller), sync_id=sync_id)
    if row is None:
        raise ResourceNotFoundError(kind="bulk sync", resource_id=sync_id, message=f"bulk sync {sync_id} not found")
    return row


async def rendered(request: Request, caller: Principal, sync_id: str) -> dict[str, Any]:
    """A bulk sync as the caller's version shows it."""
    row = await read_sync(request, caller, sync_id)
    async with pool_of(request).acquire() as conn:
        schedules = await queries.schedules(conn, sync_ids=[sync_id])
    return rendering.bulk_sync(row, schedules[sync_id], version=version_of(request))


@router.post(
    "/api/bulk/syncs",
    openapi_extra=json_body(BulkSyncIn),
    responses=answers({200: BulkSyncEnvelope, 202: BulkSyncPendingEnvelope}),
)
async def create_bulk_sync(request: Request, caller: Caller) -> Response:
    return await once(request, caller, lambda: _create(request, caller))


async def _create(request: Request, caller: Principal) -> Response:
    version_of(request)
    body = parse(await request.body(), BulkSyncIn)
    org_id = await acting_org(request, caller, body.organization_id)
    command = CreateBulkSync(
        sync_id=str(uuid.uuid4()),
        definition=definition(body, schedules=body.compiled_schedules()),
        actor=caller.key_id,
    )
    if await send(request, topic=SYNC_COMMANDS, message=command, org_id=org_id) is None:
        return answer({"id": command.sync_id, "name": body.name}, 202)
    return answer(await rendered(request, caller, command.sync_id))


def _token(value: str | None) -> tuple[datetime, str] | None:
    if not value:
        return None
    try:
        stamp, sync_id = json.loads(base64.urlsafe_b64decode(value.encode()))
        return datetime.fromisoformat(stamp), str(sync_id)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise BadRequestError("page_token is not a token this API returned") from exc


def _next_token(rows: list[dict[str, Any]], *, limit: int) -> str:
    if len(rows) < limit:
        return ""
    last = rows[-1]
    return base64.urlsafe_b64encode(json.dumps([last["updated_at"].isoformat(), last["id"]]).encode()).decode()


@router.get("/api/bulk/syncs", responses=answers({200: BulkSyncListEnvelope}))
async def list_bulk_syncs(
    request: Request,
    caller: Caller,
    *,
    active: bool | None = None,
    page_token: str | None = None,
    limit: Annotated[int, Query(ge=1)] = PAGE_LIMIT,
) -> JSONResponse:
    version = version_of(request)
    limit = min(limit, PAGE_LIMIT)
    async with pool_of(request).acquire() as conn:
        rows = await queries.syncs_page(
            conn, org_id=scope(caller), active=active, after=_token(page_token), limit=limit
        )
        schedules = await queries.schedules(conn, sync_ids=[r["id"] for r in rows])
    data = [rendering.bulk_sync(r, schedules[r["id"]], version=version) for r in rows]
    return JSONResponse({"data": data, "pagination": {"next_page_token": _next_token(rows, limit=limit)}})


@router.get("/api/bulk/syncs/{sync_id}", responses=answers({200: BulkSyncEnvelope}))
async def get_bulk_sync(
    request: Request, sync_id: str, caller: Caller, *, refresh_schemas: bool = False
) -> JSONResponse:
    del refresh_schemas  # schemas are discovered when the sync is configured and before each run
    return answer(await rendered(request, caller, sync_id))


async def _default_id(request: Request, sync_id: str) -> str | None:
    async with pool_of(request).acquire() as conn:
        schedules = (await queries.schedules(conn, sync_ids=[sync_id]))[sync_id]
    return next((s["id"] for s in schedules if s["is_default"]), None)


@router.put(
    "/api/bulk/syncs/{sync_id}",
    openapi_extra=json_body(BulkSyncIn),
    responses=answers({200: BulkSyncEnvelope, 202: BulkSyncPendingEnvelope}),
)
async def update_bulk_sync(request: Request, sync_id: str, caller: Caller) -> Response:
    return await once(request, caller, lambda: _update(request, caller, sync_id))


async def _update(request: Request, caller: Principal, sync_id: str) -> Response:
    version_of(request)
    body = parse(await request.body(), BulkSyncIn)
    row = await read_sync(request, caller, sync_id)
    if body.organization_id and body.organization_id != row["org_id"]:
        raise ForbiddenError(f"bulk sync {sync_id} belongs to another organization")
    schedules = list(body.compiled_schedules())
    kept = await _default_id(request, sync_id)
    if kept and not any(s.schedule_id == kept for s in schedules):  # the default keeps its id (and history)
        schedules[0] = schedules[0].model_copy(update={"schedule_id": kept})
    command = UpdateBulkSync(
        sync_id=sync_id, definition=definition(body, schedules=tuple(schedules)), actor=caller.key_id
    )
    if await send(request, topic=SYNC_COMMANDS, message=command, org_id=row["org_id"]) is None:
        return answer({"id": sync_id, "name": body.name}, 202)
    return answer(await rendered(request, caller, sync_id))


@router.delete("/api/bulk/syncs/{sync_id}", status_code=204)
async def delete_bulk_sync(
    request: Request, sync_id: str, caller: Caller, *, refresh_schemas: bool = False
) -> Response:
    del refresh_schemas
    row = await read_sync(request, caller, sync_id)
    await send(request, topic=SYNC_COMMANDS, message=DeleteBulkSync(sync_id=sync_id), org_id=row["org_id"])
    return Response(status_code=204)


@router.post(
    "/api/bulk/syncs/{sync_id}/activate",
    openapi_extra=json_body(ActivateIn),
    responses=answers({200: ActivateEnvelope}),
)
async def activate_bulk_sync(request: Request, sync_id: str, caller: Caller) -> Response:
    return await once(request, caller, lambda: _activate(request, caller, sync_id))


async def _activate(request: Request, caller: Principal, sync_id: str) -> Response:
    body = parse(await request.body(), ActivateIn)
    row = await read_sync(request, caller, sync_id)
    command = ActivateBulkSync(sync_id=sync_id, active=body.active, actor=caller.key_id)
    await send(request, topic=SYNC_COMMANDS, message=command, org_id=row["org_id"])
    return answer({"id": sync_id, "active": body.active})
