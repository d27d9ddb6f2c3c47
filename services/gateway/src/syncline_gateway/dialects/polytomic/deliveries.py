"""Polytomic events and webhook deliveries (A1.10).

Consumes `syncline.runs.events.v1` in the gateway's own group (`syncline-gateway-webhooks`); each start or end of
a bulk sync's run becomes a `bulk_sync.*` event, kept in `gateway.events` (48 h) and queued, in the same
transaction, for the organisation's enabled webhook. A delivery loop POSTs queued events, signed with the
webhook's secret (`Polytomic-Signature`: hex HMAC-SHA256 of the body), and retries non-2xx answers with
exponential backoff. Delivering never touches the run: a slow or failing endpoint only delays its own events.

Every failure of one delivery (an unusable URL kept from before endpoints were checked, an address the network
policy refuses when the name is resolved at delivery time, any exception at all) is recorded on that delivery
and retried on it alone; both loops are supervised (restarted after an unexpected error), so no endpoint can stop
the deliveries of another.
"""

import asyncio
import contextlib
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import structlog
from aiokafka import AIOKafkaConsumer
from pydantic import TypeAdapter, ValidationError

from syncline_contracts.base import Message
from syncline_contracts.envelope import Envelope
from syncline_contracts.runs import RunCanceled, RunCompleted, RunEvent, RunFailed, RunStarted
from syncline_contracts.topics import RUN_EVENTS
from syncline_gateway.dialects.polytomic import event_queries as q
from syncline_gateway.dialects.polytomic.endpoints import GuardedTransport
from syncline_gateway.settings import GatewaySettings
from syncline_platform import loops
from syncline_platform.kafka import client_options, group_id
from syncline_platform.network import NetworkPolicy
from syncline_platform.secrets import Sealer

log = structlog.get_logger(__name__)
SIGNATURE_HEADER = "Polytomic-Signature"
EVENT_TYPES: dict[type[Message], str] = {
    RunStarted: "bulk_sync.running",
    RunCompleted: "bulk_sync.completed",
    RunCanceled: "bulk_sync.canceled",
    RunFailed: "bulk_sync.failed",
}
"""Run events → Polytomic bulk-sync event types (a completed run with failed objects: `COMPLETED_WITH_ERROR`)."""
COMPLETED_WITH_ERROR = "bulk_sync.completed_with_error"
"""Polytomic's name (singular "error") for an execution that completed while some of its schemas failed."""
ALL_EVENT_TYPES = (*EVENT_TYPES.values(), COMPLETED_WITH_ERROR)
"""Every event type this dialect may emit (`GET /api/events_types`)."""
LEASE_S = 60.0
MAX_IN_FLIGHT = 50
"""Most delivery attempts under way at once (each its own task)."""
_DECODER: TypeAdapter[Any] = TypeAdapter(RunEvent)


def sign(body: bytes, secret: str) -> str:
    """The `Polytomic-Signature` of a delivery body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(kind: str, payload: dict[str, Any]) -> bytes:
    """A delivery's body: `{"type", "event"}`, compact JSON."""
    return json.dumps({"type": kind, "event": payload}, separators=(",", ":")).encode()


def payload_of(event: Message, sync: dict[str, Any]) -> dict[str, Any]:
    """The A1.10 body of a bulk sync's event."""
    payload: dict[str, Any] = {
        "organization_id": sync["org_id"],
        "sync_id": sync["id"],
        "sync_name": sync["name"],
        "execution_id": getattr(event, "run_id", ""),
        "source_connection_id": sync["source_connection_id"],
        "destination_connection_id": sync["destination_connection_id"],
        "trigger_source": "schedule" if sync["trigger_method"] == "scheduled" else "manual",
    }
    if isinstance(event, RunFailed):
        payload["error"] = event.error
    return payload


def kind_of(event: Message) -> str | None:
    """The Polytomic event type of a run event; None for run events that have none."""
    if isinstance(event, RunCompleted) and event.object_errors:
        return COMPLETED_WITH_ERROR
    return EVENT_TYPES.get(type(event))


async def record(pool: asyncpg.Pool, *, event: Message, envelope: Envelope) -> bool:
    """Keep a bulk sync's event and queue it for delivery; False when the run event is not one."""
    kind = kind_of(event)
    if kind is None:
        return False
    async with pool.acquire() as conn, conn.transaction():
        run_id = getattr(event, "run_id", "")
        sync = await q.bulk_sync_of_run(conn, sync_id=getattr(event, "sync_id", ""), run_id=run_id)
        if sync is None:
            return False
        added = await q.add_event(
            conn,
            event_id=envelope.ce_id,
            org_id=sync["org_id"],
            kind=kind,
            payload=payload_of(event, sync),
            at=envelope.ce_time,
        )
        if added:
            await q.add_delivery(conn, event_id=envelope.ce_id, org_id=sync["org_id"])
    return added


def backoff(*, attempts: int, base_s: float) -> timedelta:
    """Wait after the `attempts`-th failed attempt: base, 2·base, 4·base, …"""
    return timedelta(seconds=base_s * 2 ** (attempts - 1))


