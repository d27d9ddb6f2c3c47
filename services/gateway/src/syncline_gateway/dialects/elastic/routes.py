"""The Elasticsearch connector and sync-job routes.

Writes become commands (`syncline.connectors.commands.v1`, `syncline.runs.commands.v1`) answered by their
outcome events; reads come from PostgreSQL. Every answer carries `X-Elastic-Product: Elasticsearch`.
"""

import base64
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from syncline_connectors.config import sensitive_keys
from syncline_connectors.elastic import elastic_sync_key
from syncline_contracts.connectors import (
    ConfigureConnector,
    DeleteConnector,
    UpdateConnector,
    UpsertConnector,
)
from syncline_contracts.runs import (
    CancelRun,
    CheckInRun,
    ClaimRun,
    CreateSyncJob,
    DeleteRun,
    FailRun,
    ReportRunStats,
)
from syncline_contracts.topics import CONNECTOR_COMMANDS, RUN_COMMANDS
from syncline_gateway import repository
from syncline_gateway.credentials import Principal
from syncline_gateway.dialects.elastic import documents
from syncline_gateway.dialects.elastic.auth import authenticate
from syncline_gateway.dialects.elastic.errors import ANSWERS, PRODUCT_HEADER
from syncline_gateway.dialects.elastic.models import (
    Acknowledged,
    Connector,
    ConnectorConfiguration,
    ConnectorList,
    ConnectorPut,
    Created,
    Empty,
    SyncJob,
    SyncJobClaim,
    SyncJobError,
    SyncJobList,
    SyncJobPost,
    SyncJobStats,
    Updated,
    Upserted,
    parse,
)
from syncline_gateway.dialects.elastic.updates import UPDATES
from syncline_gateway.errors import BadRequestError, ResourceNotFoundError
from syncline_gateway.openapi_bodies import answers, json_body
from syncline_gateway.routing import send
from syncline_platform.secrets import Sealer

router = APIRouter(tags=["elasticsearch"], responses=ANSWERS)
MAX_FROM = 2**31 - 1
"""Elasticsearch reads `from` as a Java int: a larger one is a 400, never an offset the database overflows on."""
Caller = Annotated[Principal, Depends(authenticate)]


