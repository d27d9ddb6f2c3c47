"""Every AppIntegrations operation, routed on the raw path: an ARN used as an identifier arrives percent-encoded
(`arn%3Aaws%3A…%2F<id>`), and its `/` must not split the path. Resources live in the (organisation, region) of
the request's signature; an id or ARN from elsewhere is `ResourceNotFoundException`.

Writes are commands on `syncline.data_integrations.commands.v1`, answered by policy's outcome (past the bound, a
500 that boto3 retries with the same `ClientToken`, which then finds the first outcome). The 12 Application and
EventIntegration operations answer `UnsupportedOperationException`.
"""

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, unquote

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from syncline_contracts.base import Message
from syncline_contracts.data_integrations import (
    CreateDataIntegration,
    CreateDataIntegrationAssociation,
    DataIntegrationAssociationConfigured,
    DataIntegrationConfigured,
    DeleteDataIntegration,
    TagDataIntegration,
    UntagDataIntegration,
    UpdateDataIntegration,
    UpdateDataIntegrationAssociation,
)
from syncline_contracts.topics import DATA_INTEGRATION_COMMANDS
from syncline_gateway.dialects.appintegrations import reads, rendering, runs
from syncline_gateway.dialects.appintegrations.auth import AwsCaller, caller_of
from syncline_gateway.dialects.appintegrations.errors import REQUEST_ID_HEADER, AwsError, unsupported
from syncline_gateway.dialects.appintegrations.models import (
    CreateAssociationIn,
    CreateDataIntegrationIn,
    TagResourceIn,
    UpdateAssociationIn,
    UpdateDataIntegrationIn,
    objects,
    parse,
)
from syncline_gateway.errors import BadRequestError, RejectedError, ResourceNotFoundError
from syncline_gateway.routing import pool_of, send
from syncline_platform.errors import UnavailableError

router = APIRouter(tags=["appintegrations"])

IDS = uuid.UUID("6f1c3f5e-5a8e-4d54-9d1c-7d2b0a4e9c11")
"""Namespace of ids derived from client tokens (a retried create addresses the same resource)."""
MAX_RESULTS = 50

Handler = Callable[[Request, AwsCaller, list[str]], Awaitable[Response]]


def answer(request: Request, body: dict[str, Any]) -> JSONResponse:
    """A success, with the request id botocore reads into `ResponseMetadata`."""
    return JSONResponse(body, headers={REQUEST_ID_HEADER: request.state.request_id})


def _segments(request: Request, prefix: str) -> list[str]:
    """The raw path's segments after `prefix`, each percent-decoded on its own (an ARN's `%2F` stays inside)."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    rest = raw.decode("latin-1")[len(prefix) :]
    return [unquote(segment) for segment in rest.split("/") if segment]


def _print(raw: bytes, *extra: str) -> str:
    """What makes two creates the same request: the JSON body (key order and spacing aside) and `extra`."""
    canonical = json.dumps(json.loads(raw or b"{}"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256("\0".join((canonical, *extra)).encode()).hexdigest()


def _derived_id(token: str | None, *scope: str) -> str:
    return str(uuid.uuid5(IDS, "\0".join((*scope, token)))) if token else str(uuid.uuid4())


async def _command(request: Request, caller: AwsCaller, message: Message, **mapping: tuple[str, int]) -> Message:
    """Send a command and return policy's answer; a rejection raises, mapped by code to an AWS error when
    `mapping` names the code (e.g. `conflict=("ResourceQuotaExceededException", 429)`)."""
    try:
        outcome = await send(request, topic=DATA_INTEGRATION_COMMANDS, message=message, org_id=caller.org_id)
    except RejectedError as exc:
        if exc.code in mapping:
            code, status = mapping[exc.code]
            raise AwsError(code, exc.reason, status=status) from exc
        raise
    if outcome is None:
        raise UnavailableError(dependency="policy", detail="no answer within the bound; retry the request")
    return outcome


# --- identifiers -----------------------------------------------------------------------------------------------


def _not_found(identifier: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(
        kind="data integration", resource_id=identifier, message=f"DataIntegration {identifier} not found"
    )


async def _integration(request: Request, caller: AwsCaller, identifier: str) -> tuple[dict[str, Any], str]:
    """The data integration an id or ARN names in the caller's region, and the organisation's account id."""
    async with pool_of(request).acquire() as conn:
        account = await reads.account_of(conn, org_id=caller.org_id)
        integration_id = _id_of(identifier, resource="data-integration", caller=caller, account=account)
        row = await reads.integration(conn, org_id=caller.org_id, region=caller.region, integration_id=integration_id)
    if row is None:
        raise _not_found(identifier)
    return row, account


def _id_of(identifier: str, *, resource: str, caller: AwsCaller, account: str) -> str:
    """The last id of an ARN of `resource` in the caller's region and account (or the identifier itself)."""
    if not identifier.startswith("arn:"):
        return identifier
    parts = identifier.split(":", 5)
    if len(parts) != 6 or parts[2] != rendering.SERVICE or parts[3] != caller.region or parts[4] != account:
        raise _not_found(identifier)
    kind, _, path = parts[5].partition("/")
    if kind != resource or not path:
        raise _not_found(identifier)
    return path.rsplit("/", 1)[-1]


