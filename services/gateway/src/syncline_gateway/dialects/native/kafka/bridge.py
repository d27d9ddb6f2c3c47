"""The command bridge: organisations' commands (`syncline.tenant.<org>.commands.v1`) → the internal command topics.

Every gateway replica joins one consumer group subscribed to every organisation's commands topic (a pattern, so
a new organisation's topic is found within `tenant_discovery_s`). For each record the organisation is the one of
the topic it came from, never a header. The command (its `ce_type` header and JSON body) is validated and built by
the same code as the native API's (`dialects.native.commands`), sent on the internal topic through the gateway's
command bus, and answered on the organisation's events topic: `syncline.command.accepted` with the resource id
(`pending` when the services had not confirmed it within the gateway's bound), or `syncline.command.rejected` with
the reason, for a record that is not a command as much as for one the services refused. Nothing is dropped
silently.

Ids are derived from the organisation and the command's `ce_id`, so a command read twice (a replica died before it
committed) addresses the same sync or run twice rather than making two. Partitions are handled concurrently, each
in order; offsets are committed once every record of a batch was answered.
"""

import json
import uuid
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker
from pydantic import TypeAdapter, ValidationError

from syncline_contracts.base import Message
from syncline_contracts.connectors import CommandRejected
from syncline_contracts.envelope import Envelope
from syncline_contracts.syncs import BulkSyncDefinition, BulkSyncSchedule
from syncline_contracts.tenant import (
    TENANT_COMMANDS,
    CancelRunCommand,
    CommandAccepted,
    CreateSync,
    DeleteSync,
    StartRun,
    TenantCommand,
    UpdateSync,
    commands_pattern,
    org_of_commands_topic,
)
from syncline_gateway.credentials import Principal
from syncline_gateway.dialects.native import commands
from syncline_gateway.dialects.native.kafka.access import TenantAccess
from syncline_gateway.dialects.native.kafka.consuming import GroupWorker, Records
from syncline_gateway.errors import BadRequestError, ResourceNotFoundError
from syncline_gateway.service import Gateway
from syncline_gateway.settings import GatewaySettings
from syncline_platform.kafka import client_options, group_id

log = structlog.get_logger(__name__)
SOURCE = "/syncline/gateway/kafka"
ACTOR = "kafka"
"""Who the internal commands name as their actor: the organisation's key is not known from a record."""
_COMMAND = TypeAdapter[Any](TenantCommand)
COMMAND_TYPES = frozenset(m.wire_type() for m in TENANT_COMMANDS)
_IDS = uuid.UUID("5d7f1c1e-7a43-4f4e-9a4b-5b1c2f6a9d10")
"""Namespace of the ids derived from an organisation and a command id."""


class Rejection(Exception):  # noqa: N818 - an outcome, not a failure of the bridge
    """A tenant command that is answered `command.rejected`."""

    def __init__(self, *, code: str, reason: str, aggregate_id: str = "") -> None:
        self.code = code
        self.reason = reason
        self.aggregate_id = aggregate_id
        super().__init__(reason)


