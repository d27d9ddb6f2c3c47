"""The operations endpoint every service process serves on its ops port (`SYNCLINE_OPS__PORT`):

- `GET /healthz`: 200 `{"status": "ok"}` while the process runs (alive, even while it starts);
- `GET /readyz`: 200 when every readiness check passes (PostgreSQL and Kafka reachable, migrations applied,
  consumers assigned), else 503; the body names each check and what failed;
- `GET /metrics`: the service's Prometheus metrics (`syncline_platform.metrics`).

A small HTTP/1.1 server on asyncio (one request per connection), so services without a web framework need none.
"""

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from syncline_platform.metrics import CONTENT_TYPE, Metrics, subscriber_consumers
from syncline_platform.migrations import PLATFORM_MIGRATIONS
from syncline_platform.settings import OpsSettings

log = structlog.get_logger(__name__)

CHECK_TIMEOUT_S = 2.0
"""Longest one readiness check may take; past it, it fails."""
READ_TIMEOUT_S = 5.0
MAX_REQUEST_BYTES = 8192

Check = Callable[[], Awaitable[None]]
"""A readiness check: returns when the dependency is fine, raises saying what is wrong otherwise."""


class NotReadyError(Exception):
    """A readiness check failed."""


@dataclass
class Readiness:
    """Named checks; ready when the service has started and every check passes."""

    checks: dict[str, Check] = field(default_factory=dict)
    started: bool = False
    """Set once the service finished starting (migrations applied, consumers started)."""

    def add(self, name: str, check: Check) -> None:
        """Check `name` with `check` at every `/readyz`."""
        self.checks[name] = check

    async def report(self) -> tuple[bool, dict[str, str]]:
        """(ready, check → "ok" or what failed), the checks run side by side."""
        if not self.started:
            return False, {"service": "starting"}
        names = list(self.checks)
        outcomes = await asyncio.gather(*(_run(self.checks[n]) for n in names))
        results = dict(zip(names, outcomes, strict=True))
        return all(v == "ok" for v in results.values()), results


async def _run(check: Check) -> str:
    try:
        await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_S)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_S:g} s"
    except Exception as exc:  # any failure makes the service not ready; the body says which
        return f"{type(exc).__name__}: {exc}"[:300]
    return "ok"


def postgres_check(pool: Callable[[], asyncpg.Pool]) -> Check:
    """PostgreSQL answers on a pooled connection."""

    async def check() -> None:
        async with pool().acquire() as conn:
            await conn.fetchval("SELECT 1")

    return check


def kafka_check(broker: KafkaBroker) -> Check:
    """The broker's cluster answers."""

    async def check() -> None:
        if not await broker.ping(timeout=CHECK_TIMEOUT_S - 0.2):
            raise NotReadyError("the Kafka cluster does not answer")

    return check


def migration_ids(directories: Sequence[Path]) -> set[str]:
    """The ids yoyo gives the migration files of `directories` (their names without `.sql`)."""
    return {p.stem for d in directories for p in d.glob("*.sql")}


def migrations_check(pool: Callable[[], asyncpg.Pool], *, schema: str, directory: Path | None) -> Check:
    """Every migration file of the platform and of the service is recorded as applied in `schema`."""
    wanted = migration_ids([PLATFORM_MIGRATIONS, *([directory] if directory else [])])

    async def check() -> None:
        async with pool().acquire() as conn:
            rows = await conn.fetch(f'SELECT migration_id FROM "{schema}"._yoyo_migration')
        missing = wanted - {r["migration_id"] for r in rows}
        if missing:
            raise NotReadyError(f"not applied: {', '.join(sorted(missing))}")

    return check


def consumers_check(broker: KafkaBroker) -> Check:
    """Every subscriber's consumer is running and has joined its group (its assignment, possibly empty when there
    are more replicas than partitions, has been made)."""

    async def check() -> None:
        consumers = subscriber_consumers(broker)
        if len(consumers) < len(broker.subscribers):
            raise NotReadyError("some consumers are not started")
        waiting = [c for c in consumers if not assigned(c)]
        if waiting:
            raise NotReadyError(f"{len(waiting)} consumer(s) not yet assigned partitions")

    return check


def assigned(consumer: object) -> bool:
    """Whether a subscribing aiokafka consumer got its group assignment (aiokafka keeps it in its subscription
    state: None until the group's first assignment, a set of partitions afterwards)."""
    state = getattr(getattr(consumer, "_subscription", None), "subscription", None)
    if state is None:  # assigned by hand (no group), or not subscribed
        return bool(consumer.assignment())  # type: ignore[attr-defined]
    return state.assignment is not None


class OpsServer:
    """Serves `/healthz`, `/readyz` and `/metrics` until stopped."""

    def __init__(self, *, settings: OpsSettings, metrics: Metrics, readiness: Readiness) -> None:
        self.settings = settings
        self.metrics = metrics
        self.readiness = readiness
        self.port = settings.port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen (nothing when the port is 0)."""
        if not self.settings.port:
            return
        try:
            self._server = await asyncio.start_server(self._serve, self.settings.host, self.settings.port)
        except OSError as exc:  # another replica on this host has the port: serve on without the endpoint
            log.error("ops.unavailable", host=self.settings.host, port=self.settings.port, error=str(exc))
            return
        log.info("ops.listening", host=self.settings.host, port=self.settings.port)

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def answer(self, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a GET of `path`."""
        route = path.split("?", 1)[0]
        if route == "/healthz":
            return 200, "application/json", b'{"status": "ok"}'
        if route == "/readyz":
            ready, checks = await self.readiness.report()
            body = json.dumps({"status": "ready" if ready else "not ready", "checks": checks}).encode()
            return (200 if ready else 503), "application/json", body
        if route == "/metrics":
            return 200, CONTENT_TYPE, await self.metrics.render()
        return 404, "application/json", json.dumps({"error": f"no route for {route}"}).encode()

    async def _answer_safely(self, path: str) -> tuple[int, str, bytes]:
        try:
            return await self.answer(path)
        except Exception as exc:  # the endpoint stays up; the scrape or probe says what broke
            log.exception("ops.request_failed", path=path)
            return 500, "application/json", json.dumps({"error": repr(exc)}).encode()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT_S):
                head = await reader.readuntil(b"\r\n\r\n")
            method, path, *_ = head[:MAX_REQUEST_BYTES].decode("latin-1").split("\r\n", 1)[0].split(" ")
            if method not in ("GET", "HEAD"):
                status, kind, body = 405, "application/json", b'{"error": "only GET"}'
            else:
                status, kind, body = await self._answer_safely(path)
            writer.write(_response(status, kind, b"" if method == "HEAD" else body, length=len(body)))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError):
            pass  # a client that went away or sent no request: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


REASONS = {
    200: "OK",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _response(status: int, kind: str, body: bytes, *, length: int) -> bytes:
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, '')}\r\n"
        f"Content-Type: {kind}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body
