"""Request bodies within a dialect's limits: a largest size in bytes and a deepest JSON nesting.

`LimitBodies` (ASGI middleware) reads the whole body of every request a dialect owns before routing: past the
size it answers 413 at once (without reading the rest), past the depth 400, both in the dialect's own error body.
So nothing after it (idempotency fingerprints, parsers, pydantic) meets an oversize body or one nested deep enough
to exhaust the interpreter's recursion. `check` applies the same limits to bytes already read. A NUL character in
the path, the query or a JSON string is a 400 too: PostgreSQL's text cannot hold one, so it would fail any query or
row that carried it.
"""

import re
from dataclasses import dataclass
from itertools import accumulate
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncline_gateway.errors import BadRequestError, PayloadTooLargeError

if TYPE_CHECKING:
    from syncline_gateway.dialects.registry import Registry

MIB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class BodyLimits:
    """What a dialect accepts as a request body."""

    max_bytes: int = MIB
    """Largest body; a larger one is a 413."""
    max_depth: int = 64
    """Deepest nesting of JSON objects and arrays (`{}` is 1); a deeper body is a 400."""


_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_RUNS = re.compile(rb"\[+|\]+")


def deeper_than(raw: bytes, max_depth: int) -> bool:
    """Whether the JSON in `raw` nests deeper than `max_depth`, found without parsing it, mostly in C.

    Strings are dropped and objects and arrays alike reduced to `[` and `]`. Each pass then drops the innermost
    pairs, which lowers the depth by one, while that shortens the text well; what is left has few, long runs of
    brackets, whose lengths are summed. (A text that is not JSON may be called deep: it is a 400 either way.)
    """
    left = _STRING.sub(b"", raw).translate(_BRACKETS, _NOT_BRACKET)
    dropped = 0
    while left and dropped <= max_depth:
        shorter = left.replace(b"[]", b"")
        few = len(shorter) * 8 > len(left) * 7
        left, dropped = shorter, dropped + 1
        if few:
            break
    if not left or dropped > max_depth:  # gone after `dropped` passes: that deep
        return dropped > max_depth
    steps = [len(run) if run[0] == ord("[") else -len(run) for run in _RUNS.findall(left)]
    return max(accumulate(steps)) > max_depth - dropped


def check(raw: bytes, limits: BodyLimits) -> None:
    """Raise `PayloadTooLargeError` or `BadRequestError` when `raw` breaks `limits`."""
    if len(raw) > limits.max_bytes:
        raise PayloadTooLargeError(limit=limits.max_bytes)
    if deeper_than(raw, limits.max_depth):
        raise BadRequestError(f"request body nests deeper than the maximum allowed ({limits.max_depth})")


_NUL = re.compile(rb"%00|\x00")
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def refuse_nul(scope: Scope, body: bytes) -> None:
    """Raise `BadRequestError` when the request's path, query or body carries a NUL character."""
    where = [scope.get("raw_path") or scope["path"].encode(), scope.get("query_string", b"")]
    escaped = b"\\u0000" in body and _JSON_NUL.search(body)  # JSON's escape is lower-case `\u`
    if any(_NUL.search(part) for part in where) or b"\x00" in body or escaped:
        raise BadRequestError("the request contains a NUL character (\\u0000), which no field may hold")


class LimitBodies:
    """ASGI middleware enforcing each dialect's body limits on the requests it owns (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, registry: "Registry") -> None:
        self.app = app
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        dialect = self.registry.match(scope["path"]) if scope["type"] == "http" else None
        if dialect is None:
            await self.app(scope, receive, send)
            return
        try:
            body = await _read(scope, receive, max_bytes=dialect.limits.max_bytes)
            check(body, dialect.limits)
            refuse_nul(scope, body)
        except BadRequestError as exc:
            await dialect.render_error(exc, Request(scope))(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


async def _read(scope: Scope, receive: Receive, *, max_bytes: int) -> bytes:
    declared = dict(scope["headers"]).get(b"content-length", b"")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLargeError(limit=max_bytes)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: the app finds out from `receive`
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLargeError(limit=max_bytes)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for the app: the body read, then whatever the server sends next (a disconnect)."""
    pending = [body]

    async def replay() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return await receive()

    return replay
