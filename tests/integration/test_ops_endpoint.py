"""The ops endpoint of a consuming service (policy, in process, as `serve()` runs it): `/healthz` while it runs,
`/readyz` 200 once migrated and its consumers assigned, 503 naming PostgreSQL while its database is cut off (a TCP
proxy between it and the server), 200 again once the database is back; `/metrics` in Prometheus' text format."""

import asyncio
import time
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from tests.support.proxy import TcpProxy
from tests.support.system import free_port

from syncline_platform.settings import KafkaSettings, OpsSettings
from syncline_policy.main import build_app
from syncline_policy.settings import PolicySettings

pytestmark = pytest.mark.integration


def _through(database: str, port: int) -> str:
    parts = urlsplit(database)
    user = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{user[0]}@{host}" if len(user) == 2 else host))


async def _until(http: httpx.AsyncClient, path: str, status: int, *, timeout_s: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        answer = await http.get(path)
        if answer.status_code == status:
            return answer
        assert time.monotonic() < deadline, f"{path} still {answer.status_code}: {answer.text}"
        await asyncio.sleep(0.2)


async def test_readyz_follows_the_database_and_metrics_are_served(
    database: str, kafka: KafkaSettings, secret_key: str
) -> None:
    parts = urlsplit(database)
    proxy = TcpProxy(host=parts.hostname or "127.0.0.1", port=parts.port or 5432)
    proxy_port = await proxy.start()
    ops_port = free_port()
    app = build_app(
        PolicySettings(
            database_url=SecretStr(_through(database, proxy_port)),
            kafka=kafka,
            secret_key=SecretStr(secret_key),
            ops=OpsSettings(port=ops_port),
        )
    )
    await app.ops.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ops_port}", timeout=10) as http:
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            assert (await http.get("/readyz")).status_code == 503  # alive, not started
            await app.start()
            ready = await _until(http, "/readyz", 200)
            assert ready.json()["checks"] == {"postgres": "ok", "kafka": "ok", "migrations": "ok", "consumers": "ok"}

            proxy.cut()
            down = await _until(http, "/readyz", 503)
            checks = down.json()["checks"]
            assert checks["postgres"] != "ok"
            assert checks["kafka"] == "ok"
            for _ in range(3):  # and stays so while the database is away
                await asyncio.sleep(0.5)
                assert (await http.get("/readyz")).status_code == 503
                assert (await http.get("/healthz")).status_code == 200  # alive all along

            proxy.restore()
            await _until(http, "/readyz", 200)

            scraped = await http.get("/metrics")
            assert scraped.status_code == 200
            assert scraped.headers["content-type"].startswith("text/plain")
            families = {f.name: f for f in text_string_to_metric_families(scraped.text)}
            [backlog] = families["syncline_outbox_backlog"].samples
            assert backlog.labels == {"schema": "policy"}
            assert "syncline_outbox_parked" in families
            assert "syncline_dead_letters" in families  # counters drop their `_total` suffix in the family name
            assert (await http.get("/nowhere")).status_code == 404
    finally:
        await app.stop()
        await app.ops.stop()
        await proxy.stop()