# --- data integrations -----------------------------------------------------------------------------------------


async def create_integration(request: Request, caller: AwsCaller, _: list[str]) -> Response:
    raw = await request.body()
    body = parse(raw, CreateDataIntegrationIn)
    command = CreateDataIntegration(
        data_integration_id=_derived_id(body.ClientToken, caller.org_id, caller.region),
        region=caller.region,
        name=body.Name,
        description=body.Description,
        kms_key=body.KmsKey,
        source_uri=body.SourceURI,
        schedule_config=body.ScheduleConfig.part() if body.ScheduleConfig else None,
        file_configuration=body.FileConfiguration.part() if body.FileConfiguration else None,
        object_configuration=objects(body.ObjectConfiguration),
        tags=dict(body.Tags or {}),
        client_token=body.ClientToken,
        request_print=_print(raw, caller.region),
        actor=caller.principal.key_id,
    )
    outcome = await _command(request, caller, command)
    assert isinstance(outcome, DataIntegrationConfigured)  # noqa: S101 - the answer to this command
    row, account = await _integration(request, caller, outcome.data_integration_id)
    return answer(request, rendering.integration(row, account=account, with_token=True))


async def get_integration(request: Request, caller: AwsCaller, path: list[str]) -> Response:
    row, account = await _integration(request, caller, path[0])
    return answer(request, rendering.integration(row, account=account))


def _page(request: Request) -> tuple[int, int]:
    """(offset, max results) of a list call; the token is opaque to clients."""
    query = parse_qs(request.url.query, keep_blank_values=True)
    size = query.get("maxResults", [str(MAX_RESULTS)])[0]
    if not size.isdigit() or not 1 <= int(size) <= MAX_RESULTS:
        raise BadRequestError(f"maxResults must be an integer from 1 to {MAX_RESULTS}")
    token = query.get("nextToken", [None])[0]
    if token is None:
        return 0, int(size)
    try:
        offset = base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset:")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequestError("The nextToken is not valid") from exc
    if not offset.isdigit():
        raise BadRequestError("The nextToken is not valid")
    return int(offset), int(size)


def _next_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


async def list_integrations(request: Request, caller: AwsCaller, _: list[str]) -> Response:
    offset, size = _page(request)
    async with pool_of(request).acquire() as conn:
        account = await reads.account_of(conn, org_id=caller.org_id)
        rows = await reads.integrations(conn, org_id=caller.org_id, region=caller.region, offset=offset, limit=size)
    body: dict[str, Any] = {"DataIntegrations": [rendering.summary(r, account=account) for r in rows[:size]]}
    if len(rows) > size:  # the last page carries no NextToken (an empty one would make the paginator loop)
        body["NextToken"] = _next_token(offset + size)
    return answer(request, body)


async def update_integration(request: Request, caller: AwsCaller, path: list[str]) -> Response:
    body = parse(await request.body(), UpdateDataIntegrationIn, empty_ok=True)
    row, _ = await _integration(request, caller, path[0])
    command = UpdateDataIntegration(data_integration_id=row["id"], name=body.Name, description=body.Description)
    await _command(request, caller, command, conflict=("InvalidRequestException", 400))
    return answer(request, {})


