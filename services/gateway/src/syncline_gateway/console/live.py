"""The console's live stream, `GET /ui/stream`: the native event hub's events of the signed-in organisation, turned
into HTML for htmx's SSE extension to swap in.

Without `run_id` (the runs page), each event of a run sends `event: <dom_key(run)>` with that run's table cells,
re-read from the read model, and a `run.created` also sends `event: runs-changed` (the page reloads its rows).
With `run_id` (a run's detail page), each of its events sends `event: detail` (summary, objects, errors, logs)
and `event: chart`; once the run has ended, `event: closed` tells the page to stop listening. Frames carry the
run event's id, so a reconnecting page resumes after it (the hub's `Last-Event-ID`).
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from syncline_gateway.console import reading
from syncline_gateway.console.auth import Viewer
from syncline_gateway.console.views import dom_key, fragment
from syncline_gateway.dialects.native import events
from syncline_gateway.dialects.native.events import KEEPALIVE_S, RETRY_MS, EventHub, LiveEvent, Subscription

router = APIRouter(prefix="/ui", include_in_schema=False)


def frame(event: str, data: str, *, event_id: str | None = None) -> str:
    """One SSE frame; `data` may span lines (each becomes a `data:` line) and is never empty."""
    head = f"id: {event_id}\n" if event_id and event_id.isprintable() else ""  # a line break would end the field
    body = "".join(f"data: {line}\n" for line in (data.splitlines() or ["-"]))
    return f"{head}event: {event}\n{body}\n"


async def _for_list(request: Request, event: LiveEvent) -> str:
    out = frame("runs-changed", "1") if event.type == "run.created" else ""
    if event.run_id is None:
        return out
    run = await reading.run(request, org_id=event.org_id, run_id=event.run_id)
    if run is not None:
        out += frame(dom_key(run["id"]), fragment("run_cells.html", run=run), event_id=event.id)
    return out


async def _for_detail(request: Request, *, org_id: str, run_id: str, event_id: str | None) -> tuple[str, bool]:
    context = await reading.detail(request, org_id=org_id, run_id=run_id)
    out = frame("detail", fragment("run_detail_body.html", **context), event_id=event_id)
    out += frame("chart", fragment("chart.html", chart=context["chart"]), event_id=event_id)
    ended = bool(context.get("ended"))
    return (out + frame("closed", "ended") if ended else out), ended


async def _frames(request: Request, hub: EventHub, client: Subscription, first: str) -> AsyncIterator[bytes]:
    try:
        yield first.encode()
        if client.run_id is not None:  # the page may have been drawn before the last events: start from now
            out, ended = await _for_detail(request, org_id=client.org_id, run_id=client.run_id, event_id=None)
            yield out.encode()
            if ended:
                return
        while True:
            try:
                event = await asyncio.wait_for(client.queue.get(), timeout=KEEPALIVE_S)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            if event is None:
                return
            if client.run_id is None:
                yield (await _for_list(request, event)).encode()
                continue
            out, ended = await _for_detail(request, org_id=client.org_id, run_id=client.run_id, event_id=event.id)
            yield out.encode()
            if ended:
                return
    finally:
        hub.unsubscribe(client)


@router.get("/stream")
async def stream(
    request: Request,
    viewer: Viewer,
    run_id: str | None = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """The signed-in organisation's run events as HTML fragments (`text/event-stream`), of one run with `run_id`."""
    hub = events.hub_of(request)
    client, missed, found = hub.subscribe(
        org_id=viewer.org_id, sync_id=None, run_id=run_id, last_event_id=last_event_id
    )
    for event in missed:  # replayed through the same rendering as live ones
        client.offer(event)
    del found  # a page re-reads what it shows when it connects (below), resumed or not
    first = f"retry: {RETRY_MS}\n: connected\n\n"
    if run_id is None:  # the rows may have changed since the page was drawn
        first += frame("runs-changed", "1")
    return StreamingResponse(
        _frames(request, hub, client, first),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
