"""Schemathesis over the AWS AppIntegrations operations of the gateway's OpenAPI document (`/dataIntegrations…`,
`/tags/…`), against the whole system: each operation gets a bounded number of generated requests (`EXAMPLES` per
phase) and must answer without a 5xx and with a body that matches the schema the document declares for its status
(its output shape, or AWS's error body).

Every request is SigV4-signed by botocore's own signer (`SigV4Auth`, service `app-integrations`) as a `requests`
auth hook, after schemathesis has built the final URL and body, with the key pair of an organisation of the fuzz's
own, so the cases reach the operations rather than stop at the signature check. About half of the cases that name a
resource name a real one of that organisation (a data integration over a seeded PostgreSQL table and its
association, by id or by ARN), so they get past the lookup too; deletes keep their generated identifier, so those
resources outlive the run. `pytest --hypothesis-show-statistics` shows how many cases each operation took."""

import asyncio
import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import pytest
import requests
import schemathesis
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from schemathesis.checks import not_a_server_error, response_schema_conformance
from tests.e2e.aws_support import REGION, client, integration, seed_events, window
from tests.e2e.polytomic_support import connection, polytomic, wait_for_policy
from tests.e2e.test_openapi_fuzz import FUZZ_SETTINGS
from tests.support.infra import create_database, drop_database, unique
from tests.support.system import System

from syncline_gateway.main import build_app
from syncline_gateway.settings import GatewaySettings

pytestmark = pytest.mark.e2e

FUZZED = r"^/(dataIntegrations|tags)(/|$)"
"""The AppIntegrations operations Syncline serves (the refused Application and EventIntegration ones are not in
the document)."""
SERVICE = "app-integrations"


def aws_schema() -> Any:
    """The gateway's OpenAPI document (as its app builds it, without starting anything), narrowed to the AWS
    operations; the requests go to the live system's gateway."""
    document = build_app(GatewaySettings()).openapi()
    loaded = schemathesis.openapi.from_dict(document).include(path_regex=FUZZED)
    loaded.config.phases.update(phases=["examples", "fuzzing"])  # coverage would try every boundary: unbounded
    return loaded


schema = aws_schema()


