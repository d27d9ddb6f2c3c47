"""An execution's logs, and the caller's identity (`GET /api/me`).

The lines are the executor's run log (`syncline_gateway.run_logs`), of an execution of a bulk sync in the
caller's scope (another organisation's is a 404):
- `GET .../executions/{id}/consolelog`: the latest entries (at most 50), or those after a cursor;
- `GET .../executions/{id}/logs`: signed URLs of the log file, good for `URL_TTL_S` without a key;
- `POST .../executions/{id}/logs/export`: the log packed in a zip at a signed URL. Packing is immediate, so the
  job descriptor answered is already `done`, and `GET /api/jobs/exportlogs/{id}` answers it again.

A signed URL carries a token sealed with the gateway's secret key, naming the organisation, sync, execution and
file and when it expires; the download route checks all of them (a token that does not match is a 403).
"""

import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from syncline_gateway import repository, run_logs
from syncline_gateway.credentials import Principal
from syncline_gateway.dialects.polytomic import execution_queries as q
from syncline_gateway.dialects.polytomic.auth import scope
from syncline_gateway.dialects.polytomic.common import Caller
from syncline_gateway.dialects.polytomic.executions import run_or_404
from syncline_gateway.errors import BadRequestError, ForbiddenError, ResourceNotFoundError
from syncline_gateway.routing import once, pool_of
from syncline_platform.errors import InvalidError
from syncline_platform.secrets import Sealer

router = APIRouter(tags=["polytomic"])

CONSOLE_LIMIT = 50
"""The most console entries one call answers (Polytomic's logger retention)."""
URL_TTL_S = 900
"""How long a signed log URL works."""
LOG_FILE = "execution.log"
ARCHIVE = "logs.zip"
EXPORT_JOB = "exportlogs"


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class ConsoleEntry(_Out):
    """One console log entry."""

    id: str
    level: str
    message: str
    payload: dict[str, Any]
    timestamp: datetime


class ConsoleLogs(_Out):
    """The entries of a console log call."""

    entries: list[ConsoleEntry]
    next_cursor: str | None


class ConsoleLogsEnvelope(_Out):
    """`GET .../consolelog`."""

    data: ConsoleLogs


class LogUrls(_Out):
    """Signed URLs of an execution's log files."""

    expires: datetime = Field(serialization_alias="Expires")
    urls: list[str] = Field(serialization_alias="URLs")


class LogUrlsEnvelope(_Out):
    """`GET .../logs`."""

    data: LogUrls


class ExportResult(_Out):
    """Where the exported archive is."""

    url: str


class ExportJob(_Out):
    """An export job (always done: packing is immediate)."""

    job_id: str
    type: str
    status: Literal["done"]
    result: ExportResult
    error: str | None = None


class ExportEnvelope(_Out):
    """`POST .../logs/export`."""

    data: ExportResult
    job: ExportJob


class JobEnvelope(_Out):
    """`GET /api/jobs/{type}/{id}`."""

    data: ExportJob


def _console_entry(line: dict[str, Any]) -> ConsoleEntry:
    payload: dict[str, Any] = {"counts": line["counts"]}
    if line["object"]:
        payload["object"] = line["object"]
    return ConsoleEntry(
        id=str(line["seq"]), level=line["level"], message=line["message"], payload=payload, timestamp=line["at"]
    )


def _cursor(after: str | None) -> int | None:
    if after is None or after == "":
        return None
    if not after.isdigit() or len(after) > 18:
        raise BadRequestError("after is not a cursor this API returned")
    return int(after)


@router.get(
    "/api/bulk/syncs/{sync_id}/executions/{execution_id}/consolelog",
    response_model=ConsoleLogsEnvelope,
    response_model_by_alias=True,
)
async def console_log(
    request: Request,
    sync_id: str,
    execution_id: str,
    caller: Caller,
    *,
    limit: Annotated[int | None, Query(ge=1)] = None,
    after: str | None = None,
) -> ConsoleLogsEnvelope:
    run = await run_or_404(request, caller, sync_id, execution_id)
    cursor = _cursor(after)
    count = min(limit or CONSOLE_LIMIT, CONSOLE_LIMIT)
    async with pool_of(request).acquire() as conn:
        found = await run_logs.lines(
            conn, org_id=run["org_id"], run_id=run["id"], after=cursor, limit=count, newest=cursor is None
        )
    entries = [_console_entry(line) for line in found]
    next_cursor = entries[-1].id if entries else after or None
    return ConsoleLogsEnvelope(data=ConsoleLogs(entries=entries, next_cursor=next_cursor))


def _sealer(request: Request) -> Sealer:
    sealer: Sealer = request.app.state.sealer
    return sealer


def _signed_url(request: Request, run: dict[str, Any], *, file: str, expires: int) -> str:
    claims = {"o": run["org_id"], "s": run["sync_id"], "r": run["id"], "f": file, "e": expires}
    token = _sealer(request).seal(json.dumps(claims))
    path = request.app.url_path_for("download_log", sync_id=run["sync_id"], execution_id=run["id"], file=file)
    return str(request.base_url).rstrip("/") + f"{path}?token={token}"