async def delete_integration(request: Request, caller: AwsCaller, path: list[str]) -> Response:
    row, _ = await _integration(request, caller, path[0])
    await _command(request, caller, DeleteDataIntegration(data_integration_id=row["id"]))
    return answer(request, {})


# --- associations ----------------------------------------------------------------------------------------------


async def create_association(request: Request, caller: AwsCaller, path: list[str]) -> Response:
    raw = await request.body()
    body = parse(raw, CreateAssociationIn, empty_ok=True)
    row, account = await _integration(request, caller, path[0])
    command = CreateDataIntegrationAssociation(
        data_integration_id=row["id"],
        association_id=_derived_id(body.ClientToken, caller.org_id, row["id"]),
        client_id=body.ClientId,
        destination_uri=body.DestinationURI,
        object_configuration=objects(body.ObjectConfiguration),
        client_association_metadata=body.ClientAssociationMetadata,
        execution_configuration=body.ExecutionConfiguration.part() if body.ExecutionConfiguration else None,
        client_token=body.ClientToken,
        request_print=_print(raw),
        actor=caller.principal.key_id,
    )
    outcome = await _command(request, caller, command, conflict=("ResourceQuotaExceededException", 429))
    assert isinstance(outcome, DataIntegrationAssociationConfigured)  # noqa: S101 - the answer to this command
    if outcome.run_now:
        await _run_once(request, caller, association_id=outcome.association_id, only_if_new=outcome.result != "created")
    arn = rendering.integration_arn(region=caller.region, account=account, integration_id=row["id"])
    return answer(request, {"DataIntegrationAssociationId": outcome.association_id, "DataIntegrationArn": arn})


async def _run_once(request: Request, caller: AwsCaller, *, association_id: str, only_if_new: bool) -> None:
    """Start the association's on-demand run (for a replayed create, only when its first try started none)."""
    pool = pool_of(request)
    if only_if_new:
        async with pool.acquire() as conn:
            if await reads.newest_run(conn, org_id=caller.org_id, sync_id=association_id) is not None:
                return
    await runs.start(
        bus=request.app.state.commands,
        pool=pool,
        org_id=caller.org_id,
        association_id=association_id,
        request_id=request.state.request_id,
    )


async def list_associations(request: Request, caller: AwsCaller, path: list[str]) -> Response:
    offset, size = _page(request)
    row, account = await _integration(request, caller, path[0])
    items = []
    async with pool_of(request).acquire() as conn:
        found = await reads.association(conn, org_id=caller.org_id, integration_id=row["id"])
        if found is not None and offset == 0:
            run = await reads.newest_run(conn, org_id=caller.org_id, sync_id=found["id"])
            queued = await reads.run_queued(conn, org_id=caller.org_id, association_id=found["id"])
            last = rendering.last_execution(run, queued=queued)
            items.append(rendering.association(found, integration_row=row, account=account, last=last))
    return answer(request, {"DataIntegrationAssociations": items[:size]})


async def update_association(request: Request, caller: AwsCaller, path: list[str]) -> Response:
    body = parse(await request.body(), UpdateAssociationIn)
    row, account = await _integration(request, caller, path[0])
    association_id = _id_of(path[2], resource="data-integration-association", caller=caller, account=account)
    command = UpdateDataIntegrationAssociation(
        data_integration_id=row["id"],
        association_id=association_id,
        execution_configuration=body.ExecutionConfiguration.part(),
    )
    outcome = await _command(request, caller, command)
    assert isinstance(outcome, DataIntegrationAssociationConfigured)  # noqa: S101 - the answer to this command
    if outcome.run_now:
        await _run_once(request, caller, association_id=association_id, only_if_new=False)
    return answer(request, {})


# --- tags ------------------------------------------------------------------------------------------------------


async def _tagged(request: Request, caller: AwsCaller, path: list[str]) -> dict[str, Any]:
    arn = "/".join(path)
    if not arn.startswith("arn:"):
        raise BadRequestError(f"[{arn}] is not an ARN")
    row, _ = await _integration(request, caller, arn)
    return row


async def list_tags(request: Request, caller: AwsCaller, path: list[str]) -> Response:
    row = await _tagged(request, caller, path)
    return answer(request, {"tags": dict(row["tags"] or {})})


