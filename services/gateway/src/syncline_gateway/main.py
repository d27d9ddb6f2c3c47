"""Wiring of the gateway: `build_app(settings, dialects)` for tests, `run()` for the console script `syncline-gateway`.

The app mounts the dialects it is given (every folder under `dialects/` by default) and dispatches by path
through their registry: a dialect's errors in its own body, its product headers on every answer, its body
limits, its idempotency rules, its workers started and stopped with the app. `/healthz`, `/asyncapi.json` and
`/docs` belong to no dialect. A path no dialect owns is answered in a neutral body,
`{"error": {"status": 404, "message": "no route for GET /nowhere"}}` (the same shape for any other error there).
"""

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

import structlog
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from syncline_contracts.asyncapi import document
from syncline_gateway import dialects as known_dialects
from syncline_gateway import idempotency
from syncline_gateway.bodies import LimitBodies
from syncline_gateway.dialects.registry import Dialect, Registry
from syncline_gateway.service import start_gateway
from syncline_gateway.settings import GatewaySettings
from syncline_platform.errors import SynclineError
from syncline_platform.logging import configure
from syncline_platform.network import NetworkPolicy

log = structlog.get_logger(__name__)


def build_app(settings: GatewaySettings, dialects: Sequence[Dialect] | None = None) -> FastAPI:
    """The gateway's ASGI app speaking `dialects` (all known ones by default); starting it (lifespan) connects
    to PostgreSQL and Kafka."""
    registry = Registry(known_dialects.known() if dialects is None else dialects)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as running:  # stopped in reverse: the dialects' workers, then the gateway
            gateway = await start_gateway(settings)
            running.push_async_callback(gateway.stop)
            app.state.pool = gateway.pool
            app.state.commands = gateway.commands
            app.state.credentials = gateway.credentials
            app.state.sealer = gateway.sealer
            app.state.files_root = settings.files.root  # file connections' tests and discovery stay inside it
            app.state.network = NetworkPolicy(settings.network)  # where tenants' webhooks may point
            log.info("idempotency.purged", count=await idempotency.purge(gateway.pool))
            for make in (make for dialect in registry for make in dialect.workers):
                worker = make(settings, gateway)
                await worker.start()
                running.push_async_callback(worker.stop)
            log.info("gateway.started", host=settings.host, port=settings.port, dialects=[d.name for d in registry])
            yield

    app = FastAPI(title="Syncline gateway", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.dialects = registry
    for dialect in registry:
        app.include_router(dialect.router)
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
            log.info(
                "http.request",
                method=request.method,
                path=request.url.path,
                status=response.status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
        return response

    async def render(request: Request, exc: Exception) -> Response:
        return registry.render(exc, request)

    for kind in (SynclineError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(kind, render)

    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi() -> JSONResponse:
        return JSONResponse(document())

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return app


def run() -> None:
    """Console script `syncline-gateway`."""
    settings = GatewaySettings()
    configure(settings.log, service="gateway")
    uvicorn.run(build_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False)
