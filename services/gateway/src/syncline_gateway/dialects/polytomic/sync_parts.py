"""A bulk sync's schedules (`/api/bulk/syncs/{id}/schedules[/{schedule_id}]`, camelCase answers) and schemas
(`/api/bulk/syncs/{id}/schemas[/{schema_id}]`). Changes are commands on `syncline.syncs.commands.v1`; cancelling
one schema (`.../schemas/{schema_id}/cancel`) is `CancelRunObject` on `syncline.runs.commands.v1` for each
execution still going that includes it (read from the scheduler's runs)."""

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from syncline_contracts.runs import CancelRunObject
from syncline_contracts.syncs import (
    AddBulkSyncSchedule,
    ChangeBulkSyncSchedule,
    ConfigureBulkSyncSchemas,
    RemoveBulkSyncSchedule,
)
from syncline_contracts.topics import RUN_COMMANDS, SYNC_COMMANDS
from syncline_gateway.credentials import Principal
from syncline_gateway.dialects.polytomic import queries, rendering
from syncline_gateway.dialects.polytomic.bulk_syncs import read_sync
from syncline_gateway.dialects.polytomic.common import Caller, answer
from syncline_gateway.dialects.polytomic.execution_queries import ACTIVE
from syncline_gateway.dialects.polytomic.models import (
    ApiScheduleEnvelope,
    ApiScheduleListEnvelope,
    ApiSchedulePendingEnvelope,
    MessageEnvelope,
    ScheduleBody,
    SchemaEnvelope,
    SchemaIn,
    SchemaListEnvelope,
    SchemasEnvelope,
    SchemasPatch,
    parse,
)
from syncline_gateway.errors import RejectedError, ResourceNotFoundError
from syncline_gateway.openapi_bodies import answers, json_body
from syncline_gateway.routing import once, pool_of, send

router = APIRouter(tags=["polytomic"])


async def _schedules(request: Request, sync_id: str) -> list[dict[str, Any]]:
    async with pool_of(request).acquire() as conn:
        return (await queries.schedules(conn, sync_ids=[sync_id]))[sync_id]


async def _schedule(request: Request, sync_id: str, schedule_id: str) -> dict[str, Any]:
    found = next((s for s in await _schedules(request, sync_id) if s["id"] == schedule_id), None)
    if found is None:
        raise ResourceNotFoundError(
            kind="schedule", resource_id=schedule_id, message=f"schedule {schedule_id} of bulk sync {sync_id} not found"
        )
    return found


@router.get("/api/bulk/syncs/{sync_id}/schedules", responses=answers({200: ApiScheduleListEnvelope}))
async def list_schedules(request: Request, sync_id: str, caller: Caller) -> JSONResponse:
    await read_sync(request, caller, sync_id)
    return answer([rendering.api_schedule(s, sync_id=sync_id) for s in await _schedules(request, sync_id)])


@router.post(
    "/api/bulk/syncs/{sync_id}/schedules",
    openapi_extra=json_body(ScheduleBody),
    responses=answers({200: ApiScheduleEnvelope, 202: ApiSchedulePendingEnvelope}),
)
async def create_schedule(request: Request, sync_id: str, caller: Caller) -> Response:
    return await once(request, caller, lambda: _create_schedule(request, caller, sync_id))


async def _create_schedule(request: Request, caller: Principal, sync_id: str) -> Response:
    body = parse(await request.body(), ScheduleBody)
    row = await read_sync(request, caller, sync_id)
    schedule = body.schedule.model_copy(update={"id": str(uuid.uuid4())}).compiled(is_default=False)
    command = AddBulkSyncSchedule(sync_id=sync_id, schedule=schedule, actor=caller.key_id)
    if await send(request, topic=SYNC_COMMANDS, message=command, org_id=row["org_id"], invalid_is_400=True) is None:
        return answer({"id": schedule.schedule_id, "syncId": sync_id, "frequency": schedule.frequency}, 202)
    return answer(rendering.api_schedule(await _schedule(request, sync_id, schedule.schedule_id), sync_id=sync_id))


@router.get("/api/bulk/syncs/{sync_id}/schedules/{schedule_id}", responses=answers({200: ApiScheduleEnvelope}))
async def get_schedule(request: Request, sync_id: str, schedule_id: str, caller: Caller) -> JSONResponse:
    await read_sync(request, caller, sync_id)
    return answer(rendering.api_schedule(await _schedule(request, sync_id, schedule_id), sync_id=sync_id))


@router.put(
    "/api/bulk/syncs/{sync_id}/schedules/{schedule_id}",
    openapi_extra=json_body(ScheduleBody),
    responses=answers({200: ApiScheduleEnvelope, 202: ApiSchedulePendingEnvelope}),
)
async def update_schedule(request: Request, sync_id: str, schedule_id: str, caller: Caller) -> Response:
    return await once(request, caller, lambda: _update_schedule(request, caller, sync_id, schedule_id))


async def _update_schedule(request: Request, caller: Principal, sync_id: str, schedule_id: str) -> Response:
    body = parse(await request.body(), ScheduleBody)
    row = await read_sync(request, caller, sync_id)
    current = await _schedule(request, sync_id, schedule_id)
    schedule = body.schedule.model_copy(update={"id": schedule_id}).compiled(is_default=current["is_default"])
    command = ChangeBulkSyncSchedule(sync_id=sync_id, schedule=schedule, actor=caller.key_id)
    if await send(request, topic=SYNC_COMMANDS, message=command, org_id=row["org_id"], invalid_is_400=True) is None:
        return answer({"id": schedule_id, "syncId": sync_id, "frequency": schedule.frequency}, 202)
    return answer(rendering.api_schedule(await _schedule(request, sync_id, schedule_id), sync_id=sync_id))


