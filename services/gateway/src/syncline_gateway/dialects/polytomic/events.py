"""Polytomic events: `GET /api/events` (the organisation's `bulk_sync.*` events of the last 48 h, oldest first)
and `GET /api/events_types`. The events are made from run events by `deliveries`."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from syncline_gateway.dialects.polytomic import event_queries as q
from syncline_gateway.dialects.polytomic.auth import scope
from syncline_gateway.dialects.polytomic.common import Caller, answer
from syncline_gateway.dialects.polytomic.deliveries import ALL_EVENT_TYPES
from syncline_gateway.dialects.polytomic.models import EventsEnvelope, EventTypesEnvelope
from syncline_gateway.dialects.polytomic.rendering import iso
from syncline_gateway.errors import ForbiddenError
from syncline_gateway.openapi_bodies import answers
from syncline_gateway.routing import pool_of

router = APIRouter(tags=["polytomic"])
PAGE_LIMIT = 100
"""The largest (and default) page of `GET /api/events`."""


@router.get("/api/events", responses=answers({200: EventsEnvelope}))
async def list_events(
    request: Request,
    caller: Caller,
    *,
    organization_id: str | None = None,
    type: str | None = None,
    starting_after: datetime | None = None,
    ending_before: datetime | None = None,
    limit: Annotated[int, Query(ge=1)] = PAGE_LIMIT,
) -> JSONResponse:
    org_id = scope(caller)
    if organization_id and organization_id != caller.org_id:
        if not caller.partner:
            raise ForbiddenError(f"this API key may not read the events of organization {organization_id}")
        org_id = organization_id
    async with pool_of(request).acquire() as conn:
        rows = await q.events_page(
            conn, org_id=org_id, kind=type, after=starting_after, before=ending_before, limit=min(limit, PAGE_LIMIT)
        )
    data = [
        {
            "id": r["id"],
            "organization_id": r["org_id"],
            "type": r["type"],
            "created_at": iso(r["created_at"]),
            "event": r["payload"],
        }
        for r in rows
    ]
    return answer(data)


@router.get("/api/events_types", responses=answers({200: EventTypesEnvelope}))
async def event_types(caller: Caller) -> JSONResponse:
    del caller
    return answer(list(ALL_EVENT_TYPES))
