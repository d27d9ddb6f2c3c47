"""Wiring of the gateway: `build_app(settings)` for tests, `run()` for the console script `syncline-gateway`."""

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException

from syncline_contracts.asyncapi import document
from syncline_gateway import idempotency
from syncline_gateway.dialects.elastic import PRODUCT_HEADER
from syncline_gateway.dialects.elastic import errors as elastic_errors
from syncline_gateway.dialects.elastic.routes import router as elastic_router
from syncline_gateway.dialects.polytomic import errors as polytomic_errors
from syncline_gateway.dialects.polytomic.deliveries import Deliverer
from syncline_gateway.dialects.polytomic.routes import router as polytomic_router
from syncline_gateway.errors import BadRequestError
from syncline_gateway.service import start_gateway
from syncline_gateway.settings import GatewaySettings
from syncline_platform.errors import SynclineError
from syncline_platform.logging import configure

log = structlog.get_logger(__name__)


def _is_elastic(request: Request) -> bool:
    return request.url.path.startswith("/_")


def _is_polytomic(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _render(exc: SynclineError, request: Request) -> Response:
    """Each dialect's errors in its own body: `/api/` is Polytomic's, the rest Elasticsearch's."""
    if _is_polytomic(request):
        return polytomic_errors.render(exc, request)
    return elastic_errors.render(exc, request)


def build_app(settings: GatewaySettings) -> FastAPI:
    """The gateway's ASGI app; starting it (lifespan) connects to PostgreSQL and Kafka."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gateway = await start_gateway(settings)
        app.state.pool = gateway.pool
        app.state.commands = gateway.commands
        app.state.credentials = gateway.credentials
        app.state.sealer = gateway.sealer
        log.info("idempotency.purged", count=await idempotency.purge(gateway.pool))
        deliverer = Deliverer(settings=settings, pool=gateway.pool, sealer=gateway.sealer)
        await deliverer.start()
        log.info("gateway.started", host=settings.host, port=settings.port)
        try:
            yield
        finally:
            await deliverer.stop()
            await gateway.stop()

    app = FastAPI(title="Syncline gateway", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.include_router(elastic_router)
    app.include_router(polytomic_router)

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
    async def syncline_error(request: Request, exc: SynclineError) -> Response:
        return _render(exc, request)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = ".".join(str(p) for p in first["loc"][1:])
        return _render(BadRequestError(f"Failed to parse [{field}]: {first['msg']}"), request)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> Response:
        if _is_polytomic(request):
            return polytomic_errors.render(exc, request)
        return PlainTextResponse("Internal Server Error", status_code=500)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _is_polytomic(request):  # unknown paths and methods, in Polytomic's body
            return polytomic_errors.error_response(exc.status_code, str(exc.detail))
        return await http_exception_handler(request, exc)

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
