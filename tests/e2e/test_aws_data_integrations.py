"""AWS AppIntegrations data integrations driven by boto3 alone: create/get/list/update/delete with AWS's
identifiers (UUID ids, ARNs with the organisation's 12-digit account, usable as identifiers), (organisation,
region) scoping, paginators, tags, `ClientToken`, and every documented error raising boto3's own exception
class: SigV4 refusals, a wrong region, a reused token, a second association, a bad `SourceURI`, another
organisation's resource, and the Application/EventIntegration operations Syncline does not serve."""

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.auth
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from polytomic import ConflictError, Polytomic
from tests.e2e.aws_support import EVENTS, NO_RETRY, REGION, client, integration, name, window
from tests.e2e.polytomic_support import connection
from tests.support.system import System

pytestmark = pytest.mark.e2e

ARN = re.compile(r"arn:aws:app-integrations:eu-west-2:(\d{12}):data-integration/([0-9a-f-]{36})")


@pytest.fixture
def aws(system: System) -> Any:
    return client(system)


@pytest.fixture
def source(api: Polytomic, source_db: tuple[str, str]) -> str:
    return connection(api, source_db[0], "source")


def test_create_get_update_delete(aws: Any, source: str) -> None:
    created = integration(
        aws,
        source,
        Description="orders of the shop",
        Tags={"team": "data"},
        ScheduleConfig={"ScheduleExpression": "rate(1 hour)", "FirstExecutionFrom": "1767225600000", "Object": "x"},
        ClientToken="create-get-" + uuid.uuid4().hex,
    )
    match = ARN.fullmatch(created["Arn"])
    assert match, created["Arn"]
    assert match.group(2) == created["Id"]
    assert uuid.UUID(created["Id"])
    assert created["ObjectConfiguration"] == EVENTS
    assert created["ScheduleConfiguration"] == {
        "ScheduleExpression": "rate(1 hour)",
        "FirstExecutionFrom": "1767225600000",
        "Object": "x",
    }
    assert created["KmsKey"].startswith("arn:aws:kms:")
    assert created["ClientToken"].startswith("create-get-")
    assert created["ResponseMetadata"]["RequestId"]

    by_id = aws.get_data_integration(Identifier=created["Id"])
    by_arn = aws.get_data_integration(Identifier=created["Arn"])
    for found in (by_id, by_arn):
        assert found["Arn"] == created["Arn"]
        assert found["Name"] == created["Name"]
        assert found["Tags"] == {"team": "data"}
        assert found["SourceURI"] == f"postgresql://Syncline/{source}"
        assert "ClientToken" not in found

    renamed = created["Name"] + "-renamed"
    aws.update_data_integration(Identifier=created["Arn"], Name=renamed, Description="changed")
    found = aws.get_data_integration(Identifier=created["Id"])
    assert (found["Name"], found["Description"]) == (renamed, "changed")

    aws.delete_data_integration(DataIntegrationIdentifier=created["Arn"])
    with pytest.raises(aws.exceptions.ResourceNotFoundException):
        aws.get_data_integration(Identifier=created["Id"])


def test_account_id_is_stable_per_organisation(aws: Any, source: str) -> None:
    first = ARN.fullmatch(integration(aws, source)["Arn"])
    second = ARN.fullmatch(integration(aws, source)["Arn"])
    assert first
    assert second
    assert first.group(1) == second.group(1)


def test_resources_are_scoped_to_their_region(system: System, aws: Any, source: str) -> None:
    created = integration(aws, source)
    elsewhere = client(system, region="us-east-1")
    with pytest.raises(elsewhere.exceptions.ResourceNotFoundException):
        elsewhere.get_data_integration(Identifier=created["Id"])
    with pytest.raises(elsewhere.exceptions.ResourceNotFoundException):
        elsewhere.get_data_integration(Identifier=created["Arn"])
    names = {d["Name"] for d in elsewhere.list_data_integrations()["DataIntegrations"]}
    assert created["Name"] not in names
    assert created["Name"] in {
        d["Name"] for p in aws.get_paginator("list_data_integrations").paginate() for d in p["DataIntegrations"]
    }


def test_paginator_walks_every_page(system: System, source: str) -> None:
    region = f"t-{uuid.uuid4().hex[:8]}"
    api = client(system, region=region)
    made = [integration(api, source)["Name"] for _ in range(5)]
    pages = list(api.get_paginator("list_data_integrations").paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["DataIntegrations"]) for p in pages] == [2, 2, 1]
    assert "NextToken" in pages[0]
    assert "NextToken" not in pages[-1]
    assert [d["Name"] for p in pages for d in p["DataIntegrations"]] == made
    assert all(d["Arn"].startswith(f"arn:aws:app-integrations:{region}:") for p in pages for d in p["DataIntegrations"])