def es_id() -> str:
    """A 20-character URL-safe id, like Elasticsearch's `UUIDs.base64UUID()`."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes[:15]).decode()


def answer(body: Any, status: int = 200) -> JSONResponse:
    """A JSON answer with the product header."""
    return JSONResponse(body, status_code=status, headers=PRODUCT_HEADER)


def _comma_list(value: str | None) -> list[str] | None:
    return [v for v in value.split(",") if v] if value else None


# Sync jobs come first: `/_connector/_sync_job` must not be taken for a connector called `_sync_job`.


@router.post(
    "/_connector/_sync_job",
    openapi_extra=json_body(SyncJobPost),
    status_code=201,
    responses=answers({201: Created, 202: Created}),
)
async def create_sync_job(request: Request, caller: Caller) -> JSONResponse:
    body = parse(await request.body(), SyncJobPost, parser="sync_job_post_request")
    if not body.id:
        raise BadRequestError("Validation Failed: 1: [id] of the connector cannot be null or empty;", kind="validation")
    run_id = es_id()
    command = CreateSyncJob(run_id=run_id, sync_id=body.id, job_type=body.job_type, trigger_method=body.trigger_method)
    outcome = await send(request, topic=RUN_COMMANDS, message=command, org_id=caller.org_id)
    return answer({"id": run_id}, 201 if outcome is not None else 202)


@router.get("/_connector/_sync_job", responses=answers({200: SyncJobList}))
async def list_sync_jobs(
    request: Request,
    caller: Caller,
    *,
    from_: Annotated[int, Query(alias="from", ge=0, le=MAX_FROM)] = 0,
    size: Annotated[int, Query(ge=0, le=10000)] = 100,
    status: str | None = None,
    connector_id: str | None = None,
    job_type: str | None = None,
) -> JSONResponse:
    async with request.app.state.pool.acquire() as conn:
        total, runs = await repository.list_runs(
            conn,
            org_id=caller.org_id,
            offset=from_,
            limit=size,
            sync_id=connector_id,
            statuses=_comma_list(status),
            job_types=_comma_list(job_type),
        )
    return answer({"count": total, "results": [documents.sync_job(r) for r in runs]})


@router.get("/_connector/_sync_job/{job_id}", responses=answers({200: SyncJob}))
async def get_sync_job(request: Request, job_id: str, caller: Caller) -> JSONResponse:
    async with request.app.state.pool.acquire() as conn:
        run = await repository.get_run(conn, org_id=caller.org_id, run_id=job_id)
    if run is None:
        raise ResourceNotFoundError(
            kind="sync job", resource_id=job_id, message=f"connector sync job [{job_id}] not found"
        )
    return answer(documents.sync_job(run))


@router.put("/_connector/_sync_job/{job_id}/_cancel", responses=answers({200: Updated}))
async def cancel_sync_job(request: Request, job_id: str, caller: Caller) -> JSONResponse:
    await send(request, topic=RUN_COMMANDS, message=CancelRun(run_id=job_id), org_id=caller.org_id)
    return answer({"result": "updated"})


@router.delete("/_connector/_sync_job/{job_id}", responses=answers({200: Acknowledged}))
async def delete_sync_job(request: Request, job_id: str, caller: Caller) -> JSONResponse:
    await send(request, topic=RUN_COMMANDS, message=DeleteRun(run_id=job_id), org_id=caller.org_id)
    return answer({"acknowledged": True})


# The worker protocol: how an external worker (Elastic's connector service, or any client of this API) runs jobs.


@router.put(
    "/_connector/_sync_job/{job_id}/_claim", openapi_extra=json_body(SyncJobClaim), responses=answers({200: Empty})
)
async def claim_sync_job(request: Request, job_id: str, caller: Caller) -> JSONResponse:
    body = parse(await request.body(), SyncJobClaim, parser="claim_connector_sync_job_request")
    command = ClaimRun(run_id=job_id, worker=body.worker_hostname, sync_cursor=body.sync_cursor)
    await send(request, topic=RUN_COMMANDS, message=command, org_id=caller.org_id)
    return answer({})


@router.put("/_connector/_sync_job/{job_id}/_check_in", responses=answers({200: Empty}))
async def check_in_sync_job(request: Request, job_id: str, caller: Caller) -> JSONResponse:
    await send(request, topic=RUN_COMMANDS, message=CheckInRun(run_id=job_id), org_id=caller.org_id)
    return answer({})


@router.put(
    "/_connector/_sync_job/{job_id}/_error", openapi_extra=json_body(SyncJobError), responses=answers({200: Empty})
)
async def error_sync_job(request: Request, job_id: str, caller: Caller) -> JSONResponse:
    body = parse(await request.body(), SyncJobError, parser="connector_sync_job_error_request")
    await send(request, topic=RUN_COMMANDS, message=FailRun(run_id=job_id, error=body.error), org_id=caller.org_id)
    return answer({})


@router.put(
    "/_connector/_sync_job/{job_id}/_stats", openapi_extra=json_body(SyncJobStats), responses=answers({200: Empty})
)
async def stats_sync_job(request: Request, job_id: str, caller: Caller) -> JSONResponse:
    body = parse(await request.body(), SyncJobStats, parser="connector_sync_job_update_stats_request")
    command = ReportRunStats(
        run_id=job_id,
        indexed_document_count=body.indexed_document_count,
        deleted_document_count=body.deleted_document_count,
        indexed_document_volume_bytes=body.indexed_document_volume * documents.MIB,
        total_document_count=body.total_document_count,
        metadata=body.metadata,
    )
    await send(request, topic=RUN_COMMANDS, message=command, org_id=caller.org_id)
    return answer({})


@router.put(
    "/_connector/{connector_id}/_configuration",
    openapi_extra=json_body(ConnectorConfiguration),
    responses=answers({200: Updated}),
)
async def put_configuration(request: Request, connector_id: str, caller: Caller) -> JSONResponse:
    body = parse(await request.body(), ConnectorConfiguration, parser="connector_update_configuration_request")
    if body.values is None and body.configuration is None:
        raise BadRequestError("Validation Failed: 1: [configuration] or [values] must be provided;", kind="validation")
    async with request.app.state.pool.acquire() as conn:
        row = await _connector_or_404(conn, caller, connector_id)
    values = body.flat_values()
    sealer: Sealer = request.app.state.sealer
    secret_keys = sensitive_keys(row["service_type"])
    sealed = {k: sealer.seal(str(v)) for k, v in values.items() if k in secret_keys and v not in (None, "")}
    command = ConfigureConnector(
        connector_id=connector_id,
        values={k: v for k, v in values.items() if k not in secret_keys},
        sealed_secrets=sealed,
    )
    await send(request, topic=CONNECTOR_COMMANDS, message=command, org_id=caller.org_id)
    return answer({"result": "updated"})


@router.put("/_connector/{connector_id}/{action}", responses=answers({200: Updated}))
async def update_connector(request: Request, connector_id: str, action: str, caller: Caller) -> JSONResponse:
    update = UPDATES.get(action)
    if update is None:
        raise BadRequestError(f"no handler found for uri [{request.url.path}] and method [PUT]", kind="validation")
    body = None
    if update.body is not None:
        body = parse(await request.body(), update.body, parser=f"connector_update{action}_request")
    command = UpdateConnector(connector_id=connector_id, changes=update.changes(body))
    await send(request, topic=CONNECTOR_COMMANDS, message=command, org_id=caller.org_id)
    return answer({"result": "updated"})


@router.delete("/_connector/{connector_id}", responses=answers({200: Acknowledged}))
async def delete_connector(
    request: Request, connector_id: str, caller: Caller, *, delete_sync_jobs: bool = False
) -> JSONResponse:
    command = DeleteConnector(connector_id=connector_id, delete_sync_jobs=delete_sync_jobs)
    await send(request, topic=CONNECTOR_COMMANDS, message=command, org_id=caller.org_id)
    return answer({"acknowledged": True})


@router.put(
    "/_connector/{connector_id}",
    openapi_extra=json_body(ConnectorPut),
    responses=answers({200: Upserted, 201: Upserted}),
)
async def put_connector(request: Request, connector_id: str, caller: Caller) -> JSONResponse:
    return await _upsert(request, connector_id, caller)


@router.put("/_connector", openapi_extra=json_body(ConnectorPut), responses=answers({200: Upserted, 201: Upserted}))
@router.post("/_connector", openapi_extra=json_body(ConnectorPut), responses=answers({200: Upserted, 201: Upserted}))
async def post_connector(request: Request, caller: Caller) -> JSONResponse:
    return await _upsert(request, es_id(), caller)


async def _upsert(request: Request, connector_id: str, caller: Principal) -> JSONResponse:
    body = parse(await request.body(), ConnectorPut, parser="connector_put_request")
    command = UpsertConnector(connector_id=connector_id, **body.model_dump())
    outcome = await send(request, topic=CONNECTOR_COMMANDS, message=command, org_id=caller.org_id)
    result = getattr(outcome, "result", "created")
    return answer({"result": result, "id": connector_id}, 201 if result == "created" else 200)


@router.get("/_connector", responses=answers({200: ConnectorList}))
async def list_connectors(
    request: Request,
    caller: Caller,
    *,
    from_: Annotated[int, Query(alias="from", ge=0, le=MAX_FROM)] = 0,
    size: Annotated[int, Query(ge=0, le=10000)] = 100,
    index_name: str | None = None,
    connector_name: str | None = None,
    service_type: str | None = None,
    query: str | None = None,
) -> JSONResponse:
    filters = {
        "index_name": _comma_list(index_name),
        "connector_name": _comma_list(connector_name),
        "service_type": _comma_list(service_type),
        "query": [query] if query else None,
    }
    async with request.app.state.pool.acquire() as conn:
        total, rows = await repository.list_connectors(
            conn, org_id=caller.org_id, offset=from_, limit=size, filters=filters
        )
        last = await repository.last_runs(conn, org_id=caller.org_id, sync_ids=[r["id"] for r in rows])
    return answer({"count": total, "results": [documents.connector(r, last.get(r["id"])) for r in rows]})


@router.get("/_connector/{connector_id}", responses=answers({200: Connector}))
async def get_connector(request: Request, connector_id: str, caller: Caller) -> JSONResponse:
    async with request.app.state.pool.acquire() as conn:
        row = await _connector_or_404(conn, caller, connector_id)
        last = await repository.last_runs(conn, org_id=caller.org_id, sync_ids=[connector_id])
        positions = await repository.sync_positions(
            conn, sync_key=elastic_sync_key(org_id=caller.org_id, connector_id=connector_id)
        )
    if positions is not None:  # where the last jobs left off (a worker's own `_last_sync` cursor otherwise)
        row = row | {"sync_cursor": {"positions": positions}}
    return answer(documents.connector(row, last.get(connector_id)))


async def _connector_or_404(conn: Any, caller: Principal, connector_id: str) -> dict[str, Any]:
    row = await repository.get_connector(conn, org_id=caller.org_id, connector_id=connector_id)
    if row is None:
        raise ResourceNotFoundError(
            kind="connector",
            resource_id=connector_id,
            message=f"Connector with id '{connector_id}' does not exist.",
        )
    return row
