"""Every AppIntegrations operation Syncline serves, one route each as botocore's model has it (method, URI, the
members it takes from the path, the query and the body, its output and error shapes), so the gateway's OpenAPI
document describes them. An identifier may be an ARN, which arrives percent-encoded (`arn%3Aaws%3A…%2F<id>`): its
`/` is decoded before routing, so identifiers are `path` parameters. Resources live in the (organisation, region)
of the request's signature; an id or ARN from elsewhere is `ResourceNotFoundException`. The signature is checked
before anything else (a dependency), and a path that names no operation is `UnknownOperationException` once signed.

Writes are commands on `syncline.data_integrations.commands.v1`, answered by policy's outcome (past the bound, a
500 that boto3 retries with the same `ClientToken`, which then finds the first outcome). The 12 Application and
EventIntegration operations answer `UnsupportedOperationException`.
"""

import base64
import binascii
import hashlib
import json
import re
import uuid
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel

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
from syncline_gateway.dialects.appintegrations.errors import REQUEST_ID_HEADER, AwsError, documented, unsupported
from syncline_gateway.dialects.appintegrations.models import (
    ARN_PATTERN,
    AssociationsOut,
    AwsEmptyOut,
    AwsTagsOut,
    CreateAssociationIn,
    CreatedAssociationOut,
    CreateDataIntegrationIn,
    CreatedDataIntegrationOut,
    DataIntegrationOut,
    DataIntegrationsOut,
    Out,
    TagKeyText,
    TagResourceIn,
    UpdateAssociationIn,
    UpdateDataIntegrationIn,
    objects,
    parse,
)
from syncline_gateway.errors import BadRequestError, RejectedError, ResourceNotFoundError
from syncline_gateway.openapi_bodies import json_body
from syncline_gateway.routing import pool_of, send
from syncline_platform.errors import UnavailableError

router = APIRouter(tags=["appintegrations"])

IDS = uuid.UUID("6f1c3f5e-5a8e-4d54-9d1c-7d2b0a4e9c11")
"""Namespace of ids derived from client tokens (a retried create addresses the same resource)."""
MAX_RESULTS = 50


def answer(request: Request, shape: type[Out], body: dict[str, Any]) -> JSONResponse:
    """A success in the operation's output shape (so it is what the document says), with the request id botocore
    reads into `ResponseMetadata`."""
    rendered = shape.model_validate(body).model_dump(mode="json", exclude_none=True)
    return JSONResponse(rendered, headers={REQUEST_ID_HEADER: request.state.request_id})


