"""Every DRS v3 route the SDK's job lifecycle calls, under `/v3/{project_id}/jobs`.

Batch writes: the envelope is parsed, each item checked with its SDK model (a bad item fails alone), passwords
sealed, and the valid items sent as one `ApplyDrsBatch` (`syncline.drs.commands.v1`), whose `DrsBatchApplied`
answers each; the answer merges both in the items' order. Reads come from the published read models (`reads`).
"""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError, create_model
from pydantic_core import ErrorDetails

from syncline_contracts.drs_jobs import ApplyDrsBatch, DrsAction, DrsBatchApplied, DrsItemResult
from syncline_contracts.topics import DRS_COMMANDS
from syncline_gateway.credentials import Principal
from syncline_gateway.dialects.drs import models, reads, rendering
from syncline_gateway.dialects.drs.auth import authenticate, project_in_scope
from syncline_gateway.dialects.drs.errors import ANSWERS, EMPTY, INVALID
from syncline_gateway.errors import BadRequestError
from syncline_gateway.openapi_bodies import answers, json_body
from syncline_gateway.routing import parse, pool_of, send
from syncline_platform.secrets import Sealer

router = APIRouter(tags=["huawei-drs"], responses=ANSWERS)
Caller = Annotated[Principal, Depends(authenticate)]

ITEM_MODELS: dict[DrsAction, type[BaseModel]] = {
    DrsAction.CREATE: models.CreateJobIn,
    DrsAction.TEST_CONNECTION: models.TestEndPointIn,
    DrsAction.MODIFY: models.ModifyJobIn,
    DrsAction.SELECT_OBJECTS: models.SelectObjectsIn,
    DrsAction.SET_POLICY: models.SyncPolicyIn,
    DrsAction.PRECHECK: models.PreCheckIn,
    DrsAction.START: models.StartIn,
    DrsAction.PAUSE: models.PauseIn,
    DrsAction.RESUME: models.RetryIn,
    DrsAction.DELETE: models.DeleteJobIn,
}


class Wording:
    """How DRS words a body it cannot read."""

    def empty(self) -> BadRequestError:
        return BadRequestError("jobs parameter is empty.")

    def unparseable(self, exc: Exception) -> BadRequestError:
        return BadRequestError(f"The request body is not valid JSON: {exc}")

    def not_an_object(self, data: object) -> BadRequestError:
        return BadRequestError(f"The request body must be a JSON object, not {type(data).__name__}.")

    def invalid(self, error: ErrorDetails) -> BadRequestError:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        if error["type"] == "missing":
            return BadRequestError(f"{where} parameter is empty.")
        return BadRequestError(f"The value of {where} is invalid: {error['msg']}")


WORDING = Wording()


# --- batch writes ----------------------------------------------------------------------------------------------


def _item_id(item: dict[str, Any]) -> str:
    return str(item.get("job_id") or item.get("id") or "")


def _item_error(item: dict[str, Any], exc: ValidationError) -> DrsItemResult:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"]) or "job"
    if error["type"] == "missing":
        return DrsItemResult(
            id=_item_id(item), status="failed", error_code=EMPTY, error_msg=f"{where} parameter is empty."
        )
    message = f"The value of {where} is invalid: {error['msg']}"
    return DrsItemResult(id=_item_id(item), status="failed", error_code=INVALID, error_msg=message)


SECRETS = frozenset(
    {"db_password", "ssl_cert_password", "ssl_cert_key", "trust_store_password", "key_store_password", "key_password"}
)
"""An endpoint's secret fields (its own, and its `kafka_security_config`'s): sealed as `<name>_sealed`."""


def _sealed(values: dict[str, Any], sealer: Sealer) -> dict[str, Any]:
    """Every secret field sealed as `<name>_sealed` (nested ones too): a secret never travels or rests in clear."""
    sealed: dict[str, Any] = {}
    for key, value in values.items():
        if key in SECRETS:
            if value:
                sealed[f"{key}_sealed"] = sealer.seal(str(value))
        elif isinstance(value, dict):
            sealed[key] = _sealed(value, sealer)
        else:
            sealed[key] = value
    return sealed


def _checked(action: DrsAction, item: dict[str, Any], sealer: Sealer) -> dict[str, Any] | DrsItemResult:
    try:
        values = ITEM_MODELS[action].model_validate(item).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        return _item_error(item, exc)
    if action is DrsAction.CREATE:
        values["job_id"] = str(uuid.uuid4())
    if action is DrsAction.TEST_CONNECTION:
        values = _sealed(values, sealer)
    for side in ("source_endpoint", "target_endpoint"):
        if side in values:
            values[side] = _sealed(values[side], sealer)
    return values