def test_tags_round_trip(aws: Any, source: str) -> None:
    created = integration(aws, source, Tags={"team": "data"})
    aws.tag_resource(resourceArn=created["Arn"], tags={"env": "test", "team": "platform"})
    assert aws.list_tags_for_resource(resourceArn=created["Arn"])["tags"] == {"env": "test", "team": "platform"}
    aws.untag_resource(resourceArn=created["Arn"], tagKeys=["team"])
    assert aws.list_tags_for_resource(resourceArn=created["Arn"])["tags"] == {"env": "test"}
    assert aws.get_data_integration(Identifier=created["Id"])["Tags"] == {"env": "test"}
    other = created["Arn"].replace(created["Id"], str(uuid.uuid4()))
    with pytest.raises(aws.exceptions.ResourceNotFoundException):
        aws.list_tags_for_resource(resourceArn=other)


def test_client_token(aws: Any, source: str) -> None:
    token = uuid.uuid4().hex
    first = integration(aws, source, ClientToken=token)
    fields = {k: first[k] for k in ("Name", "KmsKey", "SourceURI", "ObjectConfiguration")}
    again = aws.create_data_integration(**fields, ClientToken=token)
    assert again["Id"] == first["Id"]
    assert again["Arn"] == first["Arn"]
    with pytest.raises(aws.exceptions.InvalidRequestException) as refused:
        aws.create_data_integration(**(fields | {"Name": first["Name"] + "-other"}), ClientToken=token)
    assert token in str(refused.value)
    names = [d["Name"] for p in aws.get_paginator("list_data_integrations").paginate() for d in p["DataIntegrations"]]
    assert names.count(first["Name"]) == 1
    assert first["Name"] + "-other" not in names
    with pytest.raises(aws.exceptions.DuplicateResourceException):
        aws.create_data_integration(**fields)  # a fresh token, a taken name


def test_a_failed_create_is_not_kept_against_its_token(aws: Any, source: str) -> None:
    token = uuid.uuid4().hex
    with pytest.raises(aws.exceptions.InvalidRequestException):
        integration(aws, source, ClientToken=token, SourceURI="postgresql://Syncline/no-such-connection")
    created = integration(aws, source, ClientToken=token)
    assert created["SourceURI"] == f"postgresql://Syncline/{source}"


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("s3://bucket/prefix", "S3"),
        ("Salesforce://AppFlow/my-profile", "AppFlow"),
        ("postgresql://127.0.0.1:5432/db", "SourceURI"),
        ("mysql://Syncline/anything", "must be"),
    ],
)
def test_bad_source_uri(aws: Any, source: str, uri: str, words: str) -> None:
    del source
    with pytest.raises(aws.exceptions.InvalidRequestException) as refused:
        aws.create_data_integration(Name=name("bad"), KmsKey="k", SourceURI=uri)
    assert words in str(refused.value)


def test_name_pattern_is_checked_by_the_server(aws: Any) -> None:
    with pytest.raises(aws.exceptions.InvalidRequestException):
        aws.create_data_integration(Name="bad name!", KmsKey="k")


def test_one_association_per_integration(aws: Any, api: Polytomic, source: str, target_db: tuple[str, str]) -> None:
    target = connection(api, target_db[0], "destination")
    created = integration(aws, source)
    fields = {
        "DataIntegrationIdentifier": created["Id"],
        "DestinationURI": f"postgresql://Syncline/{target}",
        "ExecutionConfiguration": {
            "ExecutionMode": "SCHEDULED",
            "ScheduleConfiguration": {"ScheduleExpression": "rate(1 day)"},
        },
    }
    token = uuid.uuid4().hex
    first = aws.create_data_integration_association(**fields, ClientToken=token)
    again = aws.create_data_integration_association(**fields, ClientToken=token)
    assert again["DataIntegrationAssociationId"] == first["DataIntegrationAssociationId"]
    assert again["DataIntegrationArn"] == created["Arn"]
    with pytest.raises(aws.exceptions.ResourceQuotaExceededException):
        aws.create_data_integration_association(**fields)
    with pytest.raises(aws.exceptions.InvalidRequestException):
        aws.delete_data_integration(DataIntegrationIdentifier=created["Id"])
    listed = aws.list_data_integration_associations(DataIntegrationIdentifier=created["Id"])
    assert len(listed["DataIntegrationAssociations"]) == 1
    with pytest.raises(aws.exceptions.ResourceNotFoundException):
        aws.update_data_integration_association(
            DataIntegrationIdentifier=created["Id"],
            DataIntegrationAssociationIdentifier=str(uuid.uuid4()),
            ExecutionConfiguration=window(0, 1),
        )


