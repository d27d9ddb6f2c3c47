"""The web console at `/ui`: server-rendered pages (Jinja2) with htmx and its SSE extension, over the native
API's read functions (`dialects.native.reads`) and its live event hub (`dialects.native.events`).

Sign-in takes a key (`base64(id:secret)`, as the native API's Bearer token), kept in an HttpOnly, SameSite=Strict
cookie; every page acts for that key's organisation. Pages: runs of every dialect (live over `/ui/stream`), a run's
detail (per-object stats, errors, logs, a chart of rows/s and lag, live), syncs (start a run), keys (create, revoke).
Scripts and styles come from `/ui/static/` only (vendored files, see `static/VENDORED.md`): every page carries a
Content-Security-Policy that allows nothing else, and Jinja2 escapes everything a tenant supplied.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from syncline_gateway.console import auth, live, routes

STATIC = Path(__file__).parent / "static"


def mounted(app: FastAPI) -> FastAPI:
    """`app` serving the console under `/ui` (the gateway's app: its pool, credentials, command bus, event hub)."""
    app.include_router(routes.router)
    app.include_router(live.router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_exception_handler(auth.SignInRequired, auth.to_sign_in)
    return app
