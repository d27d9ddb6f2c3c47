"""What the native API's end-to-end tests share: a client of `/v1` with a key, server-sent events read as frames,
and two syncs (a Polytomic bulk sync, an Elastic connector) of one source database run once each."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from elasticsearch import Elasticsearch
from polytomic import Polytomic
from tests.e2e.polytomic_support import bulk_sync, connections, seed
from tests.e2e.polytomic_support import run as run_polytomic
from tests.e2e.test_elastic_first_path import configure, wait_for_job
from tests.support.system import System

TERMINAL = {"completed", "error", "canceled"}


def native(system: System, key: str | None = None) -> httpx.Client:
    """A client of the native API with a key (the session organisation's unless another is given)."""
    return httpx.Client(
        base_url=system.url, headers={"Authorization": f"Bearer {key or system.key['encoded']}"}, timeout=30
    )


def wait_run(client: httpx.Client, run_id: str, *, timeout_s: float = 60.0) -> dict[str, Any]:
    """Poll `GET /v1/runs/{id}` until the run ends."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = client.get(f"/v1/runs/{run_id}")
        if answer.status_code == 200 and answer.json()["status"] in TERMINAL:
            found: dict[str, Any] = answer.json()
            return found
        assert time.monotonic() < deadline, f"run {run_id} still {answer.text}"
        time.sleep(0.2)


@dataclass
class Frame:
    """One server-sent event."""

    id: str | None
    event: str | None
    data: dict[str, Any]
    received: float
    """`time.time()` when it arrived."""


class Stream:
    """The frames of an open `GET /v1/events`, collected by a task."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.frames: list[Frame] = []
        self._arrived = asyncio.Event()

    async def read(self) -> None:
        fields: dict[str, str] = {}
        async for line in self.response.aiter_lines():
            if line == "":
                if "data" in fields:
                    self.frames.append(
                        Frame(fields.get("id"), fields.get("event"), json.loads(fields["data"]), time.time())
                    )
                    self._arrived.set()
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")

    async def until(self, check: Any, *, timeout_s: float = 60.0) -> list[Frame]:
        """Wait until `check(frames)` holds."""
        async with asyncio.timeout(timeout_s):
            while not check(self.frames):
                self._arrived.clear()
                await self._arrived.wait()
        return self.frames


@asynccontextmanager
async def events(system: System, *, key: str | None = None, **params: str) -> AsyncIterator[Stream]:
    """`GET /v1/events` open while the block runs (`Last-Event-ID` from `last_event_id`)."""
    headers = {"Authorization": f"Bearer {key or system.key['encoded']}", "Accept": "text/event-stream"}
    if "last_event_id" in params:
        headers["Last-Event-ID"] = params.pop("last_event_id")
    async with (
        httpx.AsyncClient(base_url=system.url, timeout=httpx.Timeout(30, read=None)) as http,
        http.stream("GET", "/v1/events", params=params, headers=headers) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = Stream(response)
        reader = asyncio.create_task(stream.read())
        try:
            yield stream
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


@dataclass
class TwoSyncs:
    """A Polytomic bulk sync and an Elastic connector of one source, each run once (completed)."""

    polytomic_sync: str
    polytomic_run: str
    connections: tuple[str, str]
    elastic_sync: str
    elastic_run: str


async def two_syncs(
    system: System, api: Polytomic, *, source: tuple[str, str], target: tuple[str, str], connector_id: str
) -> TwoSyncs:
    """Seed the source, make a bulk sync and a connector of it, and run each once."""
    await seed(source[1])
    source_id, target_id = connections(api, source[0], target[0])
    sync_id = bulk_sync(api, source_id, target_id, ["public.customers", "public.orders"])
    execution = run_polytomic(api, sync_id)
    assert execution.status == "completed", execution.status_message
    es = Elasticsearch(system.url, api_key=system.key["encoded"], request_timeout=30)
    configure(es, connector_id, database=source[0], index=f"{connector_id}-idx", tables=["customers"])
    job = await wait_for_job(es, es.connector.sync_job_post(id=connector_id)["id"])
    assert job["status"] == "completed", job
    return TwoSyncs(
        polytomic_sync=sync_id,
        polytomic_run=str(execution.id),
        connections=(source_id, target_id),
        elastic_sync=connector_id,
        elastic_run=job["id"],
    )
