"""Connections: `/api/connections[...]` and `/api/connection_types[...]`.

Creates, updates and deletes are commands on `syncline.connections.commands.v1` (policy checks and stores them);
secrets are sealed here before they travel and never answered. Tests and source discovery talk to the
connection directly, with its secret opened only for that call.
"""

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from syncline_connectors import connection_types
from syncline_connectors.connection_types import (
    CONNECTION_TYPES,
    ConnectionType,
    SourceUnavailableError,
    check_secrets_given,
)
from syncline_connectors.reach import Reach
from syncline_contracts.connections import CreateConnection, DeleteConnection, UpdateConnection
from syncline_contracts.topics import CONNECTION_COMMANDS
from syncline_gateway.credentials import Principal
from syncline_gateway.dialects.polytomic import queries, rendering
from syncline_gateway.dialects.polytomic.auth import acting_org, scope
from syncline_gateway.dialects.polytomic.common import Caller, answer
from syncline_gateway.dialects.polytomic.models import (
    BulkSyncDestEnvelope,
    BulkSyncSourceEnvelope,
    ConnectionEnvelope,
    ConnectionIn,
    ConnectionListEnvelope,
    ConnectionPendingEnvelope,
    ConnectionTestEnvelope,
    ConnectionTestIn,
    ConnectionTypeListEnvelope,
    JsonSchemaOut,
    parse,
)
from syncline_gateway.errors import BadRequestError, ForbiddenError, ResourceNotFoundError
from syncline_gateway.openapi_bodies import answers, json_body
from syncline_gateway.routing import once, pool_of, send
from syncline_platform.errors import InvalidError
from syncline_platform.secrets import Sealer

router = APIRouter(tags=["polytomic"])
FILE_OBJECTS = {"object_per": "file"}
"""A folder's schemas are its files, as policy's compiler has its runs read them."""


def _kind(name: str | None) -> ConnectionType:
    if not name:
        raise BadRequestError("[type] is required")
    kind = CONNECTION_TYPES.get(name)
    if kind is None:
        raise InvalidError(f"unknown connection type [{name}]; expected one of {', '.join(CONNECTION_TYPES)}")
    return kind