async def tag_resource(request: Request, caller: AwsCaller, path: list[str]) -> Response:
    body = parse(await request.body(), TagResourceIn)
    row = await _tagged(request, caller, path)
    await _command(request, caller, TagDataIntegration(data_integration_id=row["id"], tags=dict(body.tags)))
    return answer(request, {})


async def untag_resource(request: Request, caller: AwsCaller, path: list[str]) -> Response:
    keys = parse_qs(request.url.query).get("tagKeys", [])
    if not keys:
        raise BadRequestError("tagKeys is required")
    row = await _tagged(request, caller, path)
    await _command(request, caller, UntagDataIntegration(data_integration_id=row["id"], tag_keys=tuple(keys)))
    return answer(request, {})


# --- dispatch --------------------------------------------------------------------------------------------------

DATA_INTEGRATION_ROUTES: dict[tuple[str, int], Handler] = {
    ("POST", 0): create_integration,
    ("GET", 0): list_integrations,
    ("GET", 1): get_integration,
    ("PATCH", 1): update_integration,
    ("DELETE", 1): delete_integration,
    ("POST", 2): create_association,
    ("GET", 2): list_associations,
    ("PATCH", 3): update_association,
}
"""(method, path segments after `/dataIntegrations`) → operation; segment 2 must be `associations`."""

TAG_ROUTES: dict[str, Handler] = {"GET": list_tags, "POST": tag_resource, "DELETE": untag_resource}

UNSUPPORTED: dict[tuple[str, str, int], str] = {
    ("applications", "POST", 0): "CreateApplication",
    ("applications", "GET", 0): "ListApplications",
    ("applications", "GET", 1): "GetApplication",
    ("applications", "PATCH", 1): "UpdateApplication",
    ("applications", "DELETE", 1): "DeleteApplication",
    ("applications", "GET", 2): "ListApplicationAssociations",
    ("eventIntegrations", "POST", 0): "CreateEventIntegration",
    ("eventIntegrations", "GET", 0): "ListEventIntegrations",
    ("eventIntegrations", "GET", 1): "GetEventIntegration",
    ("eventIntegrations", "PATCH", 1): "UpdateEventIntegration",
    ("eventIntegrations", "DELETE", 1): "DeleteEventIntegration",
    ("eventIntegrations", "GET", 2): "ListEventIntegrationAssociations",
}
"""The 12 Application and EventIntegration operations, which Syncline does not serve."""


def _unknown(request: Request) -> AwsError:
    return AwsError("UnknownOperationException", f"no operation for {request.method} {request.url.path}", status=404)


def _data_integration_route(request: Request, path: list[str]) -> Handler:
    handler = DATA_INTEGRATION_ROUTES.get((request.method, len(path)))
    if handler is None or (len(path) >= 2 and path[1] != "associations"):
        raise _unknown(request)
    return handler


_METHODS = ["GET", "POST", "PATCH", "DELETE"]


@router.api_route("/dataIntegrations", methods=_METHODS, include_in_schema=False)
@router.api_route("/dataIntegrations/{rest:path}", methods=_METHODS, include_in_schema=False)
async def data_integrations(request: Request) -> Response:
    caller = await caller_of(request)
    path = _segments(request, "/dataIntegrations")
    return await _data_integration_route(request, path)(request, caller, path)


@router.api_route("/tags/{rest:path}", methods=_METHODS, include_in_schema=False)
async def tags(request: Request) -> Response:
    caller = await caller_of(request)
    handler = TAG_ROUTES.get(request.method)
    path = _segments(request, "/tags")
    if handler is None or not path:
        raise _unknown(request)
    return await handler(request, caller, path)


@router.api_route("/applications", methods=_METHODS, include_in_schema=False)
@router.api_route("/applications/{rest:path}", methods=_METHODS, include_in_schema=False)
@router.api_route("/eventIntegrations", methods=_METHODS, include_in_schema=False)
@router.api_route("/eventIntegrations/{rest:path}", methods=_METHODS, include_in_schema=False)
async def unsupported_operations(request: Request) -> Response:
    await caller_of(request)
    resource = request.url.path.split("/")[1]
    path = _segments(request, f"/{resource}")
    operation = UNSUPPORTED.get((resource, request.method, len(path)))
    raise unsupported(operation or f"{request.method} {request.url.path}")
