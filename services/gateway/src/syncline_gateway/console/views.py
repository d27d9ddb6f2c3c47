"""Rendering: the Jinja2 environment (autoescaping everything), pages with the console's security headers, and
fragments for htmx swaps and SSE frames."""

import functools
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""Only the gateway's own scripts and styles: no inline script, no inline style, no other origin."""
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
"""On every console page and fragment."""


def dom_key(run_id: str) -> str:
    """A run's name in element attributes and SSE event names: any run id, reduced to `[0-9a-f]`."""
    return "r" + hashlib.sha256(run_id.encode()).hexdigest()[:20]


NONE = "\u2013"
"""Shown for a value not there (an en dash)."""


def _count(value: int | None) -> str:
    return NONE if value is None else f"{value:,}"


def _when(value: datetime | None) -> str:
    return NONE if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _took(run: dict[str, Any]) -> str:
    started, ended = run.get("started_at"), run.get("completed_at")
    if started is None:
        return NONE
    seconds = ((ended or datetime.now(UTC)) - started).total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


@functools.cache
def environment() -> Environment:
    """The templates, autoescaped (built on first use, not at import)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True), trim_blocks=True)
    env.filters.update(count=_count, when=_when, took=_took, dom_key=dom_key)
    return env


def fragment(name: str, **context: Any) -> str:
    """A template rendered to a string (a page's part, an SSE frame's data)."""
    return environment().get_template(name).render(**context)


def page(request: Request, name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page or fragment with the console's headers."""
    del request  # kept for symmetry with the routes' signatures
    return HTMLResponse(fragment(name, **context), status_code=status_code, headers=HEADERS)
