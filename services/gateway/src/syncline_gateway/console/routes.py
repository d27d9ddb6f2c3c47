"""The console's pages (`/ui`): sign in and out, runs, a run's detail, syncs (start a run), keys (create, revoke).
Reads go through `reading`; a run's start is one command on `syncline.runs.commands.v1`, as `POST /v1/runs`."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from syncline_contracts.runs import CreateSyncJob
from syncline_contracts.status import JobType, RunStatus
from syncline_contracts.topics import RUN_COMMANDS
from syncline_gateway import repository
from syncline_gateway.console import auth, reading
from syncline_gateway.console.auth import Viewer
from syncline_gateway.console.views import page
from syncline_gateway.credentials import Credentials, Principal, new_key_pair
from syncline_gateway.dialects.native import reads
from syncline_gateway.errors import AuthenticationError, ResourceNotFoundError
from syncline_gateway.routing import pool_of, send
from syncline_platform.errors import SynclineError
from syncline_platform.secrets import Sealer

router = APIRouter(prefix="/ui", include_in_schema=False)

Text = Annotated[str, Form(max_length=4096)]


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.get("")
async def home() -> RedirectResponse:
    """The console starts at the runs."""
    return _see("/ui/runs")


@router.get("/login")
async def login_page(request: Request) -> Response:
    """The sign-in form."""
    return page(request, "login.html")


@router.post("/login")
async def login(request: Request, key: Text) -> Response:
    """Sign in with a key (`base64(id:secret)`): kept in an HttpOnly, SameSite=Strict cookie."""
    try:
        await auth.principal(request, key)
    except AuthenticationError:
        return page(request, "login.html", status_code=401, message="That key does not sign in.")
    response = _see("/ui/runs")
    auth.keep(response, request=request, token=key.strip())
    return response


@router.post("/logout")
async def logout() -> Response:
    """Sign out."""
    response = _see("/ui/login")
    auth.forget(response)
    return response


def _filter(dialect: str | None, status: str | None) -> reads.RunFilter:
    statuses = [status] if status in set(RunStatus) else None
    return reads.RunFilter(dialect=dialect or None, statuses=statuses)


@router.get("/runs")
async def runs_page(
    request: Request, viewer: Viewer, dialect: str | None = None, status: str | None = None
) -> Response:
    """Runs of every dialect, newest first, live."""
    runs = await reading.runs(request, org_id=viewer.org_id, where=_filter(dialect, status))
    filters: dict[str, Any] = {"dialect": dialect or "", "status": status or "", "statuses": list(RunStatus)}
    filters["query"] = request.url.query
    return page(request, "runs.html", runs=runs, **filters)


@router.get("/runs/rows")
async def runs_rows(
    request: Request, viewer: Viewer, dialect: str | None = None, status: str | None = None
) -> Response:
    """The runs table's rows (htmx reloads them when a run is created)."""
    runs = await reading.runs(request, org_id=viewer.org_id, where=_filter(dialect, status))
    return page(request, "run_rows.html", runs=runs)


@router.get("/runs/{run_id}")
async def run_page(request: Request, run_id: str, viewer: Viewer) -> Response:
    """A run: summary, per-object stats, errors, logs and a chart of rows/s and lag, live until it ends."""
    context = await reading.detail(request, org_id=viewer.org_id, run_id=run_id)
    return page(request, "run.html", **context)


@router.post("/runs")
async def start_run(request: Request, viewer: Viewer, sync_id: Text) -> Response:
    """Start a run of a sync now, then show it."""
    try:
        run_id = await _start(request, viewer, sync_id)
    except SynclineError as exc:
        syncs = await _syncs(request, viewer)
        status = 404 if isinstance(exc, ResourceNotFoundError) else 409
        return page(request, "syncs.html", status_code=status, syncs=syncs, message=f"Not started: {exc}")
    return _see(f"/ui/runs/{run_id}")


async def _start(request: Request, viewer: Principal, sync_id: str) -> str:
    async with pool_of(request).acquire() as conn:
        found = await reads.syncs(conn, org_id=viewer.org_id, sync_id=sync_id)
    if not found:
        raise ResourceNotFoundError(kind="sync", resource_id=sync_id, message=f"sync {sync_id} not found")
    types = found[0]["job_types"] or [JobType.FULL.value]
    job_type = JobType.FULL if JobType.FULL.value in types else JobType(types[0])
    command = CreateSyncJob(run_id=str(uuid.uuid4()), sync_id=sync_id, job_type=job_type, exclusive=True)
    await send(request, topic=RUN_COMMANDS, message=command, org_id=viewer.org_id)
    return command.run_id


async def _syncs(request: Request, viewer: Principal) -> list[dict[str, object]]:
    async with pool_of(request).acquire() as conn:
        return await reads.syncs(conn, org_id=viewer.org_id)


@router.get("/syncs")
async def syncs_page(request: Request, viewer: Viewer) -> Response:
    """Syncs of every dialect, each with a button that starts a run."""
    return page(request, "syncs.html", syncs=await _syncs(request, viewer))


async def _keys_page(request: Request, viewer: Principal, **extra: Any) -> Response:
    async with pool_of(request).acquire() as conn:
        keys = await reads.keys(conn, org_id=viewer.org_id)
    return page(request, "keys.html", keys=keys, current=viewer.key_id, **extra)


@router.get("/keys")
async def keys_page(request: Request, viewer: Viewer) -> Response:
    """The organisation's keys (never their secrets)."""
    return await _keys_page(request, viewer)


@router.post("/keys")
async def create_key(request: Request, viewer: Viewer) -> Response:
    """A new key of the organisation: its secret shown on this page only."""
    sealer: Sealer = request.app.state.sealer
    pair = new_key_pair()
    async with pool_of(request).acquire() as conn:
        await repository.create_key(conn, key_id=pair.id, org_id=viewer.org_id, sealed_secret=sealer.seal(pair.secret))
    return await _keys_page(request, viewer, created=pair)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str, viewer: Viewer) -> Response:
    """Revoke a key of the organisation (this replica refuses it at once)."""
    async with pool_of(request).acquire() as conn:
        row = await reads.revoke_key(conn, org_id=viewer.org_id, key_id=key_id)
    if row is None:
        return await _keys_page(request, viewer, message=f"No key {key_id}.")
    credentials: Credentials = request.app.state.credentials
    credentials.forget(key_id)
    return _see("/ui/keys")