def _split(
    request: Request, kind: ConnectionType, configuration: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """(public values, sealed secrets): secrets never travel or rest in clear."""
    sealer: Sealer = request.app.state.sealer
    sealed = {k: sealer.seal(str(v)) for k, v in configuration.items() if k in kind.secret_keys and v not in (None, "")}
    return {k: v for k, v in configuration.items() if k not in kind.secret_keys}, sealed


async def read_connection(request: Request, caller: Principal, connection_id: str) -> dict[str, Any]:
    """A connection in the caller's scope, or a 404."""
    async with pool_of(request).acquire() as conn:
        row = await queries.connection(conn, org_id=scope(caller), connection_id=connection_id)
    if row is None:
        raise ResourceNotFoundError(
            kind="connection", resource_id=connection_id, message=f"connection {connection_id} not found"
        )
    return row


async def _answer_connection(request: Request, caller: Principal, connection_id: str) -> JSONResponse:
    row = await read_connection(request, caller, connection_id)
    return answer(rendering.connection(row))


@router.get("/api/connection_types", responses=answers({200: ConnectionTypeListEnvelope}))
async def list_connection_types(caller: Caller) -> JSONResponse:
    del caller
    return answer([rendering.connection_type(kind) for kind in CONNECTION_TYPES.values()])


@router.get("/api/connection_types/{type_id}", responses=answers({200: JsonSchemaOut}))
async def get_connection_type(type_id: str, caller: Caller) -> JSONResponse:
    del caller
    kind = CONNECTION_TYPES.get(type_id)
    if kind is None:
        raise ResourceNotFoundError(
            kind="connection type", resource_id=type_id, message=f"connection type {type_id} not found"
        )
    return JSONResponse(rendering.connection_type(kind)["configurationForm"]["jsonschema"])


@router.post(
    "/api/connections",
    openapi_extra=json_body(ConnectionIn),
    responses=answers({200: ConnectionEnvelope, 202: ConnectionPendingEnvelope}),
)
async def create_connection(request: Request, caller: Caller) -> Response:
    return await once(request, caller, lambda: _create(request, caller))


async def _create(request: Request, caller: Principal) -> Response:
    body = parse(await request.body(), ConnectionIn)
    kind = _kind(body.type)
    org_id = await acting_org(request, caller, body.organization_id)
    public, sealed = _split(request, kind, body.configuration)
    command = CreateConnection(
        connection_id=str(uuid.uuid4()),
        name=body.name,
        connection_type=kind.id,
        configuration=public,
        sealed_secrets=sealed,
        check=bool(body.validate_),
        healthcheck_interval=body.healthcheck_interval,
        policies=tuple(body.policies or ()),
        actor=caller.key_id,
    )
    if await send(request, topic=CONNECTION_COMMANDS, message=command, org_id=org_id) is None:
        return answer({"id": command.connection_id, "name": body.name, "saved": False}, 202)
    return await _answer_connection(request, caller, command.connection_id)


@router.get("/api/connections", responses=answers({200: ConnectionListEnvelope}))
async def list_connections(request: Request, caller: Caller) -> JSONResponse:
    async with pool_of(request).acquire() as conn:
        rows = await queries.connections(conn, org_id=scope(caller))
    return answer([rendering.connection(r) for r in rows])


@router.post(
    "/api/connections/test", openapi_extra=json_body(ConnectionTestIn), responses=answers({200: ConnectionTestEnvelope})
)
async def test_connection(request: Request, caller: Caller) -> Response:
    return await once(request, caller, lambda: _test(request, caller))


async def _test(request: Request, caller: Principal) -> Response:
    body = parse(await request.body(), ConnectionTestIn)
    kind = _kind(body.type)
    sealer: Sealer = request.app.state.sealer
    configuration = dict(body.configuration)
    org_id = caller.org_id
    if body.connection_id:
        row = await read_connection(request, caller, body.connection_id)
        org_id = row["org_id"]
        merged = dict(row["configuration"]) | configuration
        given = [k for k in kind.secret_keys if configuration.get(k) not in (None, "")]
        check_secrets_given(
            identity=kind.identity,
            secret_keys=kind.secret_keys,
            before=row["configuration"],
            after=merged,
            stored=row["sealed_secrets"],
            given=given,
        )
        stored = {k: sealer.open(v) for k, v in row["sealed_secrets"].items()}
        configuration = dict(row["configuration"]) | stored | configuration
    public = {k: v for k, v in configuration.items() if k not in kind.secret_keys}
    secrets = {k: str(v) for k, v in configuration.items() if k in kind.secret_keys and v not in (None, "")}
    reach: Reach = request.app.state.reach
    problem = await connection_types.check(kind.id, public, secrets=secrets, reach=reach.for_org(org_id))
    if problem:
        raise BadRequestError(f"connection test failed: {problem}")
    return answer({"success": True})


@router.get("/api/connections/{connection_id}", responses=answers({200: ConnectionEnvelope}))
async def get_connection(request: Request, connection_id: str, caller: Caller) -> JSONResponse:
    return await _answer_connection(request, caller, connection_id)


@router.put(
    "/api/connections/{connection_id}",
    openapi_extra=json_body(ConnectionIn),
    responses=answers({200: ConnectionEnvelope, 202: ConnectionPendingEnvelope}),
)
async def update_connection(request: Request, connection_id: str, caller: Caller) -> Response:
    return await once(request, caller, lambda: _update(request, caller, connection_id))


async def _update(request: Request, caller: Principal, connection_id: str) -> Response:
    body = parse(await request.body(), ConnectionIn)
    row = await read_connection(request, caller, connection_id)
    if body.organization_id and body.organization_id != row["org_id"]:
        raise ForbiddenError(f"connection {connection_id} belongs to another organization")
    kind = CONNECTION_TYPES[row["type"]]
    if body.type and body.type != kind.id:
        raise InvalidError(f"a connection's type cannot change ({kind.id} → {body.type})")
    public, sealed = _split(request, kind, body.configuration)
    command = UpdateConnection(
        connection_id=connection_id,
        name=body.name,
        configuration=public,
        sealed_secrets=sealed,
        check=bool(body.validate_),
        healthcheck_interval=body.healthcheck_interval,
        policies=tuple(body.policies or ()),
        actor=caller.key_id,
    )
    if await send(request, topic=CONNECTION_COMMANDS, message=command, org_id=row["org_id"]) is None:
        return answer({"id": connection_id, "name": body.name}, 202)
    return await _answer_connection(request, caller, connection_id)


@router.delete("/api/connections/{connection_id}", status_code=204)
async def delete_connection(request: Request, connection_id: str, caller: Caller, *, force: bool = False) -> Response:
    row = await read_connection(request, caller, connection_id)
    command = DeleteConnection(connection_id=connection_id, force=force)
    await send(request, topic=CONNECTION_COMMANDS, message=command, org_id=row["org_id"])
    return Response(status_code=204)


@router.get("/api/connections/{connection_id}/bulksync/source", responses=answers({200: BulkSyncSourceEnvelope}))
async def bulk_source(
    request: Request, connection_id: str, caller: Caller, *, include_fields: bool = False
) -> JSONResponse:
    row = await read_connection(request, caller, connection_id)
    kind = CONNECTION_TYPES[row["type"]]
    if not kind.source:
        raise BadRequestError(f"a [{kind.id}] connection cannot be a bulk sync source")
    sealer: Sealer = request.app.state.sealer
    try:
        found = await connection_types.discover(
            kind.id,
            row["configuration"],
            secrets={k: sealer.open(v) for k, v in row["sealed_secrets"].items() if v},
            reach=request.app.state.reach.for_org(row["org_id"]),
            extra=FILE_OBJECTS if kind.id == "file" else None,
        )
    except SourceUnavailableError as exc:
        raise BadRequestError(str(exc)) from exc
    return answer(rendering.source(kind, found, include_fields=include_fields))


@router.get("/api/connections/{connection_id}/bulksync/target", responses=answers({200: BulkSyncDestEnvelope}))
async def bulk_target(request: Request, connection_id: str, caller: Caller) -> JSONResponse:
    row = await read_connection(request, caller, connection_id)
    kind = CONNECTION_TYPES[row["type"]]
    if not kind.destination:
        raise BadRequestError(f"a [{kind.id}] connection cannot be a bulk sync destination")
    return answer(rendering.target(kind))