def _rendered(action: DrsAction, result: DrsItemResult, item: dict[str, Any]) -> dict[str, Any]:
    details = result.details or {}
    ok = result.status == "success"
    base = {"id": result.id, "status": result.status, "error_code": result.error_code, "error_msg": result.error_msg}
    match action:
        case DrsAction.CREATE:
            status = details.get("status") if ok else "CREATE_FAILED"
            return (
                base
                | {"name": details.get("name") or item.get("name"), "status": status}
                | ({"create_time": details["create_time"]} if "create_time" in details else {})
            )
        case DrsAction.TEST_CONNECTION:
            tested = ok and bool(details.get("tested"))
            error = (
                {}
                if tested or not ok
                else {"error_code": details.get("error_code"), "error_msg": details.get("error_msg")}
            )
            return base | {"status": "true" if tested else "false", "success": tested} | error
        case DrsAction.SELECT_OBJECTS:
            return {"job_id": result.id, "status": ok, "error_code": result.error_code, "error_msg": result.error_msg}
        case DrsAction.PRECHECK:
            return base | ({"precheck_id": details["precheck_id"]} if "precheck_id" in details else {})
        case _:
            return base


def _answer(action: DrsAction, results: list[dict[str, Any]], *, status: int = 200) -> JSONResponse:
    count_key = "all_counts" if action is DrsAction.SELECT_OBJECTS else "count"
    return JSONResponse({count_key: len(results), "results": results}, status_code=status)


async def _batch(request: Request, caller: Principal, project_id: str, action: DrsAction) -> JSONResponse:
    project = await project_in_scope(request, caller, project_id)
    envelope = parse(await request.body(), models.BatchIn, wording=WORDING, limits=models.LIMITS)
    sealer: Sealer = request.app.state.sealer
    checked = [_checked(action, item, sealer) for item in envelope.jobs]
    valid = [c for c in checked if isinstance(c, dict)]
    applied: list[DrsItemResult] = []
    if valid:
        message = ApplyDrsBatch(
            project_id=project, action=action, items=tuple(valid), received_at_ms=rendering.now_ms()
        )
        outcome = await send(request, topic=DRS_COMMANDS, message=message, org_id=caller.org_id)
        if not isinstance(outcome, DrsBatchApplied):  # past the bound: the items are being applied
            pending = [{"id": _item_id(v), "status": "pending"} for v in valid]
            return _answer(action, pending, status=202)
        applied = list(outcome.results)
    answered = iter(applied)
    results = [
        _rendered(action, c if isinstance(c, DrsItemResult) else next(answered), raw)
        for c, raw in zip(checked, envelope.jobs, strict=True)
    ]
    return _answer(action, results)


def batch_body(action: DrsAction) -> type[BaseModel]:
    """The envelope of `action`'s batch as the OpenAPI document describes it: its items typed with their SDK model
    (the route itself takes the envelope loosely and checks each item on its own)."""
    item = ITEM_MODELS[action]
    jobs = (list[item], Field(min_length=1, max_length=models.MAX_ITEMS))  # type: ignore[valid-type]
    model: type[BaseModel] = create_model(f"{item.__name__.removesuffix('In')}Batch", jobs=jobs)
    return model


ANSWERED: dict[DrsAction, type[BaseModel]] = {
    DrsAction.CREATE: models.BatchResults[models.CreateJobResult],
    DrsAction.TEST_CONNECTION: models.BatchResults[models.CheckJobResult],
    DrsAction.SELECT_OBJECTS: models.SelectObjectsResults,
    DrsAction.PRECHECK: models.BatchResults[models.PrecheckStarted],
}
"""A batch's answer where it is not `BatchResults[ItemResult]`."""


def batch_answers(action: DrsAction) -> dict[int | str, dict[str, Any]]:
    """`action`'s answers in the OpenAPI document: its results (200), or its items on their way (202)."""
    pending = (
        models.PendingSelectObjects if action is DrsAction.SELECT_OBJECTS else models.BatchResults[models.PendingItem]
    )
    return answers({200: ANSWERED.get(action, models.BatchResults[models.ItemResult]), 202: pending})


def _write(path: str, action: DrsAction, method: str = "POST") -> None:
    async def route(project_id: str, request: Request, caller: Caller) -> JSONResponse:
        return await _batch(request, caller, project_id, action)

    route.__name__ = f"drs_{action.value}"
    router.add_api_route(
        f"/v3/{{project_id}}/jobs/{path}",
        route,
        methods=[method],
        name=f"drs.{action.value}",
        openapi_extra=json_body(batch_body(action)),
        responses=batch_answers(action),
    )


