"""The native API over HTTP: JSON calls, and the server-sent events of `GET /v1/events` (resumed after the last
event id when the connection drops)."""

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from syncline_gateway.cli.config import Target

OPENED = "stream.opened"
"""The type of the event `Api.events` yields once its stream is open (not sent by the API)."""


class ApiError(Exception):
    """An error answer of the API (or no answer at all)."""

    def __init__(self, *, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"{status} {code}: {message}")


@dataclass(frozen=True)
class Event:
    """One server-sent event."""

    id: str | None
    type: str
    data: dict[str, Any]


class Api:
    """A client of `/v1` with one key."""

    def __init__(self, target: Target, *, timeout_s: float = 30.0) -> None:
        if not target.key:
            raise ApiError(
                status=0,
                code="no_key",
                message="no API key: pass --key, set SYNCLINE_KEY, or start Syncline with `make run`",
            )
        self.target = target
        self.http = httpx.Client(
            base_url=target.url, headers={"Authorization": f"Bearer {target.key}"}, timeout=timeout_s, trust_env=False
        )

    def close(self) -> None:
        """Close the connections."""
        self.http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call; its JSON answer, or `ApiError`."""
        try:
            answer = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(status=0, code="unreachable", message=f"{self.target.url}: {exc}") from exc
        if answer.status_code >= 400:
            raise _error(answer)
        return answer.json()

    def events(self, **params: str) -> Iterator[Event]:
        """The organisation's live events (filtered by `params`), resumed with `Last-Event-ID` after a drop. Each
        (re)connection first yields an `OPENED` event: from then on nothing is missed, so state read after it is
        up to date."""
        last: str | None = None
        failures = 0
        while True:
            headers = {"Accept": "text/event-stream"} | ({"Last-Event-ID": last} if last else {})
            try:
                with self.http.stream(
                    "GET", "/v1/events", params=params, headers=headers, timeout=httpx.Timeout(30, read=None)
                ) as answer:
                    if answer.status_code >= 400:
                        answer.read()
                        raise _error(answer)
                    failures = 0
                    yield Event(id=None, type=OPENED, data={})
                    for event in _frames(answer.iter_lines()):
                        last = event.id or last
                        yield event
            except (httpx.TransportError, httpx.RemoteProtocolError) as exc:
                failures += 1
                if failures > 5:
                    raise ApiError(status=0, code="unreachable", message=f"{self.target.url}: {exc}") from exc
            time.sleep(min(5.0, 0.2 * 2**failures))


def _frames(lines: Iterator[str]) -> Iterator[Event]:
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if "data" in fields:
                yield Event(id=fields.get("id"), type=fields.get("event", "message"), data=json.loads(fields["data"]))
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


def _error(answer: httpx.Response) -> ApiError:
    try:
        error = answer.json()["error"]
        return ApiError(status=answer.status_code, code=str(error["code"]), message=str(error["message"]))
    except (ValueError, KeyError, TypeError):
        return ApiError(status=answer.status_code, code="error", message=answer.text[:200])
