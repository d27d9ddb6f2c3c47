"""The AWS AppIntegrations operations in the gateway's OpenAPI document, held to botocore's own service model (the
method and URI of each, the members it takes from the path, the query and the body, the body's required members,
its output members), and the routing of each request to its operation, ARNs as identifiers included (no
infrastructure: the signature check is replaced by a probe that names the operation it was reached for)."""

import base64
import json
from typing import Any
from urllib.parse import quote

import botocore.session
import httpx
import pytest
from fastapi import FastAPI, Request

from syncline_gateway.dialects.appintegrations.auth import AwsCaller, caller_of
from syncline_gateway.dialects.appintegrations.errors import AwsError
from syncline_gateway.dialects.appintegrations.routes import _next_token, _offset, _print
from syncline_gateway.errors import BadRequestError
from syncline_gateway.main import build_app
from syncline_gateway.settings import GatewaySettings

SERVED = (
    "CreateDataIntegration",
    "GetDataIntegration",
    "ListDataIntegrations",
    "UpdateDataIntegration",
    "DeleteDataIntegration",
    "CreateDataIntegrationAssociation",
    "ListDataIntegrationAssociations",
    "UpdateDataIntegrationAssociation",
    "ListTagsForResource",
    "TagResource",
    "UntagResource",
)
ID = "943f358f-a398-5064-9608-305f4f6c3ff4"
ARN = f"arn:aws:app-integrations:eu-west-2:123456789012:data-integration/{ID}"
ASSOCIATION_ARN = f"arn:aws:app-integrations:eu-west-2:123456789012:data-integration-association/{ID}/{ID}"


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return build_app(GatewaySettings())


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {
        operation["operationId"]: (method.upper(), path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        if path.startswith(("/dataIntegrations", "/tags"))
    }


def _schema(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    return _schema(document, document["components"]["schemas"][ref.rsplit("/", 1)[-1]]) if ref else node


def test_the_document_has_exactly_the_served_operations(document: dict[str, Any]) -> None:
    assert sorted(_operations(document)) == sorted(SERVED)


@pytest.mark.parametrize("name", SERVED)
def test_each_operation_is_botocores(document: dict[str, Any], name: str) -> None:
    model = botocore.session.get_session().get_service_model("appintegrations").operation_model(name)
    method, path, operation = _operations(document)[name]
    assert (method, path) == (model.http["method"], model.http["requestUri"])
    assert model.input_shape is not None
    assert model.output_shape is not None
    members = model.input_shape.members
    where: dict[str, set[str]] = {}
    for key, member in members.items():  # a member's wire name is its `locationName`, else its key
        where.setdefault(member.serialization.get("location", "body"), set()).add(member.serialization.get("name", key))
    parameters: dict[str, set[str]] = {}
    for parameter in operation.get("parameters", []):
        parameters.setdefault(parameter["in"], set()).add(parameter["name"])
    assert parameters.get("path", set()) == where.get("uri", set())
    assert parameters.get("query", set()) == where.get("querystring", set())
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    assert set(body.get("properties", {})) == where.get("body", set())
    required_body = {m for m in model.input_shape.required_members if m in where.get("body", set())}
    assert set(body.get("required", [])) == required_body
    answer = _schema(document, operation["responses"]["200"]["content"]["application/json"]["schema"])
    assert set(answer.get("properties", {})) <= set(model.output_shape.members)
    assert operation["security"] == [{"awsSigV4": []}]
    error = _schema(document, operation["responses"]["default"]["content"]["application/json"]["schema"])
    assert set(error["properties"]) == {"__type", "message", "Message"}
    assert "422" not in operation["responses"]  # validation problems are AWS's 400s


def _probe(request: Request) -> AwsCaller:
    """In place of the signature check: refuse, naming the operation and its path parameters."""
    route = request.scope["route"]
    raise AwsError(route.operation_id or route.name, json.dumps(request.path_params), status=418)


async def _send(method: str, path: str) -> httpx.Response:
    app = build_app(GatewaySettings())
    app.dependency_overrides[caller_of] = _probe
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
        return await http.request(method, path)


@pytest.mark.parametrize(
    ("method", "path", "operation", "params"),
    [
        ("POST", "/dataIntegrations", "CreateDataIntegration", {}),
        ("GET", "/dataIntegrations", "ListDataIntegrations", {}),
        ("GET", f"/dataIntegrations/{ID}", "GetDataIntegration", {"Identifier": ID}),
        ("GET", f"/dataIntegrations/{quote(ARN, safe='')}", "GetDataIntegration", {"Identifier": ARN}),
        ("PATCH", f"/dataIntegrations/{quote(ARN, safe='')}", "UpdateDataIntegration", {"Identifier": ARN}),
        ("DELETE", f"/dataIntegrations/{ID}", "DeleteDataIntegration", {"Identifier": ID}),
        (
            "POST",
            f"/dataIntegrations/{quote(ARN, safe='')}/associations",
            "CreateDataIntegrationAssociation",
            {"Identifier": ARN},
        ),
        ("GET", f"/dataIntegrations/{ID}/associations", "ListDataIntegrationAssociations", {"Identifier": ID}),
        (
            "PATCH",
            f"/dataIntegrations/{quote(ARN, safe='')}/associations/{quote(ASSOCIATION_ARN, safe='')}",
            "UpdateDataIntegrationAssociation",
            {"Identifier": ARN, "DataIntegrationAssociationIdentifier": ASSOCIATION_ARN},
        ),
        ("GET", f"/tags/{quote(ARN, safe='')}", "ListTagsForResource", {"resourceArn": ARN}),
        ("POST", f"/tags/{quote(ARN, safe='')}", "TagResource", {"resourceArn": ARN}),
        ("DELETE", f"/tags/{quote(ARN, safe='')}?tagKeys=a", "UntagResource", {"resourceArn": ARN}),
    ],
)
async def test_each_request_reaches_its_operation(
    method: str, path: str, operation: str, params: dict[str, str]
) -> None:
    answered = await _send(method, path)
    assert answered.status_code == 418, answered.text
    assert answered.headers["x-amzn-ErrorType"] == operation
    assert json.loads(answered.json()["Message"]) == params


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", f"/dataIntegrations/{ID}"), ("PATCH", f"/tags/{quote(ARN, safe='')}"), ("GET", "/applications")],
)
async def test_a_path_that_names_no_served_operation_is_refused_unsigned_first(method: str, path: str) -> None:
    answered = await _send(method, path)
    assert answered.status_code == 403
    assert answered.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


@pytest.mark.parametrize("offset", ["²", "9" * 30, "-1", "1 ", ""])
def test_a_forged_next_token_is_a_bad_request(offset: str) -> None:
    """A token is opaque, but a client can forge one: never a 500 (a non-ASCII digit, an offset past bigint)."""
    token = base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()
    with pytest.raises(BadRequestError):
        _offset(token)


def test_a_next_token_gives_its_offset() -> None:
    assert _offset(_next_token(150)) == 150
    assert _offset(None) == 0


def test_a_blank_body_prints_as_an_empty_one() -> None:
    """CreateDataIntegrationAssociation reads a blank body as `{}`; its fingerprint must too (it was a 500)."""
    assert _print(b" \n") == _print(b"") == _print(b"{}")
