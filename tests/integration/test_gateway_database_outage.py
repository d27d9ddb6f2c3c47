"""PostgreSQL away behind the gateway (a proxy cut: connections reset, new ones refused): every dialect answers
503 in its own error format, which its SDKs retry, instead of a 500; once the database is back the same requests
reach it again (here: an unknown key, refused in the dialect's words)."""

import asyncio
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import SecretStr
from tests.integration.test_dependency_outage import _through
from tests.support.proxy import TcpProxy

from syncline_gateway.main import build_app
from syncline_gateway.settings import GatewaySettings
from syncline_platform.settings import KafkaSettings

pytestmark = pytest.mark.integration

TOKEN = "dW5rbm93bi1rZXk6c2VjcmV0"  # base64("unknown-key:secret"): well formed, so the gateway looks it up
AMZ_DATE = "20260101T000000Z"


def _elastic() -> tuple[str, str, dict[str, str]]:
    return "GET", "/_connector", {"authorization": f"ApiKey {TOKEN}"}


def _polytomic() -> tuple[str, str, dict[str, str]]:
    return "GET", "/api/connections", {"authorization": f"Bearer {TOKEN}"}


def _native() -> tuple[str, str, dict[str, str]]:
    return "GET", "/v1/syncs", {"authorization": f"Bearer {TOKEN}"}


def _aws() -> tuple[str, str, dict[str, str]]:
    credential = f"AKIAUNKNOWNKEY/{AMZ_DATE[:8]}/us-east-1/app-integrations/aws4_request"
    auth = f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host;x-amz-date, Signature={'0' * 64}"
    return "GET", "/dataIntegrations", {"authorization": auth, "x-amz-date": AMZ_DATE}


def _drs() -> tuple[str, str, dict[str, str]]:
    auth = f"SDK-HMAC-SHA256 Access=UNKNOWNKEY, SignedHeaders=host;x-sdk-date, Signature={'0' * 64}"
    return "POST", f"/v3/{'0' * 32}/jobs", {"authorization": auth, "x-sdk-date": AMZ_DATE}


def _elastic_unavailable(answer: httpx.Response) -> None:
    assert answer.json()["status"] == 503
    assert answer.json()["error"]["type"]


def _polytomic_unavailable(answer: httpx.Response) -> None:
    assert answer.json()["status"] == 503
    assert answer.json()["key"] == "service_unavailable"


def _native_unavailable(answer: httpx.Response) -> None:
    assert "unavailable" in answer.text


def _aws_unavailable(answer: httpx.Response) -> None:
    assert answer.json()["__type"] == "ServiceUnavailableException"
    assert answer.headers["x-amzn-ErrorType"] == "ServiceUnavailableException"


def _drs_unavailable(answer: httpx.Response) -> None:
    assert answer.json()["error_code"]
    assert answer.json()["error_msg"]


CASES: dict[str, tuple[Callable[[], tuple[str, str, dict[str, str]]], Callable[[httpx.Response], None]]] = {
    "elastic": (_elastic, _elastic_unavailable),
    "polytomic": (_polytomic, _polytomic_unavailable),
    "native": (_native, _native_unavailable),
    "aws": (_aws, _aws_unavailable),
    "drs": (_drs, _drs_unavailable),
}


async def test_every_dialect_answers_503_in_its_own_format_while_the_database_is_away(
    database: str, kafka: KafkaSettings, secret_key: str
) -> None:
    parts = urlsplit(database)
    proxy = TcpProxy(host=parts.hostname or "127.0.0.1", port=parts.port or 5432)
    port = await proxy.start()
    settings = GatewaySettings(
        database_url=SecretStr(_through(database, port)),
        kafka=kafka,
        secret_key=SecretStr(secret_key),
        kafka_interface=False,
        key_cache_s=0.0,
    )
    app = build_app(settings)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://gateway"
            ) as http,
        ):

            async def ask(name: str) -> httpx.Response:
                method, path, headers = CASES[name][0]()
                return await http.request(method, path, headers=headers)

            before = {name: (await ask(name)).status_code for name in CASES}
            assert all(400 <= status < 500 for status in before.values()), before  # refused after a lookup

            proxy.cut()
            for name, (_, check) in CASES.items():
                answer = await ask(name)
                assert answer.status_code == 503, (name, answer.status_code, answer.text)
                check(answer)

            proxy.restore()
            async with asyncio.timeout(20):
                while True:  # the pool's next connections go through again
                    after = {name: (await ask(name)).status_code for name in CASES}
                    if after == before:
                        break
                    await asyncio.sleep(0.5)
    finally:
        await proxy.stop()