class Deliverer:
    """The run-event consumer and the delivery loop, started and stopped with the gateway."""

    def __init__(self, *, settings: GatewaySettings, pool: asyncpg.Pool, sealer: Sealer) -> None:
        self.settings = settings
        self.pool = pool
        self.sealer = sealer
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self._consumer: AIOKafkaConsumer | None = None
        self._http: httpx.AsyncClient | None = None

    async def start(self) -> None:
        """Join the group and start both loops."""
        kafka = self.settings.kafka
        self._consumer = AIOKafkaConsumer(
            RUN_EVENTS.qualified(kafka.topic_prefix),
            **client_options(kafka),
            group_id=group_id(kafka, "gateway-webhooks"),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await self._consumer.start()
        self._http = httpx.AsyncClient(
            timeout=self.settings.webhook_timeout_s,
            transport=GuardedTransport(NetworkPolicy(self.settings.network)),
            trust_env=False,
        )
        self._tasks = [
            asyncio.create_task(loops.forever(self._consume, name="webhook-events"), name="webhook-events"),
            asyncio.create_task(
                loops.forever(self._deliver_forever, name="webhook-deliveries"), name="webhook-deliveries"
            ),
        ]

    async def stop(self) -> None:
        """Stop both loops and the attempts in flight (their leases run out: attempted again later), and leave the
        group."""
        tasks = [*self._tasks, *self._in_flight]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._consumer is not None:
            await self._consumer.stop()
        if self._http is not None:
            await self._http.aclose()

    async def _consume(self) -> None:
        assert self._consumer is not None  # noqa: S101
        while True:
            batches = await self._consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for item in records:
                    await self._handle(item)
            if batches:
                await self._consumer.commit()

    async def _handle(self, item: Any) -> None:
        headers = {k: v.decode() for k, v in (item.headers or ())}
        try:
            envelope = Envelope.from_headers(headers)
            event = _DECODER.validate_json(item.value)
        except (ValidationError, ValueError) as exc:
            log.warning("webhook.event_undecodable", error=str(exc))
            return
        oldest = datetime.now(UTC) - timedelta(hours=self.settings.event_retention_h)
        if envelope.ce_time < oldest:
            return
        try:
            if await record(self.pool, event=event, envelope=envelope):
                self._wake.set()
        except (asyncpg.PostgresError, OSError) as exc:  # events are at-most-once; the run is never held up
            log.warning("webhook.event_not_recorded", error=str(exc), ce_id=envelope.ce_id)

    async def _deliver_forever(self) -> None:
        while True:
            await loops.wake_or_sleep(self._wake, 0.5)
            self._wake.clear()
            try:
                await self.deliver_due()
            except Exception as exc:  # the loop outlives any one round (deliveries have their own)
                log.warning("webhook.delivery_loop_failed", error=repr(exc))

    async def deliver_due(self) -> None:
        """Start one attempt of each due delivery, each in its own task (a slow endpoint holds up no other), and
        purge expired events. A delivery is leased while its attempt runs, so it is not claimed twice."""
        now = datetime.now(UTC)
        room = MAX_IN_FLIGHT - len(self._in_flight)
        lease_s = max(LEASE_S, 2 * self.settings.webhook_timeout_s)
        async with self.pool.acquire() as conn:
            due = await q.claim_due(conn, now=now, lease_s=lease_s, limit=room) if room > 0 else []
            await q.purge_events(conn, before=now - timedelta(hours=self.settings.event_retention_h))
        for delivery in due:
            task = asyncio.create_task(self._attempt(delivery), name=f"webhook-delivery-{delivery['event_id']}")
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _attempt(self, delivery: dict[str, Any]) -> None:
        """One attempt of one delivery, bounded in time; whatever goes wrong is this delivery's own failure."""
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_s):
                code, error = await self._post(delivery)
        except Exception as exc:  # any failure is recorded on this delivery and retried
            code, error = None, f"{type(exc).__name__}: {str(exc) or 'no answer in time'}"
        try:
            await self._settle(delivery, code=code, error=error)
        except Exception as exc:  # unsettled, its lease runs out and it is attempted again
            log.warning("webhook.not_settled", event_id=delivery["event_id"], error=repr(exc))

    async def _post(self, delivery: dict[str, Any]) -> tuple[int | None, str]:
        """POST the signed event: (status code, "" or what went wrong)."""
        assert self._http is not None  # noqa: S101
        body = encode(delivery["type"], delivery["payload"])
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: sign(body, self.sealer.open(delivery["sealed_secret"])),
        }
        response = await self._http.post(delivery["endpoint"], content=body, headers=headers)
        return response.status_code, "" if response.is_success else f"answered {response.status_code}"

    async def _settle(self, delivery: dict[str, Any], *, code: int | None, error: str) -> None:
        attempts = delivery["attempts"]
        if not error:
            status, next_at = "delivered", None
        elif attempts > self.settings.webhook_retries:
            status, next_at = "failed", None
        else:
            status = "pending"
            next_at = datetime.now(UTC) + backoff(attempts=attempts, base_s=self.settings.webhook_backoff_s)
        log.info("webhook.attempted", event_id=delivery["event_id"], attempt=attempts, status=status, code=code)
        async with self.pool.acquire() as conn:
            await q.settle(
                conn,
                event_id=delivery["event_id"],
                webhook_id=delivery["webhook_id"],
                status=status,
                last_status=code,
                error=error,
                next_attempt_at=next_at,
            )
        if next_at is not None:
            delay = (next_at - datetime.now(UTC)).total_seconds()
            asyncio.get_running_loop().call_later(max(delay, 0.0), self._wake.set)
