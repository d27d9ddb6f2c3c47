"""The gateway's OpenAPI document says how each dialect's callers authenticate: every operation requires its own
dialect's security schemes (any one of them), and every scheme it names is declared."""

from syncline_gateway.main import build_app
from syncline_gateway.settings import GatewaySettings

EXPECTED = {
    "/api": {"polytomicBearer", "polytomicBasic"},
    "/_connector": {"elasticApiKey", "elasticBasic", "elasticBearer"},
    "/v3": {"huaweiAkSk"},
    "/v1": {"nativeBearer"},
    "/dataIntegrations": {"awsSigV4"},
    "/tags": {"awsSigV4"},
}


def test_every_operation_requires_its_dialect_s_schemes() -> None:
    document = build_app(GatewaySettings()).openapi()
    declared = document["components"]["securitySchemes"]
    assert declared["huaweiAkSk"]["in"] == "header"
    assert declared["awsSigV4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    seen = set()
    for path, operations in document["paths"].items():
        prefix = next(p for p in EXPECTED if path == p or path.startswith(p + "/"))
        seen.add(prefix)
        for operation in operations.values():
            required = {name for requirement in operation["security"] for name in requirement}
            assert required == EXPECTED[prefix], path
            assert required <= set(declared)
    assert seen == set(EXPECTED)