def _segments(request: Request, prefix: str) -> list[str]:
    """The raw path's segments after `prefix`, each percent-decoded on its own (an ARN's `%2F` stays inside)."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    rest = raw.decode("latin-1")[len(prefix) :]
    return [unquote(segment) for segment in rest.split("/") if segment]


def _print(raw: bytes, *extra: str) -> str:
    """What makes two creates the same request: the JSON body (key order and spacing aside; a blank one is `{}`, as
    `parse` reads it) and `extra`."""
    canonical = json.dumps(json.loads(raw.strip() or b"{}"), sort_keys=True, separators=(",", ":"))
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


def optional_body(model: type[BaseModel]) -> dict[str, Any]:
    """`json_body(model)` for an operation whose members are all optional (an empty body is `{}`)."""
    extra = json_body(model)
    extra["requestBody"]["required"] = False
    return extra


# --- parameters ------------------------------------------------------------------------------------------------

# An identifier is a UUID or an ARN, whose `/` arrives as `%2F` and is decoded before routing: the `path`
# convertor takes it whole (`.../associations` routes come first, so their suffix is never part of it).
Identifier = Annotated[
    str,
    PathParam(
        alias="Identifier", min_length=1, max_length=255, pattern=r".*\S.*", description="The id or ARN of the resource"
    ),
]
ResourceArn = Annotated[
    str,
    PathParam(
        alias="resourceArn",
        min_length=1,
        max_length=2048,
        pattern=ARN_PATTERN,
        description="The ARN of a data integration",
    ),
]
MaxResults = Annotated[int | None, Query(alias="maxResults", ge=1, le=MAX_RESULTS)]
NextToken = Annotated[str | None, Query(alias="nextToken", min_length=1, max_length=1000)]
TagKeys = Annotated[list[TagKeyText], Query(alias="tagKeys", min_length=1, max_length=200)]
Caller = Annotated[AwsCaller, Depends(caller_of)]
"""The SigV4-verified caller: checked before any parameter, so an unsigned request is refused first."""

INTEGRATION = "/dataIntegrations/{Identifier:path}"
ASSOCIATIONS = f"{INTEGRATION}/associations"
ASSOCIATION = f"{ASSOCIATIONS}/{{DataIntegrationAssociationIdentifier:path}}"
TAGS = "/tags/{resourceArn:path}"


def _offset(token: str | None) -> int:
    """Where a list call starts: the offset in its (opaque to clients) token."""
    if token is None:
        return 0
    try:
        offset = base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset:")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadRequestError("The nextToken is not valid") from exc
    # ASCII digits only (`"²".isdigit()` holds, and `int` refuses it), and within PostgreSQL's bigint OFFSET
    if not re.fullmatch(r"[0-9]{1,18}", offset):
        raise BadRequestError("The nextToken is not valid")
    return int(offset)


def _next_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


# --- associations ----------------------------------------------------------------------------------------------
# (declared before the data integration's routes: its identifier takes any segments, `/associations…` included)


@router.patch(
    ASSOCIATION,
    operation_id="UpdateDataIntegrationAssociation",
    response_model=AwsEmptyOut,
    responses=documented(404),
    openapi_extra=json_body(UpdateAssociationIn),
)
async def update_association(
    request: Request,
    caller: Caller,
    identifier: Identifier,
    association: Annotated[str, PathParam(alias="DataIntegrationAssociationIdentifier", min_length=1, max_length=255)],
) -> Response:
    body = parse(await request.body(), UpdateAssociationIn)
    row, account = await _integration(request, caller, identifier)
    association_id = _id_of(association, resource="data-integration-association", caller=caller, account=account)
    command = UpdateDataIntegrationAssociation(
        data_integration_id=row["id"],
        association_id=association_id,
        execution_configuration=body.ExecutionConfiguration.part(),
    )
    outcome = await _command(request, caller, command)
    assert isinstance(outcome, DataIntegrationAssociationConfigured)  # noqa: S101 - the answer to this command
    if outcome.run_now:
        await _run_once(request, caller, association_id=association_id, only_if_new=False)
    return answer(request, AwsEmptyOut, {})


@router.post(
    ASSOCIATIONS,
    operation_id="CreateDataIntegrationAssociation",
    response_model=CreatedAssociationOut,
    responses=documented(404, 429),
    openapi_extra=optional_body(CreateAssociationIn),
)
async def create_association(request: Request, caller: Caller, identifier: Identifier) -> Response:
    raw = await request.body()
    body = parse(raw, CreateAssociationIn, empty_ok=True)
    row, account = await _integration(request, caller, identifier)
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
    created = {"DataIntegrationAssociationId": outcome.association_id, "DataIntegrationArn": arn}
    return answer(request, CreatedAssociationOut, created)


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


@router.get(
    ASSOCIATIONS,
    operation_id="ListDataIntegrationAssociations",
    response_model=AssociationsOut,
    responses=documented(404),
)
async def list_associations(
    request: Request,
    caller: Caller,
    identifier: Identifier,
    max_results: MaxResults = None,
    next_token: NextToken = None,
) -> Response:
    offset, size = _offset(next_token), max_results or MAX_RESULTS
    row, account = await _integration(request, caller, identifier)
    items = []
    async with pool_of(request).acquire() as conn:
        found = await reads.association(conn, org_id=caller.org_id, integration_id=row["id"])
        if found is not None and offset == 0:
            run = await reads.newest_run(conn, org_id=caller.org_id, sync_id=found["id"])
            queued = await reads.run_queued(conn, org_id=caller.org_id, association_id=found["id"])
            last = rendering.last_execution(run, queued=queued)
            items.append(rendering.association(found, integration_row=row, account=account, last=last))
    return answer(request, AssociationsOut, {"DataIntegrationAssociations": items[:size]})


# --- data integrations -----------------------------------------------------------------------------------------


@router.post(
    "/dataIntegrations",
    operation_id="CreateDataIntegration",
    response_model=CreatedDataIntegrationOut,
    responses=documented(409),
    openapi_extra=json_body(CreateDataIntegrationIn),
)
async def create_integration(request: Request, caller: Caller) -> Response:
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
    return answer(request, CreatedDataIntegrationOut, rendering.integration(row, account=account, with_token=True))


@router.get(
    INTEGRATION, operation_id="GetDataIntegration", response_model=DataIntegrationOut, responses=documented(404)
)
async def get_integration(request: Request, caller: Caller, identifier: Identifier) -> Response:
    row, account = await _integration(request, caller, identifier)
    return answer(request, DataIntegrationOut, rendering.integration(row, account=account))


@router.get(
    "/dataIntegrations", operation_id="ListDataIntegrations", response_model=DataIntegrationsOut, responses=documented()
)
async def list_integrations(
    request: Request, caller: Caller, max_results: MaxResults = None, next_token: NextToken = None
) -> Response:
    offset, size = _offset(next_token), max_results or MAX_RESULTS
    async with pool_of(request).acquire() as conn:
        account = await reads.account_of(conn, org_id=caller.org_id)
        rows = await reads.integrations(conn, org_id=caller.org_id, region=caller.region, offset=offset, limit=size)
    body: dict[str, Any] = {"DataIntegrations": [rendering.summary(r, account=account) for r in rows[:size]]}
    if len(rows) > size:  # the last page carries no NextToken (an empty one would make the paginator loop)
        body["NextToken"] = _next_token(offset + size)
    return answer(request, DataIntegrationsOut, body)


@router.patch(
    INTEGRATION,
    operation_id="UpdateDataIntegration",
    response_model=AwsEmptyOut,
    responses=documented(404),
    openapi_extra=optional_body(UpdateDataIntegrationIn),
)
async def update_integration(request: Request, caller: Caller, identifier: Identifier) -> Response:
    body = parse(await request.body(), UpdateDataIntegrationIn, empty_ok=True)
    row, _ = await _integration(request, caller, identifier)
    command = UpdateDataIntegration(data_integration_id=row["id"], name=body.Name, description=body.Description)
    await _command(request, caller, command, conflict=("InvalidRequestException", 400))
    return answer(request, AwsEmptyOut, {})


@router.delete(INTEGRATION, operation_id="DeleteDataIntegration", response_model=AwsEmptyOut, responses=documented(404))
async def delete_integration(request: Request, caller: Caller, identifier: Identifier) -> Response:
    row, _ = await _integration(request, caller, identifier)
    await _command(request, caller, DeleteDataIntegration(data_integration_id=row["id"]))
    return answer(request, AwsEmptyOut, {})


# --- tags ------------------------------------------------------------------------------------------------------


@router.get(TAGS, operation_id="ListTagsForResource", response_model=AwsTagsOut, responses=documented(404))
async def list_tags(request: Request, caller: Caller, arn: ResourceArn) -> Response:
    row, _ = await _integration(request, caller, arn)
    return answer(request, AwsTagsOut, {"tags": dict(row["tags"] or {})})


@router.post(
    TAGS,
    operation_id="TagResource",
    response_model=AwsEmptyOut,
    responses=documented(404, 409),
    openapi_extra=json_body(TagResourceIn),
)
async def tag_resource(request: Request, caller: Caller, arn: ResourceArn) -> Response:
    body = parse(await request.body(), TagResourceIn)
    row, _ = await _integration(request, caller, arn)
    await _command(request, caller, TagDataIntegration(data_integration_id=row["id"], tags=dict(body.tags)))
    return answer(request, AwsEmptyOut, {})


@router.delete(TAGS, operation_id="UntagResource", response_model=AwsEmptyOut, responses=documented(404, 409))
async def untag_resource(request: Request, caller: Caller, arn: ResourceArn, keys: TagKeys) -> Response:
    row, _ = await _integration(request, caller, arn)
    await _command(request, caller, UntagDataIntegration(data_integration_id=row["id"], tag_keys=tuple(keys)))
    return answer(request, AwsEmptyOut, {})


# --- what is not served ----------------------------------------------------------------------------------------

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

_METHODS = ["GET", "POST", "PATCH", "DELETE"]


@router.api_route("/dataIntegrations/{rest:path}", methods=_METHODS, include_in_schema=False)
@router.api_route("/tags/{rest:path}", methods=_METHODS, include_in_schema=False)
async def unknown_operations(request: Request) -> Response:
    """A path of the dialect that names no operation for its method: signed requests only are told so."""
    await caller_of(request)
    raise AwsError("UnknownOperationException", f"no operation for {request.method} {request.url.path}", status=404)


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
