"""The gateway's dialect registry, over `build_app` without its lifespan (no database or broker is reached: every
request here is answered before a route needs one): neutral 404s outside every dialect, each dialect's body
limits in its own error body, product headers on their own dialect's paths only."""

import json
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Request, Response

from syncline_gateway import idempotency, routing
from syncline_gateway.bodies import MIB, BodyLimits, check, deeper_than
from syncline_gateway.dialects import elastic, known, polytomic
from syncline_gateway.dialects.elastic import models as elastic_models
from syncline_gateway.dialects.polytomic import models as polytomic_models
from syncline_gateway.dialects.registry import Dialect, Registry, neutral_error
from syncline_gateway.errors import BadRequestError, PayloadTooLargeError
from syncline_gateway.main import build_app
from syncline_gateway.settings import GatewaySettings

DEEP = b"[" * 10_000 + b"]" * 10_000
ELASTIC_PRODUCT = "X-Elastic-Product"


async def client_of(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
        yield http


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_of(build_app(GatewaySettings())):
        yield client


def assert_elastic_error(answer: httpx.Response, status: int, error_type: str) -> None:
    body = answer.json()
    assert answer.status_code == status
    assert body["status"] == status
    assert body["error"]["type"] == error_type
    assert body["error"]["root_cause"][0]["type"] == error_type
    assert answer.headers[ELASTIC_PRODUCT] == "Elasticsearch"


def assert_polytomic_error(answer: httpx.Response, status: int, key: str) -> None:
    assert answer.status_code == status
    assert answer.json() == {"status": status, "key": key, "message": answer.json()["message"], "metadata": {}}
    assert ELASTIC_PRODUCT not in answer.headers


# --- unknown paths ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nowhere", "/_nothing", "/_connectors", "/apix/connections", "/v1x/syncs"])
async def test_a_path_no_dialect_owns_is_a_neutral_404(http: httpx.AsyncClient, path: str) -> None:
    answer = await http.get(path)
    assert answer.status_code == 404
    assert answer.json() == {"error": {"status": 404, "message": f"no route for GET {path}"}}
    assert ELASTIC_PRODUCT not in answer.headers


async def test_unknown_paths_inside_a_dialect_answer_in_its_body(http: httpx.AsyncClient) -> None:
    assert_polytomic_error(await http.get("/api/nowhere"), 404, "not_found")
    assert_elastic_error(await http.get("/_connector/a/b/c"), 404, "resource_not_found_exception")
    assert_elastic_error(await http.request("PATCH", "/_connector"), 405, "method_not_allowed_exception")


async def test_the_app_mounts_only_the_dialects_it_is_given() -> None:
    async for http in client_of(build_app(GatewaySettings(), dialects=[elastic.dialect()])):
        assert (await http.get("/api/connections")).json()["error"]["status"] == 404
        assert (await http.get("/_connector")).status_code == 401  # mounted: asks for credentials


def test_every_dialect_folder_is_known_and_no_two_share_a_path() -> None:
    assert {"drs", "elastic", "polytomic"} <= {d.name for d in known()}
    router = APIRouter()
    with pytest.raises(ValueError, match="overlaps"):
        Registry([polytomic.dialect(), Dialect(name="x", prefixes=("/api/x",), router=router, **_stub())])
    with pytest.raises(ValueError, match="unique"):
        Registry([elastic.dialect(), elastic.dialect()])


def _stub() -> dict[str, Any]:
    async def authenticate(request: Request) -> Any:
        raise NotImplementedError

    def render(exc: Exception, request: Request) -> Response:
        return neutral_error(exc, request)

    return {"authenticate": authenticate, "render_error": render}


# --- body limits --------------------------------------------------------------------------------------------


async def test_a_body_over_the_limit_is_a_413_in_the_dialects_body(http: httpx.AsyncClient) -> None:
    big = b"x" * (MIB + 1)
    assert_elastic_error(await http.put("/_connector/c1", content=big), 413, "content_too_long_exception")
    assert_polytomic_error(await http.post("/api/connections", content=big), 413, "payload_too_large")


async def test_a_streamed_body_is_cut_off_at_the_limit(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(3):
            yield b"x" * MIB

    assert_polytomic_error(await http.post("/api/connections", content=chunks()), 413, "payload_too_large")


async def test_a_deeply_nested_body_is_a_400_in_the_dialects_body(http: httpx.AsyncClient) -> None:
    answer = await http.post("/_connector/_sync_job", content=DEEP, headers={"content-type": "application/json"})
    assert_elastic_error(answer, 400, "x_content_parse_exception")
    assert "nests deeper" in answer.json()["error"]["reason"]
    answer = await http.post("/api/bulk/syncs", content=DEEP, headers={"Idempotency-Key": "deep-body-0001"})
    assert_polytomic_error(answer, 400, "bad_request")
    assert "nests deeper" in answer.json()["message"]


async def test_a_body_within_the_limits_reaches_the_route(http: httpx.AsyncClient) -> None:
    body = {"id": "c1", "nested": json.loads("[" * 60 + "]" * 60)}
    answer = await http.post("/_connector/_sync_job", json=body)
    assert_elastic_error(answer, 401, "security_exception")  # past the limits: the route asks for credentials


def test_parse_refuses_what_breaks_the_limits_in_each_dialects_words() -> None:
    with pytest.raises(BadRequestError, match="nests deeper"):
        elastic_models.parse(DEEP, elastic_models.SyncJobPost, parser="sync_job_post_request")
    with pytest.raises(PayloadTooLargeError):
        polytomic_models.parse(b'{"name": "' + b"x" * MIB + b'"}', polytomic_models.WebhookIn)
    with pytest.raises(BadRequestError, match="must be a JSON object"):
        polytomic_models.parse(b"[1]", polytomic_models.WebhookIn)
    # Past the recursion limit without the depth check: still a 400, never a RecursionError.
    with pytest.raises(BadRequestError, match="failed to parse request body"):
        routing.parse(
            b'{"id": ' + DEEP + b"}",
            elastic_models.SyncJobPost,
            wording=elastic_models._Wording("p"),
            limits=BodyLimits(max_depth=100_000),
        )


def test_fingerprints_survive_any_depth() -> None:
    assert idempotency.fingerprint(method="POST", path="/api/x", query="", body=DEEP)


def _random_json(rng: random.Random, depth: int) -> Any:
    if depth == 0 or rng.random() < 0.3:
        return rng.choice([1, "x[{", '"}]', True, None])
    kids = [_random_json(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    return kids if rng.random() < 0.5 else {f"k{i}": kid for i, kid in enumerate(kids)}


def _depth(value: Any) -> int:
    if isinstance(value, list | dict):
        children = value.values() if isinstance(value, dict) else value
        return 1 + max((_depth(c) for c in children), default=0)
    return 0


def test_nesting_depth_is_counted_exactly_strings_aside() -> None:
    rng = random.Random(11)
    for _ in range(500):
        value = _random_json(rng, rng.randint(0, 10))
        raw, depth = json.dumps(value).encode(), _depth(value)
        assert [deeper_than(raw, limit) for limit in range(12)] == [depth > limit for limit in range(12)], raw
    assert not deeper_than(b"[]" * (MIB // 2), 64)
    assert deeper_than(b"[]" * 1000 + b"[" * 65 + b"]" * 65, 64)
    assert not deeper_than(b"[]" * 1000 + b"[" * 64 + b"]" * 64, 64)
    check(b'{"a": "' + b"[" * 1000 + b'"}', BodyLimits())  # brackets inside strings do not nest


# --- product headers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "elastic_product"),
    [
        ("/_connector", True),
        ("/_connector/_sync_job/j1", True),
        ("/api/connections", False),
        ("/api/bulk/syncs", False),
        ("/healthz", False),
        ("/nowhere", False),
    ],
)
async def test_product_headers_go_on_their_own_dialects_paths_only(
    http: httpx.AsyncClient, path: str, *, elastic_product: bool
) -> None:
    answer = await http.get(path)
    assert answer.headers.get(ELASTIC_PRODUCT) == ("Elasticsearch" if elastic_product else None)