def _rfc3986_query(url: str) -> str:
    """`url` with its query encoded as boto3 sends it (RFC 3986: a space is `%20`, never `+`), which is the form
    SigV4's canonical query has: botocore signs a URL's query as it is."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = "&".join(f"{quote(key, safe='-_.~')}={quote(value, safe='-_.~')}" for key, value in pairs)
    return urlunsplit(parts._replace(query=query))


class SigV4Signer(requests.auth.AuthBase):
    """Signs a prepared request as boto3 does (botocore's `SigV4Auth` over the method, URL, `Content-Type`, host
    and body as they will be sent)."""

    def __init__(self, *, key_id: str, secret: str, region: str = REGION) -> None:
        self.credentials = Credentials(key_id, secret)
        self.region = region

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.url = _rfc3986_query(request.url or "")
        body = request.body.encode() if isinstance(request.body, str) else request.body
        content_type = request.headers.get("Content-Type")
        signed = AWSRequest(
            method=request.method,
            url=request.url,
            data=body if isinstance(body, bytes) else b"",
            headers={"Content-Type": content_type} if content_type else {},
        )
        SigV4Auth(self.credentials, SERVICE, self.region).add_auth(signed)
        for header in ("Authorization", "X-Amz-Date"):
            request.headers[header] = signed.headers[header]
        return request


@pytest.fixture(scope="module")
def aws_key(system: System) -> dict[str, Any]:
    """A key pair of an organisation of the fuzz's own (what it creates stays out of the other tests' way)."""
    org = system.admin("create-org", "openapi fuzz aws")
    pair: dict[str, Any] = system.admin("create-key", "--org", org["id"])
    return pair


def aws_key_pair(key: dict[str, Any]) -> dict[str, str]:
    return {"key_id": key["id"], "secret": key["secret"]}


@pytest.fixture(scope="module")
def known(system: System, aws_key: dict[str, Any]) -> Iterator[dict[str, str]]:
    """Resources of the fuzz's organisation, made with boto3 over a seeded source database: an integration with an
    association (`Id`, `Arn`, `AssociationId`, `AssociationArn`) and a `Spare` integration without one."""
    database = unique("fuzz_source")
    dsn = asyncio.run(create_database(database))
    try:
        asyncio.run(seed_events(dsn, rows=range(1, 4)))
        with polytomic(system, token=aws_key["encoded"]) as api:
            wait_for_policy(api)
            source, target = connection(api, database, "source"), connection(api, database, "destination")
        aws = client(system, key=aws_key)
        created, spare = integration(aws, source), integration(aws, source)
        association = aws.create_data_integration_association(
            DataIntegrationIdentifier=created["Id"],
            DestinationURI=f"postgresql://Syncline/{target}",
            ClientAssociationMetadata={"schema": "copy"},
            ExecutionConfiguration=window(1, 3),
        )
        association_id = association["DataIntegrationAssociationId"]
        yield {
            "Id": created["Id"],
            "Arn": created["Arn"],
            "AssociationId": association_id,
            "AssociationArn": created["Arn"].replace(":data-integration/", ":data-integration-association/")
            + f"/{association_id}",
            "Spare": spare["Id"],
        }
    finally:
        asyncio.run(drop_database(database))


def _known_half(case: Any, known: dict[str, str]) -> None:
    """Point about half of the cases (those whose generated value has an even sum) at the known resources, by id
    or by ARN; a delete keeps its generated identifier, and a new association goes to the spare integration."""
    params = case.path_parameters or {}
    operation = case.operation.definition.raw.get("operationId")
    by_arn = {"Identifier": known["Arn"], "DataIntegrationAssociationIdentifier": known["AssociationArn"]}
    by_id = {
        "Identifier": known["Spare"] if operation == "CreateDataIntegrationAssociation" else known["Id"],
        "DataIntegrationAssociationIdentifier": known["AssociationId"],
        "resourceArn": known["Arn"],
    }
    for param, generated in params.items():
        if operation == "DeleteDataIntegration" or not isinstance(generated, str) or sum(map(ord, generated)) % 2:
            continue
        params[param] = by_arn[param] if len(generated) % 3 == 0 and param in by_arn else by_id[param]
    case.path_parameters = params


@schema.parametrize()  # type: ignore[untyped-decorator]
@FUZZ_SETTINGS
def test_no_aws_operation_answers_5xx_or_off_its_schema(
    case: Any, system: System, aws_key: dict[str, Any], known: dict[str, str]
) -> None:
    _known_half(case, known)
    signer = SigV4Signer(**aws_key_pair(aws_key))
    response = case.call(base_url=system.url, timeout=30, auth=signer)
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])


def test_the_signer_gets_requests_past_the_signature_check(system: System, aws_key: dict[str, Any]) -> None:
    """Else every case would stop at 403 and the fuzz would prove little about the operations."""
    url = f"{system.url}/dataIntegrations"
    answered = requests.get(url, auth=SigV4Signer(**aws_key_pair(aws_key)), timeout=30)
    assert answered.status_code == 200, answered.text
    assert "DataIntegrations" in answered.json()
    spaced = requests.get(url, params={"nextToken": "a b"}, auth=SigV4Signer(**aws_key_pair(aws_key)), timeout=30)
    assert spaced.headers["x-amzn-ErrorType"] == "InvalidRequestException"  # past the signature: a bad token
    forged = SigV4Signer(key_id=aws_key["id"], secret="not-the-secret")
    refused = requests.get(url, auth=forged, timeout=30)
    assert refused.status_code == 403
    assert refused.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert refused.json()["__type"] == "InvalidSignatureException"


@pytest.mark.parametrize("offset", ["²", "9" * 30])
def test_a_forged_next_token_is_invalid_not_a_500(
    system: System, aws_key: dict[str, Any], known: dict[str, str], offset: str
) -> None:
    """Found past the fuzz: a token is opaque, but a client can forge one (a digit `int` refuses, an offset past
    PostgreSQL's bigint), and both list operations answered 500."""
    token = base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()
    signer = SigV4Signer(**aws_key_pair(aws_key))
    for path in ("/dataIntegrations", f"/dataIntegrations/{known['Id']}/associations"):
        answered = requests.get(f"{system.url}{path}", params={"nextToken": token}, auth=signer, timeout=30)
        assert answered.status_code == 400, answered.text
        assert answered.json()["__type"] == "InvalidRequestException"


def test_a_blank_body_is_an_empty_one_not_a_500(system: System, aws_key: dict[str, Any], known: dict[str, str]) -> None:
    """Found past the fuzz: CreateDataIntegrationAssociation reads a blank body as `{}`, and its request print
    parsed the blank body again (a 500) once the integration was found."""
    url = f"{system.url}/dataIntegrations/{known['Id']}/associations"
    answered = requests.post(url, data=b" ", auth=SigV4Signer(**aws_key_pair(aws_key)), timeout=30)
    assert answered.status_code < 500, answered.text
    assert answered.json()["__type"] == answered.headers["x-amzn-ErrorType"]