def _expiry() -> int:
    return int(time.time()) + URL_TTL_S


@router.get(
    "/api/bulk/syncs/{sync_id}/executions/{execution_id}/logs",
    response_model=LogUrlsEnvelope,
    response_model_by_alias=True,
)
async def log_urls(request: Request, sync_id: str, execution_id: str, caller: Caller) -> LogUrlsEnvelope:
    run = await run_or_404(request, caller, sync_id, execution_id)
    expires = _expiry()
    url = _signed_url(request, run, file=LOG_FILE, expires=expires)
    return LogUrlsEnvelope(data=LogUrls(expires=datetime.fromtimestamp(expires, UTC), urls=[url]))


def _export_job(request: Request, run: dict[str, Any]) -> ExportJob:
    result = ExportResult(url=_signed_url(request, run, file=ARCHIVE, expires=_expiry()))
    return ExportJob(job_id=run["id"], type=EXPORT_JOB, status="done", result=result)


@router.post(
    "/api/bulk/syncs/{sync_id}/executions/{execution_id}/logs/export",
    response_model=ExportEnvelope,
    response_model_by_alias=True,
)
async def export_logs(
    request: Request, sync_id: str, execution_id: str, caller: Caller, *, notify: bool = False
) -> Response:
    del notify  # nobody to e-mail: the archive is ready at once
    run = await run_or_404(request, caller, sync_id, execution_id)

    async def answer() -> Response:
        job = _export_job(request, run)
        body = ExportEnvelope(data=job.result, job=job).model_dump(mode="json", by_alias=True)
        return Response(json.dumps(body), media_type="application/json")

    return await once(request, caller, answer)


@router.get("/api/jobs/{job_type}/{job_id}", response_model=JobEnvelope, response_model_by_alias=True)
async def get_job(request: Request, job_type: str, job_id: str, caller: Caller) -> JobEnvelope:
    """A log export's job (the only jobs this API starts)."""
    run = await _exported_run(request, caller, job_id) if job_type == EXPORT_JOB else None
    if run is None:
        raise ResourceNotFoundError(kind="job", resource_id=job_id, message=f"job {job_type}/{job_id} not found")
    return JobEnvelope(data=_export_job(request, run))


async def _exported_run(request: Request, caller: Principal, run_id: str) -> dict[str, Any] | None:
    async with pool_of(request).acquire() as conn:
        return await q.run_in_scope(conn, org_id=scope(caller), run_id=run_id)


def _claims(request: Request, token: str) -> dict[str, Any]:
    try:
        claims = json.loads(_sealer(request).open(token))
    except (InvalidError, ValueError) as exc:
        raise ForbiddenError("the link is not valid") from exc
    if not isinstance(claims, dict):
        raise ForbiddenError("the link is not valid")
    return claims


@router.get("/api/bulk/syncs/{sync_id}/executions/{execution_id}/logs/{file}", include_in_schema=False)
async def download_log(request: Request, sync_id: str, execution_id: str, file: str, token: str = "") -> Response:
    """A signed URL's file (no API key: the token is the credential)."""
    claims = _claims(request, token)
    if (claims.get("s"), claims.get("r"), claims.get("f")) != (sync_id, execution_id, file):
        raise ForbiddenError("the link is not valid")
    if int(claims.get("e", 0)) < time.time():
        raise ForbiddenError("the link has expired: ask for a new one")
    async with pool_of(request).acquire() as conn:
        found = await run_logs.lines(conn, org_id=str(claims.get("o")), run_id=execution_id)
    if file == ARCHIVE:
        headers = {"Content-Disposition": f'attachment; filename="{execution_id}-logs.zip"'}
        return Response(run_logs.as_zip(found, name=execution_id), media_type="application/zip", headers=headers)
    return Response(run_logs.as_text(found), media_type="text/plain; charset=utf-8")


class Credential(_Out):
    """How the caller authenticated."""

    method: Literal["api_key"] = "api_key"
    mode: Literal["organization", "partner"]


class Identity(_Out):
    """The caller, as `GET /api/me` describes it."""

    organization_id: str
    organization_name: str | None
    is_organization: bool
    is_partner: bool
    is_user: bool = False
    is_system: bool = False
    credential: Credential


class IdentityEnvelope(_Out):
    """`GET /api/me`."""

    data: Identity


@router.get("/api/me", response_model=IdentityEnvelope)
async def me(request: Request, caller: Caller) -> IdentityEnvelope:
    async with pool_of(request).acquire() as conn:
        name = await repository.org_name(conn, org_id=caller.org_id)
    return IdentityEnvelope(
        data=Identity(
            organization_id=caller.org_id,
            organization_name=name,
            is_organization=not caller.partner,
            is_partner=caller.partner,
            credential=Credential(mode="partner" if caller.partner else "organization"),
        )
    )
