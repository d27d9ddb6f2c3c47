"""Wiring of the gateway: `build_app(settings, dialects)` for tests, `run()` for the console script `syncline-gateway`.

The app mounts the dialects it is given (every folder under `dialects/` by default) and dispatches by path
through their registry: a dialect's errors in its own body, its product headers on every answer, its body
limits, its idempotency rules, its workers started and stopped with the app. `/healthz`, `/asyncapi.json`,
`/docs` and the web console (`/ui`, see `console`) belong to no dialect. Every request's latency is recorded by
route template and dialect; `/metrics`,
`/healthz` and `/readyz` are served on the ops port (`SYNCLINE_OPS__PORT`, 9180) by the console script. A path
no dialect owns is answered in a neutral body,
`{"error": {"status": 404, "message": "no route for GET /nowhere"}}` (the same shape for any other error there).
"""

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from starlette.exceptions import HTTPException

from syncline_connectors.reach import OwnDatabases, Reach
from syncline_contracts.asyncapi import document
from syncline_gateway import console, idempotency
from syncline_gateway import dialects as known_dialects
from syncline_gateway.bodies import LimitBodies
from syncline_gateway.dialects.registry import Dialect, Registry
from syncline_gateway.service import MIGRATIONS, Gateway, start_gateway
from syncline_gateway.settings import GatewaySettings
from syncline_platform import tracing
from syncline_platform.errors import TRANSIENT, SynclineError
from syncline_platform.logging import configure
from syncline_platform.metrics import Metrics, OutboxProbe, QueryProbe
from syncline_platform.network import NetworkPolicy
from syncline_platform.ops import OpsServer, Readiness, kafka_check, migrations_check, postgres_check
from syncline_platform.retention import Retention
from syncline_platform.tasklog import log_tasks_on_sigusr1
from syncline_platform.tracing import setup_tracing

log = structlog.get_logger(__name__)


WEBHOOK_DELIVERIES = "SELECT status, count(*) FROM webhook_deliveries GROUP BY 1"
"""Webhook deliveries by outcome (pending, delivered, failed), for `/metrics`."""


def _mount(app: FastAPI, registry: Registry) -> None:
    """The dialects' routers, and the app's OpenAPI document with each dialect's security schemes (made once,
    cached by FastAPI)."""
    app.state.dialects = registry
    for dialect in registry:
        app.include_router(dialect.router)
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            registry.describe_security(plain_openapi())
        return app.openapi_schema or plain_openapi()

    app.openapi = openapi  # type: ignore[method-assign]


def _purging(settings: GatewaySettings, gateway: Gateway) -> Retention:
    """Old rows go in batches, from a supervised loop: stored outcomes of idempotency keys, the inbox, parked
    outbox rows."""
    retention = Retention(settings.retention)
    retention.add(idempotency.keys_purge(settings.retention))
    retention.start(gateway.pool)
    return retention


