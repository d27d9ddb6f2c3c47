"""What the console's pages show, read through the native API's read functions (`dialects.native.reads`) and its
event hub (`dialects.native.events`), always within the signed-in organisation."""

from typing import Any

from fastapi import Request

from syncline_gateway import run_logs
from syncline_gateway.console import chart
from syncline_gateway.dialects.native import events, reads
from syncline_gateway.dialects.native.routes import run_out
from syncline_gateway.routing import pool_of
from syncline_platform.db import Conn
from syncline_platform.errors import UnavailableError

ENDED = frozenset({"completed", "error", "canceled", "suspended"})
"""Run statuses after which nothing changes: a detail page stops listening."""


async def runs(request: Request, *, org_id: str, where: reads.RunFilter, limit: int = 100) -> list[dict[str, Any]]:
    """A page of the organisation's runs, newest first, as the native API shows them."""
    async with pool_of(request).acquire() as conn:
        return [run_out(r) for r in await reads.runs(conn, org_id=org_id, where=where, limit=limit)]


async def run(request: Request, *, org_id: str, run_id: str) -> dict[str, Any] | None:
    """One run of the organisation."""
    async with pool_of(request).acquire() as conn:
        row = await reads.run(conn, org_id=org_id, run_id=run_id)
    return run_out(row) if row else None


async def detail(request: Request, *, org_id: str, run_id: str) -> dict[str, Any]:
    """Everything a run's detail page shows: the run (None while unknown), its objects, errors, logs and chart."""
    async with pool_of(request).acquire() as conn:
        row = await reads.run(conn, org_id=org_id, run_id=run_id)
        if row is None:
            return {"run_id": run_id, "run": None, "objects": [], "errors": [], "logs": "", "chart": None}
        objects = await reads.checkpoints(conn, run_id=run_id)
        logs = await logs_of(conn, org_id=org_id, run_id=run_id)
    run = run_out(row)
    errors = [("run", run["error"])] if run["error"] else []
    errors += [(o["object"], o["error"]) for o in objects if o["error"]]
    return {
        "run_id": run_id,
        "run": run,
        "objects": objects,
        "errors": errors,
        "logs": logs,
        "chart": drawn(request, org_id=org_id, run=run),
        "ended": run["status"] in ENDED,
    }


async def logs_of(conn: Conn, *, org_id: str, run_id: str) -> str:
    """The run's log (what its executor did), as text, oldest line first (`run_logs`, as `GET /v1/runs/{id}/logs`)."""
    return run_logs.as_text(await run_logs.lines(conn, org_id=org_id, run_id=run_id))


def drawn(request: Request, *, org_id: str, run: dict[str, Any]) -> chart.Chart | None:
    """The chart of the run's progress events that this gateway's hub still holds (the last ones it relayed)."""
    try:
        hub = events.hub_of(request)
    except UnavailableError:
        return None
    samples = [
        s
        for e in list(hub.replay)
        if e.org_id == org_id and e.run_id == run["id"] and (s := chart.sample(at=e.time, data=e.data)) is not None
    ]
    if run["started_at"] is not None and (not samples or samples[0].at > run["started_at"]):
        samples.insert(0, chart.Sample(at=run["started_at"], rows=0, lag_s=None))
    return chart.draw(samples)
