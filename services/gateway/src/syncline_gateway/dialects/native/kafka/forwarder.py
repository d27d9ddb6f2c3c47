"""The tenant events forwarder: run events (`syncline.runs.events.v1`) → each organisation's events topic.

Every gateway replica joins one consumer group on the run events topic (the first time the group exists, at the
events published since the replica was launched: `consuming.FromLaunch`). A run's `started`, `progress`,
`completed`, `failed` and `canceled` events are published on its organisation's `syncline.tenant.<org>.events.v1`,
keyed by sync id, with their `ce_id`, `ce_type` and `ce_time` (a re-sent event keeps its id, so a client dedupes
it); the organisation is the envelope's, which only Syncline's services may write, else the run's. One partition's
events are forwarded in order, and one run's events are on one partition, so an organisation reads each run's
events in order. Offsets are committed after a batch was published.
"""

import json
from collections import OrderedDict
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from syncline_contracts.envelope import Envelope
from syncline_contracts.tenant import FORWARDED_RUN_EVENTS
from syncline_contracts.topics import RUN_EVENTS
from syncline_gateway.dialects.native import reads
from syncline_gateway.dialects.native.kafka.access import TenantAccess
from syncline_gateway.dialects.native.kafka.consuming import GroupWorker, Records, from_launch
from syncline_gateway.service import Gateway
from syncline_gateway.settings import GatewaySettings
from syncline_platform.kafka import client_options, group_id

log = structlog.get_logger(__name__)
SOURCE = "/syncline/gateway/kafka"
_ORGS_KEPT = 10_000
"""Runs whose organisation was looked up (events published without one), kept in memory."""
_KEPT = ("ce_id", "ce_type", "ce_time", "ce_specversion", "content-type")
"""The headers an organisation sees (not the internal correlation or causation)."""


class EventForwarder:
    """Consumes the run events topic and republishes each organisation's run events on its events topic."""

    def __init__(self, *, settings: GatewaySettings, gateway: Gateway, access: TenantAccess) -> None:
        self.settings = settings
        self.gateway = gateway
        self.access = access
        self._orgs: OrderedDict[str, str] = OrderedDict()
        self.worker = GroupWorker(self._consumer, handle=self._partition, name="tenant-events")

    def _consumer(self) -> AIOKafkaConsumer:
        kafka = self.settings.kafka
        consumer = AIOKafkaConsumer(
            **client_options(kafka), group_id=group_id(kafka, "gateway-tenant-events"), enable_auto_commit=False
        )
        return from_launch(consumer, RUN_EVENTS.qualified(kafka.topic_prefix))

    async def start(self) -> None:
        """Join the group (a replica it gives no partition stands by)."""
        await self.worker.start()

    async def stop(self) -> None:
        """Stop consuming and leave the group."""
        await self.worker.stop()

    async def _partition(self, tp: TopicPartition, records: Records) -> None:
        del tp
        for record in records:
            await self.forward(record)

    async def forward(self, record: Any) -> None:
        """Republish one run event for its organisation (other events are not theirs to read)."""
        headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
        if headers.get("ce_type") not in FORWARDED_RUN_EVENTS:
            return
        try:
            data = json.loads(record.value)
        except (TypeError, ValueError):
            log.warning("tenant.event_undecodable", ce_id=headers.get("ce_id"))
            return
        sync_id, run_id = str(data.get("sync_id") or ""), str(data.get("run_id") or "")
        org_id = headers.get("org_id") or await self._org_of(run_id)
        if not org_id or not sync_id:
            log.warning("tenant.event_without_owner", ce_id=headers.get("ce_id"), run_id=run_id)
            return
        topics = await self.access.ensure_topics(org_id)
        envelope = Envelope.model_validate({k: v for k, v in headers.items() if k in _KEPT} | {"ce_source": SOURCE})
        await self.gateway.broker.publish(
            record.value, topic=topics.events, key=sync_id.encode(), headers=envelope.to_headers()
        )

    async def _org_of(self, run_id: str) -> str | None:
        if run_id and run_id not in self._orgs:
            async with self.gateway.pool.acquire() as conn:
                org_id = await reads.org_of_run(conn, run_id=run_id)
            if org_id is None:
                return None
            self._orgs[run_id] = org_id
            if len(self._orgs) > _ORGS_KEPT:
                self._orgs.popitem(last=False)
        return self._orgs.get(run_id)
