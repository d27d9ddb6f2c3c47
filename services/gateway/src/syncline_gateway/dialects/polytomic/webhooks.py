"""The organisation's webhook (`/api/webhooks[...]`): one per organisation, kept by the gateway with its secret
sealed. Its endpoint is read by httpx's parser (what delivers to it) and checked against the network policy
(`endpoints`); an unusable or refused endpoint is a 422. Deliveries (signed events) are not part of this module."""

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from syncline_gateway.credentials import Principal
from syncline_gateway.dialects.polytomic import queries, rendering
from syncline_gateway.dialects.polytomic.auth import acting_org, scope
from syncline_gateway.dialects.polytomic.common import Caller, answer
from syncline_gateway.dialects.polytomic.endpoints import check_endpoint, parse_endpoint
from syncline_gateway.dialects.polytomic.models import WebhookEnvelope, WebhookIn, WebhookListEnvelope, parse
from syncline_gateway.errors import ForbiddenError, ResourceNotFoundError
from syncline_gateway.openapi_bodies import answers, json_body
from syncline_gateway.routing import once, pool_of
from syncline_platform.errors import InvalidError
from syncline_platform.network import NetworkPolicy
from syncline_platform.secrets import Sealer

router = APIRouter(tags=["polytomic"])


async def _valid(request: Request, body: WebhookIn) -> WebhookIn:
    if not body.secret:
        raise InvalidError("secret is required")
    policy: NetworkPolicy = request.app.state.network
    await check_endpoint(parse_endpoint(body.endpoint, policy=policy), policy=policy)
    return body


def _render(request: Request, row: dict[str, Any]) -> dict[str, Any]:
    sealer: Sealer = request.app.state.sealer
    return rendering.webhook(row, secret=sealer.open(row["sealed_secret"]))


async def _read(request: Request, caller: Principal, webhook_id: str) -> dict[str, Any]:
    async with pool_of(request).acquire() as conn:
        row = await queries.webhook(conn, org_id=scope(caller), webhook_id=webhook_id)
    if row is None:
        raise ResourceNotFoundError(kind="webhook", resource_id=webhook_id, message=f"webhook {webhook_id} not found")
    return row


@router.get("/api/webhooks", responses=answers({200: WebhookListEnvelope}))
async def list_webhooks(request: Request, caller: Caller) -> JSONResponse:
    async with pool_of(request).acquire() as conn:
        rows = await queries.webhooks(conn, org_id=scope(caller))
    return answer([_render(request, r) for r in rows])


@router.post("/api/webhooks", openapi_extra=json_body(WebhookIn), responses=answers({200: WebhookEnvelope}))
async def create_webhook(request: Request, caller: Caller) -> Response:
    return await once(request, caller, lambda: _create(request, caller))


async def _create(request: Request, caller: Principal) -> Response:
    body = await _valid(request, parse(await request.body(), WebhookIn))
    org_id = await acting_org(request, caller, body.organization_id)
    sealer: Sealer = request.app.state.sealer
    async with pool_of(request).acquire() as conn:
        row = await queries.create_webhook(
            conn,
            org_id=org_id,
            webhook_id=str(uuid.uuid4()),
            endpoint=body.endpoint,
            sealed_secret=sealer.seal(body.secret),
        )
    if row is None:
        raise InvalidError(f"organization {org_id} already has a webhook (one per organization); update it instead")
    return answer(_render(request, row))


@router.get("/api/webhooks/{webhook_id}", responses=answers({200: WebhookEnvelope}))
async def get_webhook(request: Request, webhook_id: str, caller: Caller) -> JSONResponse:
    return answer(_render(request, await _read(request, caller, webhook_id)))


@router.put("/api/webhooks/{webhook_id}", openapi_extra=json_body(WebhookIn), responses=answers({200: WebhookEnvelope}))
async def update_webhook(request: Request, webhook_id: str, caller: Caller) -> Response:
    return await once(request, caller, lambda: _update(request, caller, webhook_id))


async def _update(request: Request, caller: Principal, webhook_id: str) -> Response:
    body = await _valid(request, parse(await request.body(), WebhookIn))
    current = await _read(request, caller, webhook_id)
    if body.organization_id and body.organization_id != current["org_id"]:
        raise ForbiddenError(f"webhook {webhook_id} belongs to another organization")
    sealer: Sealer = request.app.state.sealer
    async with pool_of(request).acquire() as conn:
        row = await queries.update_webhook(
            conn, webhook_id=webhook_id, endpoint=body.endpoint, sealed_secret=sealer.seal(body.secret)
        )
    return answer(_render(request, row))


@router.delete("/api/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(request: Request, webhook_id: str, caller: Caller) -> Response:
    await _read(request, caller, webhook_id)
    async with pool_of(request).acquire() as conn:
        await queries.delete_webhook(conn, webhook_id=webhook_id)
    return Response(status_code=204)


@router.post("/api/webhooks/{webhook_id}/disable", responses=answers({200: WebhookEnvelope}))
async def disable_webhook(request: Request, webhook_id: str, caller: Caller) -> Response:
    return await once(request, caller, lambda: _toggle(request, caller, webhook_id, disabled=True))


@router.post("/api/webhooks/{webhook_id}/enable", responses=answers({200: WebhookEnvelope}))
async def enable_webhook(request: Request, webhook_id: str, caller: Caller) -> Response:
    return await once(request, caller, lambda: _toggle(request, caller, webhook_id, disabled=False))


async def _toggle(request: Request, caller: Principal, webhook_id: str, *, disabled: bool) -> Response:
    await _read(request, caller, webhook_id)
    async with pool_of(request).acquire() as conn:
        row = await queries.set_webhook_disabled(
            conn, webhook_id=webhook_id, disabled=disabled, reason="disabled by the API" if disabled else ""
        )
    return answer(_render(request, row))