def test_another_organisations_resources_are_not_found(system: System, aws: Any, source: str) -> None:
    created = integration(aws, source)
    org = system.admin("create-org", "aws other")
    other = client(system, key=system.admin("create-key", "--org", org["id"]))
    with pytest.raises(other.exceptions.ResourceNotFoundException):
        other.get_data_integration(Identifier=created["Id"])
    with pytest.raises(other.exceptions.ResourceNotFoundException):
        other.get_data_integration(Identifier=created["Arn"])
    with pytest.raises(other.exceptions.ResourceNotFoundException):
        other.list_tags_for_resource(resourceArn=created["Arn"])
    assert created["Name"] not in {d["Name"] for d in other.list_data_integrations()["DataIntegrations"]}


def _code(error: ClientError) -> tuple[str, int]:
    return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]


def test_tampered_signature(system: System) -> None:
    api = client(system, config=NO_RETRY)

    def tamper(request: Any, **_: Any) -> None:
        header = request.headers["Authorization"]
        header = header.decode() if isinstance(header, bytes) else header
        request.headers["Authorization"] = header[:-1] + ("0" if header[-1] != "0" else "1")

    api.meta.events.register("before-send.appintegrations.ListDataIntegrations", tamper)
    with pytest.raises(ClientError) as refused:
        api.list_data_integrations()
    assert _code(refused.value) == ("InvalidSignatureException", 403)


def test_tampered_body(system: System) -> None:
    api = client(system, config=NO_RETRY)

    def tamper(request: Any, **_: Any) -> None:
        request.body = request.body.replace(b'"k"', b'"K"')

    api.meta.events.register("before-send.appintegrations.CreateDataIntegration", tamper)
    with pytest.raises(ClientError) as refused:
        api.create_data_integration(Name=name("tampered"), KmsKey="k")
    assert _code(refused.value) == ("InvalidSignatureException", 403)


def test_stale_date(system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    api = client(system, config=NO_RETRY)
    stale = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=16)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *_, **__: stale)  # the client's clock is off
    with pytest.raises(ClientError) as refused:
        api.list_data_integrations()
    assert _code(refused.value) == ("InvalidSignatureException", 403)
    assert "expired" in str(refused.value)


def test_unknown_key(system: System) -> None:
    api = client(system, key={"id": "SLUNKNOWNKEY00000000", "secret": "x" * 40}, config=NO_RETRY)
    with pytest.raises(ClientError) as refused:
        api.list_data_integrations()
    assert _code(refused.value) == ("UnrecognizedClientException", 403)


def test_wrong_secret(system: System) -> None:
    api = client(system, key={"id": system.key["id"], "secret": system.key["secret"] + "x"}, config=NO_RETRY)
    with pytest.raises(ClientError) as refused:
        api.list_data_integrations()
    assert _code(refused.value) == ("InvalidSignatureException", 403)


@pytest.mark.parametrize(
    ("operation", "kwargs"),
    [
        ("list_applications", {}),
        (
            "create_application",
            {
                "Name": "a",
                "Namespace": "n",
                "ApplicationSourceConfig": {"ExternalUrlConfig": {"AccessUrl": "https://example.com"}},
            },
        ),
        ("get_application", {"Arn": str(uuid.uuid4())}),
        ("list_event_integrations", {}),
        (
            "create_event_integration",
            {"Name": "e", "EventFilter": {"Source": "aws.partner/x"}, "EventBridgeBus": "default"},
        ),
        ("delete_event_integration", {"Name": "e"}),
    ],
)
def test_application_and_event_integration_operations_are_unsupported(
    system: System, operation: str, kwargs: dict[str, Any]
) -> None:
    api = client(system)
    with pytest.raises(api.exceptions.UnsupportedOperationException):
        getattr(api, operation)(**kwargs)


def test_region_in_arn_must_be_the_requests(aws: Any, source: str) -> None:
    created = integration(aws, source)
    moved = created["Arn"].replace(f":{REGION}:", ":us-west-1:")
    with pytest.raises(aws.exceptions.ResourceNotFoundException):
        aws.get_data_integration(Identifier=moved)


def test_a_named_connection_is_not_deleted_under_its_integration(aws: Any, api: Polytomic, source: str) -> None:
    created = integration(aws, source)
    with pytest.raises(ConflictError) as refused:
        api.connections.delete(source, request_options={"max_retries": 0})
    assert created["Id"] in str(refused.value.body)
    aws.delete_data_integration(DataIntegrationIdentifier=created["Id"])
    api.connections.delete(source, request_options={"max_retries": 0})


def test_unsigned_request(system: System) -> None:
    api = client(system, config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError) as refused:
        api.list_data_integrations()
    assert _code(refused.value) == ("MissingAuthenticationTokenException", 403)


def test_malformed_authorization(system: System) -> None:
    api = client(system, config=NO_RETRY)

    def garble(request: Any, **_: Any) -> None:
        request.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=only-a-key"

    api.meta.events.register("before-send.appintegrations.ListDataIntegrations", garble)
    with pytest.raises(ClientError) as refused:
        api.list_data_integrations()
    assert _code(refused.value) == ("IncompleteSignatureException", 400)
