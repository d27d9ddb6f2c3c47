"""Live run events as server-sent events: `GET /v1/events`.

Source: the run events topic (`syncline.runs.events.v1`). Each gateway replica tails it without a consumer group
(every replica sees every event, as the outcome waiter does) from its end at start-up, and fans each event out to
its SSE clients whose organisation (the envelope's `org_id`, else the run's) and filters (`sync_id`, `run_id`)
it matches.

An event's SSE id is the run event's `ce_id`. A replica keeps the last `REPLAY_EVENTS` events in memory, in the
order it received them; a client that reconnects with `Last-Event-ID` (the header, or `last_event_id` in the
query) gets the events of its organisation and filters that came after that one, then the live ones. Why ce_id
and not `<partition>:<offset>`: the topic has 12 partitions with no order between them, so one partition's offset
cannot say where a client is in the others; a resumable position would be a vector of offsets, and a resume a
consumer of its own per client. The ce_id is one opaque string, the same whichever replica relayed the event
(and the same when the outbox sends an event again, so a re-sent one is dropped here), at the cost of resuming
only on the replica that served the stream, within its buffer: when the id is no longer there (another replica,
a restart, or more than `REPLAY_EVENTS` events since), the stream starts with a `stream.reset` event, and the
client re-reads state from `/v1/runs`.

Frames: `id: <ce_id>`, `event: <type without "syncline.">` (`run.created`, `run.started`, `run.progress`,
`run.completed`, …), `data: {"id", "type", "time", "org_id", "run_id", "sync_id", "data": <the event's payload>}`;
a `: keepalive` comment every `KEEPALIVE_S` seconds. A client that reads too slowly (`QUEUE_EVENTS` behind) is
disconnected and resumes with `Last-Event-ID`.
"""

import asyncio
import contextlib
import json
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer
from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from syncline_contracts.topics import RUN_EVENTS
from syncline_gateway.dialects.native import reads
from syncline_gateway.dialects.native.auth import Caller
from syncline_gateway.service import Gateway
from syncline_gateway.settings import GatewaySettings
from syncline_platform import loops
from syncline_platform.errors import UnavailableError
from syncline_platform.kafka import client_options

log = structlog.get_logger(__name__)

REPLAY_EVENTS = 10_000
"""Events a replica keeps for clients that resume."""
QUEUE_EVENTS = 1_000
"""Events a client may be behind before it is disconnected (it resumes with `Last-Event-ID`)."""
KEEPALIVE_S = 15.0
"""A comment this often keeps proxies from closing a quiet stream."""
RETRY_MS = 1_000
"""How soon an EventSource reconnects."""
_PREFIX = "syncline."
_ORGS_KEPT = 10_000
"""Runs whose organisation was looked up (events published without one), kept in memory."""

router = APIRouter(prefix="/v1", tags=["native"])


@dataclass(frozen=True, kw_only=True)
class LiveEvent:
    """One run event as clients see it."""

    id: str
    type: str
    time: str
    org_id: str
    run_id: str | None
    sync_id: str | None
    data: dict[str, Any]

    def frame(self) -> bytes:
        """The event as an SSE frame."""
        body = {
            "id": self.id,
            "type": self.type,
            "time": self.time,
            "org_id": self.org_id,
            "run_id": self.run_id,
            "sync_id": self.sync_id,
            "data": self.data,
        }
        return f"id: {self.id}\nevent: {self.type}\ndata: {json.dumps(body, separators=(',', ':'))}\n\n".encode()


@dataclass(eq=False, kw_only=True)
class Subscription:
    """One SSE client: its organisation and filters, and the events waiting for it (None: the stream ends)."""

    org_id: str
    sync_id: str | None = None
    run_id: str | None = None
    queue: asyncio.Queue[LiveEvent | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_EVENTS + 1))

    def wants(self, event: LiveEvent) -> bool:
        """Whether `event` is for this client."""
        return (
            event.org_id == self.org_id
            and (self.sync_id is None or event.sync_id == self.sync_id)
            and (self.run_id is None or event.run_id == self.run_id)
        )

    def offer(self, event: LiveEvent) -> bool:
        """Queue `event`; False when the client is too far behind (it is told to go)."""
        if self.queue.qsize() >= QUEUE_EVENTS:
            self.queue.put_nowait(None)
            return False
        self.queue.put_nowait(event)
        return True