_write("batch-creation", DrsAction.CREATE)
_write("batch-connection", DrsAction.TEST_CONNECTION)
_write("batch-modification", DrsAction.MODIFY, "PUT")
_write("batch-select-objects", DrsAction.SELECT_OBJECTS, "PUT")
_write("batch-sync-policy", DrsAction.SET_POLICY)
_write("batch-precheck", DrsAction.PRECHECK)
_write("batch-starting", DrsAction.START)
_write("batch-pause-task", DrsAction.PAUSE)
_write("batch-retry-task", DrsAction.RESUME)
_write("batch-jobs", DrsAction.DELETE, "DELETE")


# --- reads -----------------------------------------------------------------------------------------------------


async def _views(
    request: Request, caller: Principal, project_id: str, *, objects: bool = False
) -> tuple[models.QueryIn, dict[str, reads.JobView]]:
    project = await project_in_scope(request, caller, project_id)
    query = parse(await request.body(), models.QueryIn, wording=WORDING, limits=models.LIMITS)
    ids = list(dict.fromkeys(query.jobs))
    async with pool_of(request).acquire() as conn:
        found = await reads.jobs(conn, org_id=caller.org_id, project_id=project, ids=ids, objects=objects)
    return query, found


def _page(query: models.QueryIn) -> list[str]:
    """The ids of the page asked for: 5 a page from the first unless `page_req` says otherwise (0: all)."""
    page = query.page_req or models.PageIn()
    per_page = 5 if page.per_page is None else page.per_page
    if per_page == 0:
        return query.jobs
    first = max((page.cur_page or 1) - 1, 0) * per_page
    return query.jobs[first : first + per_page]


def _missing(job_id: str, *, error_key: str = "error_msg") -> dict[str, Any]:
    return {"id": job_id, "error_code": rendering.NO_JOB, error_key: rendering.NO_JOB_MSG}


@router.post(
    "/v3/{project_id}/jobs/batch-status",
    name="drs.status",
    openapi_extra=json_body(models.QueryIn),
    responses=answers({200: models.JobStatuses}),
)
async def batch_list_job_status(project_id: str, request: Request, caller: Caller) -> JSONResponse:
    query, found = await _views(request, caller, project_id)
    results = [
        rendering.status(found[i]) if i in found else _missing(i, error_key="error_message") for i in _page(query)
    ]
    return JSONResponse({"count": len(query.jobs), "results": results})


@router.post(
    "/v3/{project_id}/jobs/batch-detail",
    name="drs.detail",
    openapi_extra=json_body(models.QueryIn),
    responses=answers({200: models.JobDetails}),
)
async def batch_list_job_details(project_id: str, request: Request, caller: Caller) -> JSONResponse:
    query, found = await _views(request, caller, project_id)
    results = [
        rendering.detail(found[i]) if i in found else _missing(i, error_key="error_message") for i in _page(query)
    ]
    return JSONResponse({"count": len(query.jobs), "results": results})


@router.post(
    "/v3/{project_id}/jobs/batch-progress",
    name="drs.progress",
    openapi_extra=json_body(models.QueryIn),
    responses=answers({200: models.Progresses}),
)
async def batch_list_progresses(project_id: str, request: Request, caller: Caller) -> JSONResponse:
    query, found = await _views(request, caller, project_id, objects=True)
    results = [rendering.progress(found[i]) if i in found else _missing(i) | {"job_id": i} for i in query.jobs]
    return JSONResponse({"count": len(results), "results": results})


@router.post(
    "/v3/{project_id}/jobs/batch-precheck-result",
    name="drs.precheck_result",
    openapi_extra=json_body(models.QueryIn),
    responses=answers({200: models.PrecheckOutcomes}),
)
async def batch_check_results(project_id: str, request: Request, caller: Caller) -> JSONResponse:
    query, found = await _views(request, caller, project_id)
    results = [rendering.precheck_result(found[i]) if i in found else _missing(i) for i in query.jobs]
    return JSONResponse({"count": len(results), "results": results})


@router.post(
    "/v3/{project_id}/jobs",
    name="drs.list",
    openapi_extra=json_body(models.ListIn),
    responses=answers({200: models.JobList}),
)
async def show_job_list(project_id: str, request: Request, caller: Caller) -> JSONResponse:
    project = await project_in_scope(request, caller, project_id)
    query = parse(await request.body(), models.ListIn, wording=WORDING, limits=models.LIMITS)
    per_page = query.per_page or 10
    filters = {
        "name": query.name,
        "db_use_type": query.db_use_type,
        "engine_type": query.engine_type,
        "net_type": query.net_type,
        "status": query.status,
    }
    async with pool_of(request).acquire() as conn:
        views = await reads.list_jobs(conn, org_id=caller.org_id, project_id=project, filters=filters)
    first = ((query.cur_page or 1) - 1) * per_page
    page = views[first : first + per_page]
    return JSONResponse({"total_record": len(views), "jobs": [rendering.list_entry(v) for v in page]})