def build_app(
    settings: GatewaySettings, dialects: Sequence[Dialect] | None = None, *, serve_ops: bool = False
) -> FastAPI:
    """The gateway's ASGI app speaking `dialects` (all known ones by default); starting it (lifespan) connects
    to PostgreSQL and Kafka, and with `serve_ops` serves `/metrics`, `/healthz`, `/readyz` on the ops port."""
    registry = Registry(known_dialects.known() if dialects is None else dialects)
    metrics = Metrics(service="gateway", enabled=settings.ops.metrics)
    readiness = Readiness()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as running:  # stopped in reverse: the dialects' workers, then the gateway
            if serve_ops:  # the console script's process: `kill -USR1` logs its tasks, as the other services'
                log_tasks_on_sigusr1()
                ops = OpsServer(settings=settings.ops, metrics=metrics, readiness=readiness)
                await ops.start()  # alive (and not ready) while starting
                running.push_async_callback(ops.stop)
            gateway = await start_gateway(settings, metrics=metrics)
            running.push_async_callback(gateway.stop)
            _observe(gateway, metrics=metrics, readiness=readiness)
            app.state.pool = gateway.pool
            app.state.commands = gateway.commands
            app.state.credentials = gateway.credentials
            app.state.sealer = gateway.sealer
            # where tenants' webhooks and connections may point (tests and discovery of connections: their own
            # folders, never Syncline's own databases)
            app.state.network = network = NetworkPolicy(settings.network)
            app.state.reach = Reach(
                files=settings.files.root, own=OwnDatabases.of(settings.own_dsns()), network=network
            )
            running.push_async_callback(_purging(settings, gateway).stop)
            # kept in the app's state too: a dialect's routes may use its worker (the native dialect's event hub)
            app.state.workers = workers = [make(settings, gateway) for dialect in registry for make in dialect.workers]
            for worker in workers:
                await worker.start()
                running.push_async_callback(worker.stop)
            readiness.started = True
            log.info("gateway.started", host=settings.host, port=settings.port, dialects=[d.name for d in registry])
            yield
            readiness.started = False

    # with the web console at /ui, over the native dialect's reads and event hub
    app = console.mounted(FastAPI(title="Syncline gateway", lifespan=lifespan, docs_url="/docs", redoc_url=None))
    _mount(app, registry)
    app.state.metrics = metrics
    app.add_middleware(LimitBodies, registry=registry)

    @app.middleware("http")
    async def request_context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request_id = request.headers.get("x-opaque-id") or str(uuid.uuid4())
        request.state.request_id = request_id
        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            response = await call_next(request)
            dialect = registry.match(request.url.path)
            if dialect is not None:
                response.headers.update(dialect.headers)
            took = time.perf_counter() - started
            route = getattr(request.scope.get("route"), "path", "unmatched")  # the template: bounded label values
            metrics.observe_http(
                route=route,
                dialect=dialect.name if dialect is not None else "none",
                method=request.method,
                status=response.status_code,
                seconds=took,
            )
            log.info(
                "http.request",
                method=request.method,
                path=request.url.path,
                status=response.status_code,
                duration_ms=round(took * 1000, 1),
            )
        return response

    async def render(request: Request, exc: Exception) -> Response:
        return registry.render(exc, request)

    # the infrastructure's transient failures have handlers of their own, so they are answered (503, see
    # `dialects.registry.unavailable`) like our errors rather than re-raised as unexpected ones
    for kind in (SynclineError, RequestValidationError, HTTPException, *TRANSIENT, Exception):
        app.add_exception_handler(kind, render)

    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi() -> JSONResponse:
        return JSONResponse(document())

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return app


def _trace(app: FastAPI) -> None:
    """With tracing on (`OTEL_EXPORTER_OTLP_ENDPOINT`), a server span per request (the probes and the per-chunk
    sends of a stream aside): the root of the trace its commands carry through Kafka."""
    provider = tracing.provider()
    if provider is not None:
        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=provider, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"]
        )


def _observe(gateway: Gateway, *, metrics: Metrics, readiness: Readiness) -> None:
    """What `/readyz` checks (the outcome waiter's partitions are assigned before the gateway starts) and what
    `/metrics` reads at scrape time."""
    readiness.add("postgres", postgres_check(lambda: gateway.pool))
    readiness.add("kafka", kafka_check(gateway.broker))
    readiness.add("migrations", migrations_check(lambda: gateway.pool, schema="gateway", directory=MIGRATIONS))
    metrics.add_probe(OutboxProbe(pool=lambda: gateway.pool, schema="gateway"))
    metrics.add_probe(
        QueryProbe(
            pool=lambda: gateway.pool,
            gauge=lambda m: m.webhook_deliveries,
            query=WEBHOOK_DELIVERIES,
            name="webhook_deliveries",
        )
    )


def run() -> None:
    """Console script `syncline-gateway`."""
    settings = GatewaySettings()
    configure(settings.log, service="gateway")
    setup_tracing(service="gateway")
    app = build_app(settings, serve_ops=True)
    _trace(app)
    # open event streams never end by themselves: a stop waits this long for them, then closes them
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_config=None, access_log=False, timeout_graceful_shutdown=5
    )
