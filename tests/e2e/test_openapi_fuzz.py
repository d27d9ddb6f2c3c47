"""Schemathesis over the gateway's own OpenAPI document, against the whole system: every route of the Polytomic
and Elastic dialects gets a bounded number of generated requests (`EXAMPLES` each, bodies from the models the
routes parse, with the key of an organisation of its own in the dialect's header) and must answer without a 5xx
and with a body that matches the schema the document declares for its status.

Only the Polytomic (`/api/…`) and Elastic (`/_connector…`) routes run here. The AWS (`/dataIntegrations`, `/tags`)
and Huawei DRS (`/v3/…`) routes are signed per request (SigV4, SDK-HMAC-SHA256), which generated requests cannot
do, so every one would stop at the signature check; other dialects join when their owners add them to `FUZZED`.
`pytest --hypothesis-show-statistics` shows how many cases each route took."""

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from tests.support.system import System

from syncline_gateway.main import build_app
from syncline_gateway.settings import GatewaySettings

pytestmark = pytest.mark.e2e

EXAMPLES = 12
"""Generated cases per route (and phase); about 60 routes take under a minute on the shared machine."""
FUZZED = r"^/(api|_connector)(/|$)"
"""Routes of the dialects fuzzed here (see the module docstring)."""


def gateway_schema() -> Any:
    """The gateway's OpenAPI document (as its app builds it, without starting anything), narrowed to the dialects
    fuzzed here; the requests go to the live system's gateway."""
    document = build_app(GatewaySettings()).openapi()
    loaded = schemathesis.openapi.from_dict(document).include(path_regex=FUZZED)
    loaded.config.phases.update(phases=["examples", "fuzzing"])  # coverage would try every boundary: unbounded
    return loaded


schema = gateway_schema()


@pytest.fixture(scope="module")
def fuzz_key(system: System) -> str:
    """The key of an organisation of the fuzz's own, so what it creates stays out of the other tests' way."""
    org = system.admin("create-org", "openapi fuzz")
    return system.admin("create-key", "--org", org["id"])["encoded"]


def auth(key: str, path: str) -> dict[str, str]:
    """`key` in the dialect's own header."""
    scheme = "ApiKey" if path.startswith("/_connector") else "Bearer"
    return {"Authorization": f"{scheme} {key}"}


@schema.parametrize()  # type: ignore[untyped-decorator]
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
def test_no_route_answers_5xx_or_off_its_schema(case: Any, system: System, fuzz_key: str) -> None:
    response = case.call(base_url=system.url, headers=auth(fuzz_key, case.path), timeout=30)
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