@router.delete("/api/bulk/syncs/{sync_id}/schedules/{schedule_id}", status_code=204)
async def delete_schedule(request: Request, sync_id: str, schedule_id: str, caller: Caller) -> Response:
    row = await read_sync(request, caller, sync_id)
    await _schedule(request, sync_id, schedule_id)
    command = RemoveBulkSyncSchedule(sync_id=sync_id, schedule_id=schedule_id)
    await send(request, topic=SYNC_COMMANDS, message=command, org_id=row["org_id"], invalid_is_400=True)
    return Response(status_code=204)


def _enabled_filter(request: Request) -> bool | None:
    value = request.query_params.get("filters[enabled]") or request.query_params.get("enabled")
    return None if value is None else value.lower() == "true"


@router.get("/api/bulk/syncs/{sync_id}/schemas", responses=answers({200: SchemaListEnvelope}))
async def list_schemas(request: Request, sync_id: str, caller: Caller) -> JSONResponse:
    await read_sync(request, caller, sync_id)
    async with pool_of(request).acquire() as conn:
        rows = await queries.objects(conn, sync_id=sync_id, enabled=_enabled_filter(request))
    return answer([rendering.schema_item(r) for r in rows])


async def _objects(request: Request, sync_id: str) -> list[dict[str, Any]]:
    async with pool_of(request).acquire() as conn:
        return await queries.objects(conn, sync_id=sync_id)


async def _object(request: Request, sync_id: str, schema_id: str) -> dict[str, Any]:
    found = next((o for o in await _objects(request, sync_id) if o["id"] == schema_id), None)
    if found is None:
        raise ResourceNotFoundError(
            kind="schema", resource_id=schema_id, message=f"schema {schema_id} of bulk sync {sync_id} not found"
        )
    return found


@router.patch(
    "/api/bulk/syncs/{sync_id}/schemas",
    openapi_extra=json_body(SchemasPatch),
    responses=answers({200: SchemasEnvelope}),
)
async def patch_schemas(request: Request, sync_id: str, caller: Caller) -> Response:
    return await once(request, caller, lambda: _patch_schemas(request, caller, sync_id))


async def _patch_schemas(request: Request, caller: Principal, sync_id: str) -> Response:
    body = parse(await request.body(), SchemasPatch)
    row = await read_sync(request, caller, sync_id)
    command = ConfigureBulkSyncSchemas(
        sync_id=sync_id, schemas=tuple(s.part() for s in body.schemas), actor=caller.key_id
    )
    await send(request, topic=SYNC_COMMANDS, message=command, org_id=row["org_id"], invalid_is_400=True)
    return answer([rendering.schema(o) for o in await _objects(request, sync_id)])


@router.get("/api/bulk/syncs/{sync_id}/schemas/{schema_id}", responses=answers({200: SchemaEnvelope}))
async def get_schema(request: Request, sync_id: str, schema_id: str, caller: Caller) -> JSONResponse:
    await read_sync(request, caller, sync_id)
    return answer(rendering.schema(await _object(request, sync_id, schema_id)))


@router.put(
    "/api/bulk/syncs/{sync_id}/schemas/{schema_id}",
    openapi_extra=json_body(SchemaIn),
    responses=answers({200: SchemaEnvelope}),
)
async def update_schema(request: Request, sync_id: str, schema_id: str, caller: Caller) -> Response:
    return await once(request, caller, lambda: _update_schema(request, caller, sync_id, schema_id))


async def _update_schema(request: Request, caller: Principal, sync_id: str, schema_id: str) -> Response:
    body = parse(await request.body(), SchemaIn)
    row = await read_sync(request, caller, sync_id)
    await _object(request, sync_id, schema_id)
    command = ConfigureBulkSyncSchemas(sync_id=sync_id, schemas=(body.part(schema_id),), actor=caller.key_id)
    await send(request, topic=SYNC_COMMANDS, message=command, org_id=row["org_id"], invalid_is_400=True)
    return answer(rendering.schema(await _object(request, sync_id, schema_id)))


@router.post("/api/bulk/syncs/{sync_id}/schemas/{schema_id}/cancel", responses=answers({200: MessageEnvelope}))
async def cancel_schema(request: Request, sync_id: str, schema_id: str, caller: Caller) -> Response:
    return await once(request, caller, lambda: _cancel_schema(request, caller, sync_id, schema_id))


async def _cancel_schema(request: Request, caller: Principal, sync_id: str, schema_id: str) -> Response:
    row = await read_sync(request, caller, sync_id)
    await _object(request, sync_id, schema_id)
    async with pool_of(request).acquire() as conn:
        runs = await queries.runs_with_object(
            conn, org_id=row["org_id"], sync_id=sync_id, obj=schema_id, statuses=ACTIVE
        )
    if not runs:
        return answer({"message": f"schema {schema_id} of bulk sync {sync_id} is not running"})
    return answer({"message": "; ".join([await _cancel_object(request, run, schema_id) for run in runs])})


async def _cancel_object(request: Request, run: dict[str, Any], schema_id: str) -> str:
    """Ask for one schema of a run to stop; what to tell the caller."""
    if run["status"] == "canceling":
        return f"execution {run['id']} is already being canceled"
    command = CancelRunObject(run_id=run["id"], object=schema_id)
    try:
        await send(request, topic=RUN_COMMANDS, message=command, org_id=run["org_id"])
    except RejectedError as exc:
        if exc.code not in ("illegal_transition", "not_found"):
            raise
        return f"schema {schema_id} of execution {run['id']} is not running"  # it ended (or went) meanwhile
    return f"cancellation of schema {schema_id} in execution {run['id']} requested"
