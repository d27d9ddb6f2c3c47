"""Schemathesis over the gateway's own OpenAPI document, against the whole system: every route of every dialect in
the document (Polytomic `/api/…`, Elastic `/_connector…`, Huawei DRS `/v3/…`, native `/v1/…`) gets a bounded number
of generated requests (`EXAMPLES` each, bodies from the models the routes parse, with the key of an organisation of
its own in the dialect's credentials) and must answer without a 5xx and with a body that matches the schema the
document declares for its status.

DRS requests are signed per request (`SDK-HMAC-SHA256`, `X-Sdk-Date`, `X-Project-Id`) with the gateway's own
signature code (`syncline_gateway.signatures`) as a `requests` auth hook, after schemathesis has built the final
body, and name the organisation's project, so they reach the routes rather than stop at the signature check. The
AWS dialect's operations (`/dataIntegrations`, `/tags`) are fuzzed SigV4-signed in `test_openapi_fuzz_aws.py`.
`pytest --hypothesis-show-statistics` shows how many cases each route took."""

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from tests.support.system import System

from syncline_gateway.main import build_app
from syncline_gateway.settings import GatewaySettings
from syncline_gateway.signatures import (
    SDK_HMAC_ALGORITHM,
    SdkHmacAuthorization,
    SignedRequest,
    sdk_hmac_signature,
    sdk_hmac_string_to_sign,
)

pytestmark = pytest.mark.e2e

EXAMPLES = 8
"""Generated cases per route (and phase): 89 routes take about two minutes with the system's start, under three on
a loaded machine."""
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
"""How each route is fuzzed: a bounded, repeatable number of cases (the AWS operations' run uses it too)."""
FUZZED = r"^/(api|_connector|v1|v3)(/|$)"
"""Routes of the dialects fuzzed here: every one the document has (see the module docstring)."""


def gateway_schema() -> Any:
    """The gateway's OpenAPI document (as its app builds it, without starting anything), narrowed to the dialects
    fuzzed here; the requests go to the live system's gateway."""
    document = build_app(GatewaySettings()).openapi()
    loaded = schemathesis.openapi.from_dict(document).include(path_regex=FUZZED)
    loaded.config.phases.update(phases=["examples", "fuzzing"])  # coverage would try every boundary: unbounded
    return loaded


schema = gateway_schema()


@pytest.fixture(scope="module")
def fuzz_key(system: System) -> dict[str, Any]:
    """A key pair of an organisation of the fuzz's own (so what it creates stays out of the other tests' way), with
    that organisation's DRS project."""
    org = system.admin("create-org", "openapi fuzz")
    pair: dict[str, Any] = system.admin("create-key", "--org", org["id"])
    return pair | {"project_id": org["project_id"]}


class DrsSigner(requests.auth.AuthBase):
    """Signs a prepared request as Huawei's SDK does (`SDK-HMAC-SHA256` over host, `X-Sdk-Date` and the project),
    with the gateway's own signature code."""

    def __init__(self, *, key_id: str, secret: str, project_id: str) -> None:
        self.key_id, self.secret, self.project_id = key_id, secret, project_id

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        url = urlsplit(request.url or "")
        request.headers["X-Sdk-Date"] = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        request.headers["X-Project-Id"] = self.project_id
        names = ("host", "x-project-id", "x-sdk-date")
        headers = {"host": url.netloc} | {k.lower(): str(v) for k, v in request.headers.items()}
        body = request.body.encode() if isinstance(request.body, str) else request.body
        body = body if isinstance(body, bytes) else b""
        raw = SignedRequest(method=request.method or "GET", path=url.path, query=url.query, headers=headers, body=body)
        unsigned = SdkHmacAuthorization(key_id=self.key_id, signed_headers=names, signature="")
        signature = sdk_hmac_signature(string_to_sign=sdk_hmac_string_to_sign(raw, unsigned), secret=self.secret)
        request.headers["Authorization"] = (
            f"{SDK_HMAC_ALGORITHM} Access={self.key_id}, SignedHeaders={';'.join(names)}, Signature={signature}"
        )
        return request


def credentials(key: dict[str, Any], case: Any) -> dict[str, Any]:
    """`case`'s credentials in its dialect's form: a header, or a signer of the final request."""
    if case.path.startswith("/v3"):
        case.path_parameters = (case.path_parameters or {}) | {"project_id": key["project_id"]}
        return {"auth": DrsSigner(key_id=key["id"], secret=key["secret"], project_id=key["project_id"])}
    scheme = "ApiKey" if case.path.startswith("/_connector") else "Bearer"
    return {"headers": {"Authorization": f"{scheme} {key['encoded']}"}}


@schema.parametrize()  # type: ignore[untyped-decorator]
@FUZZ_SETTINGS
def test_no_route_answers_5xx_or_off_its_schema(case: Any, system: System, fuzz_key: dict[str, Any]) -> None:
    response = case.call(base_url=system.url, timeout=30, **credentials(fuzz_key, case))
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])


def test_the_signer_gets_drs_requests_past_the_signature_check(system: System, fuzz_key: dict[str, Any]) -> None:
    """Else every DRS case would stop at 401 and the fuzz would prove little about the routes."""
    signer = DrsSigner(key_id=fuzz_key["id"], secret=fuzz_key["secret"], project_id=fuzz_key["project_id"])
    url = f"{system.url}/v3/{fuzz_key['project_id']}/jobs/batch-status"
    answered = requests.post(url, json={"jobs": ["no-such-job"]}, auth=signer, timeout=30)
    assert answered.status_code == 200, answered.text
    forged = DrsSigner(key_id=fuzz_key["id"], secret="not-the-secret", project_id=fuzz_key["project_id"])
    assert requests.post(url, json={"jobs": ["no-such-job"]}, auth=forged, timeout=30).status_code == 401
