"""Wiring of the gateway: `build_app(settings)` for tests, `run()` for the console script `syncline-gateway`."""

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from syncline_contracts.asyncapi import document
from syncline_gateway.dialects.elastic import PRODUCT_HEADER
from syncline_gateway.dialects.elastic import errors as elastic_errors
from syncline_gateway.dialects.elastic.routes import router as elastic_router
from syncline_gateway.errors import BadRequestError
from syncline_gateway.service import start_gateway
from syncline_gateway.settings import GatewaySettings
from syncline_platform.errors import SynclineError
from syncline_platform.logging import configure

log = structlog.get_logger(__name__)


def _is_elastic(request: Request) -> bool:
    return request.url.path.startswith("/_")


def build_app(settings: GatewaySettings) -> FastAPI:
    """The gateway's ASGI app; starting it (lifespan) connects to PostgreSQL and Kafka."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gateway = await start_gateway(settings)
        app.state.pool = gateway.pool
        app.state.commands = gateway.commands
        app.state.credentials = gateway.credentials
        app.state.sealer = gateway.sealer
        log.info("gateway.started", host=settings.host, port=settings.port)
        try:
            yield
        finally:
            await gateway.stop()

    app = FastAPI(title="Syncline gateway", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.include_router(elastic_router)

    @app.middleware("http")
    async def request_context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request_id = request.headers.get("x-opaque-id") or str(uuid.uuid4())
        request.state.request_id = request_id
        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            response = await call_next(request)
            if _is_elastic(request):
                response.headers.update(PRODUCT_HEADER)
            log.info(
                "http.request",
                method=request.method,
                path=request.url.path,
                status=response.status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
        return response

    @app.exception_handler(SynclineError)
    async def syncline_error(request: Request, exc: SynclineError) -> JSONResponse:
        return elastic_errors.render(exc, request)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = ".".join(str(p) for p in first["loc"][1:])
        return elastic_errors.render(BadRequestError(f"Failed to parse [{field}]: {first['msg']}"), request)

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