def decode(record: Any) -> tuple[dict[str, str], TenantCommand]:
    """The record's headers and command; `Rejection` when it is not one."""
    headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
    ce_type = headers.get("ce_type", "")
    try:
        body = json.loads(record.value or b"")
    except (ValueError, RecursionError) as exc:
        raise Rejection(code="invalid", reason=f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise Rejection(code="invalid", reason="the body is not a JSON object")
    if ce_type not in COMMAND_TYPES:
        known = ", ".join(sorted(COMMAND_TYPES))
        raise Rejection(code="invalid", reason=f"unknown ce_type {ce_type!r} (one of {known})")
    try:
        return headers, _COMMAND.validate_python(body | {"type": ce_type})
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"][1:]) or "body"  # the first is the command's type
        raise Rejection(code="invalid", reason=f"{where}: {problem['msg']}") from exc


def derived_id(org_id: str, command_id: str) -> str:
    """The id of what a command makes: the same each time the command is read."""
    return str(uuid.uuid5(_IDS, f"{org_id}/{command_id}"))


def with_own_schedule_ids(definition: BulkSyncDefinition, *, org_id: str, command_id: str) -> BulkSyncDefinition:
    """The definition with schedule ids of Syncline's choosing (an organisation's would not be unique across
    organisations), and a manual default schedule when it has none."""
    schedules = definition.schedules or (BulkSyncSchedule(schedule_id="", is_default=True, frequency="manual"),)
    own = tuple(
        s.model_copy(update={"schedule_id": derived_id(org_id, f"{command_id}/schedule/{i}")})
        for i, s in enumerate(schedules)
    )
    return definition.model_copy(update={"schedules": own})


async def build(conn: Any, *, org_id: str, command_id: str, command: Message) -> commands.Command:
    """The internal command for a tenant command (the native API's builders)."""
    match command:
        case CreateSync():
            definition = with_own_schedule_ids(command.definition, org_id=org_id, command_id=command_id)
            return commands.create_sync(definition=definition, sync_id=derived_id(org_id, command_id), actor=ACTOR)
        case UpdateSync():
            definition = with_own_schedule_ids(command.definition, org_id=org_id, command_id=command_id)
            return await commands.update_sync(
                conn, org_id=org_id, sync_id=command.sync_id, definition=definition, actor=ACTOR
            )
        case DeleteSync():
            return await commands.delete_sync(conn, org_id=org_id, sync_id=command.sync_id)
        case StartRun():
            return await commands.start_run(
                conn,
                org_id=org_id,
                sync_id=command.sync_id,
                job_type=command.job_type,
                run_id=derived_id(org_id, command_id),
            )
        case CancelRunCommand():
            return await commands.cancel_run(conn, org_id=org_id, run_id=command.run_id)
    raise Rejection(code="invalid", reason=f"unsupported command {command.wire_type()}")


class CommandBridge:
    """Consumes the organisations' commands topics and forwards each command to the internal topics."""

    def __init__(self, *, settings: GatewaySettings, gateway: Gateway, access: TenantAccess) -> None:
        self.settings = settings
        self.gateway = gateway
        self.access = access
        self.worker = GroupWorker(self._consumer, handle=self._partition, name="tenant-commands")

    def _consumer(self) -> AIOKafkaConsumer:
        kafka = self.settings.kafka
        consumer = AIOKafkaConsumer(
            **client_options(kafka),
            group_id=group_id(kafka, "gateway-tenant-commands"),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=int(self.settings.tenant_discovery_s * 1000),
        )
        consumer.subscribe(pattern=commands_pattern(kafka.topic_prefix))
        return consumer

    async def start(self) -> None:
        """Join the group over every organisation's commands topic."""
        await self.worker.start()

    async def stop(self) -> None:
        """Stop consuming and leave the group."""
        await self.worker.stop()

    async def _partition(self, tp: TopicPartition, records: Records) -> None:
        org_id = org_of_commands_topic(tp.topic, self.settings.kafka.topic_prefix)
        if org_id is None:
            return
        for record in records:
            await self.handle(org_id, record)

    async def handle(self, org_id: str, record: Any) -> None:
        """Forward one record of `org_id`'s commands topic and answer it."""
        headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
        command_id = headers.get("ce_id") or f"{record.topic}:{record.partition}:{record.offset}"
        command_type = headers.get("ce_type", "")
        key = record.key.decode(errors="replace") if record.key else command_id
        with structlog.contextvars.bound_contextvars(org_id=org_id, command_id=command_id, ce_type=command_type):
            try:
                outcome = await self._forward(org_id, command_id, record)
            except Rejection as exc:
                log.info("tenant.command_rejected", code=exc.code, reason=exc.reason)
                rejected = CommandRejected(
                    command_id=command_id,
                    command_type=command_type,
                    aggregate_id=exc.aggregate_id or key,
                    code=exc.code,  # type: ignore[arg-type]
                    reason=exc.reason,
                )
                await self._answer(org_id, rejected, key=rejected.aggregate_id, cause=command_id)
                return
            log.info("tenant.command_accepted", resource_id=outcome.resource_id, pending=outcome.pending)
            await self._answer(org_id, outcome, key=outcome.sync_id or outcome.resource_id, cause=command_id)

    async def _forward(self, org_id: str, command_id: str, record: Any) -> CommandAccepted:
        _, command = decode(record)
        try:
            async with self.gateway.pool.acquire() as conn:
                internal = await build(conn, org_id=org_id, command_id=command_id, command=command)
        except ResourceNotFoundError as exc:
            raise Rejection(code="not_found", reason=str(exc), aggregate_id=str(exc.resource_id)) from exc
        except BadRequestError as exc:
            raise Rejection(code="invalid", reason=str(exc)) from exc
        answer = await self.gateway.commands.send(
            topic=internal.topic,
            message=internal.message,
            principal=Principal(org_id=org_id, key_id=ACTOR),
            request_id=command_id,
        )
        if isinstance(answer, CommandRejected):
            raise Rejection(code=answer.code, reason=answer.reason, aggregate_id=internal.resource_id)
        return CommandAccepted(
            command_id=command_id,
            command_type=command.wire_type(),
            resource_id=internal.resource_id,
            sync_id=internal.sync_id,
            pending=answer is None,
        )

    async def _answer(self, org_id: str, event: Message, *, key: str, cause: str) -> None:
        topics = await self.access.ensure_topics(org_id)
        envelope = Envelope(ce_type=event.wire_type(), ce_source=SOURCE, causation_id=cause, correlation_id=cause)
        await publish_to(self.gateway.broker, topic=topics.events, event=event, key=key, envelope=envelope)


async def publish_to(broker: KafkaBroker, *, topic: str, event: Message, key: str, envelope: Envelope) -> None:
    """Publish `event` on an organisation's events topic (CloudEvents binary mode)."""
    await broker.publish(event.model_dump(mode="json"), topic=topic, key=key.encode(), headers=envelope.to_headers())