class EventHub:
    """Tails the run events topic and fans its events out to this replica's SSE clients."""

    def __init__(self, *, settings: GatewaySettings, pool: asyncpg.Pool) -> None:
        self.kafka = settings.kafka
        self.pool = pool
        self.replay: deque[LiveEvent] = deque()
        self._seen: dict[str, str] = {}
        """The buffered events' ids → their organisations."""
        self._orgs: OrderedDict[str, str] = OrderedDict()
        self._clients: set[Subscription] = set()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Take every partition of the topic (no group) from its current end."""
        topic = RUN_EVENTS.qualified(self.kafka.topic_prefix)
        consumer = AIOKafkaConsumer(topic, **client_options(self.kafka), enable_auto_commit=False)
        await consumer.start()
        for _ in range(100):
            if consumer.assignment():
                break
            await asyncio.sleep(0.1)
        else:
            await consumer.stop()
            raise UnavailableError(dependency="kafka", detail=f"topic {topic} has no partitions")
        assigned = list(consumer.assignment())
        await consumer.seek_to_end(*assigned)
        for tp in assigned:  # resolve positions now, so no event published from here on is missed
            await consumer.position(tp)
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(), name="native-events")

    async def stop(self) -> None:
        """Stop tailing and end every stream."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer:
            await self._consumer.stop()
        for client in list(self._clients):
            client.queue.put_nowait(None)
        self._clients.clear()

    def subscribe(
        self, *, org_id: str, sync_id: str | None, run_id: str | None, last_event_id: str | None
    ) -> tuple[Subscription, list[LiveEvent], bool]:
        """A new client: its subscription, the buffered events it missed after `last_event_id`, and whether that
        id was found among its organisation's (always True without one). Nothing is awaited, so no event falls
        between the two."""
        client = Subscription(org_id=org_id, sync_id=sync_id, run_id=run_id)
        missed: list[LiveEvent] = []
        found = last_event_id is None or self._seen.get(last_event_id) == org_id
        if last_event_id is not None and found:
            after = False
            for event in self.replay:
                if after and client.wants(event):
                    missed.append(event)
                after = after or event.id == last_event_id
        self._clients.add(client)
        return client, missed, found

    def unsubscribe(self, client: Subscription) -> None:
        """The client is gone."""
        self._clients.discard(client)

    async def _run(self) -> None:
        """Tail until stopped; a failure is logged and the tail goes on."""
        await loops.forever(self._tail_once, name="native-events")

    async def _tail_once(self) -> None:
        assert self._consumer is not None  # noqa: S101
        batches = await self._consumer.getmany(timeout_ms=500)
        for records in batches.values():
            for record in records:
                event = await self._decode(record)
                if event is not None:
                    self.publish(event)

    async def _decode(self, record: Any) -> LiveEvent | None:
        headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
        ce_id = headers.get("ce_id")
        try:
            data = json.loads(record.value)
        except (TypeError, ValueError):
            data = None
        if not ce_id or not isinstance(data, dict) or ce_id in self._seen:
            return None
        run_id = data.get("run_id")
        org_id = headers.get("org_id") or await self._org_of(run_id)
        if not org_id:
            return None
        return LiveEvent(
            id=ce_id,
            type=headers.get("ce_type", str(data.get("type", ""))).removeprefix(_PREFIX),
            time=headers.get("ce_time", ""),
            org_id=org_id,
            run_id=run_id,
            sync_id=data.get("sync_id"),
            data={k: v for k, v in data.items() if k != "type"},
        )

    async def _org_of(self, run_id: str | None) -> str | None:
        """The organisation of a run whose event came without one (looked up once per run)."""
        if not run_id:
            return None
        if run_id not in self._orgs:
            async with self.pool.acquire() as conn:
                org_id = await reads.org_of_run(conn, run_id=run_id)
            if org_id is None:
                return None
            self._orgs[run_id] = org_id
            if len(self._orgs) > _ORGS_KEPT:
                self._orgs.popitem(last=False)
        return self._orgs[run_id]

    def publish(self, event: LiveEvent) -> None:
        """Keep `event` for resuming clients and hand it to every client it is for."""
        self.replay.append(event)
        self._seen[event.id] = event.org_id
        if len(self.replay) > REPLAY_EVENTS:
            self._seen.pop(self.replay.popleft().id, None)
        for client in [c for c in self._clients if c.wants(event)]:
            if not client.offer(event):
                log.warning("native.events_client_behind", org_id=client.org_id)
                self._clients.discard(client)


def hub_of(request: Request) -> EventHub:
    """This replica's hub (started with the gateway)."""
    workers: list[object] = request.app.state.workers
    hub = next((w for w in workers if isinstance(w, EventHub)), None)
    if hub is None:
        raise UnavailableError(dependency="events", detail="the event hub is not running")
    return hub


def make_hub(settings: GatewaySettings, gateway: Gateway) -> EventHub:
    """The hub, as a worker of the dialect."""
    return EventHub(settings=settings, pool=gateway.pool)


def reset_frame(last_event_id: str) -> bytes:
    """Tells a resuming client that the events after its id are no longer here."""
    body = {"last_event_id": last_event_id, "message": "events after this id are gone: read state from /v1/runs"}
    return f"event: stream.reset\ndata: {json.dumps(body)}\n\n".encode()


async def _frames(hub: EventHub, client: Subscription, missed: list[LiveEvent], first: bytes) -> AsyncIterator[bytes]:
    try:
        yield first
        for event in missed:
            yield event.frame()
        while True:
            try:
                live = await asyncio.wait_for(client.queue.get(), timeout=KEEPALIVE_S)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            if live is None:
                return
            yield live.frame()
    finally:
        hub.unsubscribe(client)


@router.get("/events", include_in_schema=False)
async def events(
    request: Request,
    caller: Caller,
    *,
    sync_id: str | None = None,
    run_id: str | None = None,
    last_event_id: str | None = None,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """The organisation's run events as they happen (`text/event-stream`), optionally of one sync or run; resumed
    after `Last-Event-ID`. Left out of the OpenAPI document: a stream has no end for a generated request to wait
    for (see the module docstring for the frames)."""
    hub = hub_of(request)
    resume = last_event_id_header or last_event_id
    client, missed, found = hub.subscribe(org_id=caller.org_id, sync_id=sync_id, run_id=run_id, last_event_id=resume)
    first = f"retry: {RETRY_MS}\n: connected\n\n".encode()
    if not found and resume is not None:
        first += reset_frame(resume)
    return StreamingResponse(
        _frames(hub, client, missed, first),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
