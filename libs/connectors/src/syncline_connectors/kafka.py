"""Kafka as a destination, with Huawei DRS's topic, partition and format policies.

- `topic_policy`: 0 one topic (it must exist); 1 one topic per database-schema-table; 2 per database; 3 per
  database-schema. Topics of policies 1-3 are named by `topic_name_format` (`$database$`, `$schema$`,
  `$tablename$`; the variables joined by `-` by default) and created with `partitions_num` and
  `replication_factor`.
- `partition_policy`: 0 hash of `db.schema.table`; 1 partition 0; 2 hash of the primary key; 3 hash of
  `db.schema` (murmur2, as Kafka's own partitioner).
- `kafka_data_format`: json (the message PostgreSQL builds for each row) or avro (one generic record schema).
The key is the primary key (values joined by `_`). Records are appended to per-partition batches and a batch of
the stream is acknowledged once every record in it is (acks=all): delivery is at least once.
"""

import io
import json
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import Any, ClassVar, Self

import fastavro
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.partitioner import murmur2

from syncline_connectors.capabilities import (
    Committed,
    Encoding,
    Item,
    ObjectOutcome,
    ObjectPlan,
    Position,
    Record,
    RecordShape,
    WriteOptions,
)
from syncline_connectors.pgoutput import Change
from syncline_connectors.row_filters import matches
from syncline_connectors.spec import Filter, KafkaPolicy, Mode
from syncline_connectors.stream import batches
from syncline_platform.errors import InvalidError, UnavailableError

log = structlog.get_logger(__name__)

DEFAULT_FORMATS = {1: "$database$-$schema$-$tablename$", 2: "$database$", 3: "$database$-$schema$"}
_TOPIC_CHARS = re.compile(r"[^a-zA-Z0-9._-]")

AVRO_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Record",
    "namespace": "syncline.drs",
    "fields": [
        {"name": "database", "type": "string"},
        {"name": "schema", "type": "string"},
        {"name": "table", "type": "string"},
        {"name": "type", "type": "string"},
        {"name": "isDdl", "type": "boolean"},
        {"name": "pkNames", "type": {"type": "array", "items": "string"}},
        {"name": "ts", "type": "long"},
        {"name": "data", "type": {"type": "array", "items": {"type": "map", "values": ["null", "string"]}}},
        {
            "name": "old",
            "type": ["null", {"type": "array", "items": {"type": "map", "values": ["null", "string"]}}],
            "default": None,
        },
    ],
}
_PARSED_AVRO = fastavro.parse_schema(AVRO_SCHEMA)


@dataclass(frozen=True)
class KafkaConfig:
    """How to reach the destination cluster."""

    bootstrap_servers: str
    client_id: str = "syncline-executor"

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> "KafkaConfig":
        """From configuration values."""
        if not values.get("bootstrap_servers"):
            raise InvalidError("a Kafka endpoint needs bootstrap_servers")
        return cls(bootstrap_servers=str(values["bootstrap_servers"]))


def topic_for(policy: KafkaPolicy, *, database: str, schema: str, table: str) -> str:
    """The topic a table's records go to."""
    if policy.topic_policy == 0:
        return policy.topic or ""
    template = policy.topic_name_format or DEFAULT_FORMATS[policy.topic_policy]
    name = template.replace("$database$", database).replace("$schema$", schema).replace("$tablename$", table)
    return _TOPIC_CHARS.sub("_", name)[:249]


def partition_for(policy: KafkaPolicy, *, key: bytes, database: str, schema: str, table: str, partitions: int) -> int:
    """The partition of a record under `partition_policy`."""
    match policy.partition_policy:
        case 1:
            return 0
        case 2:
            basis = key
        case 3:
            basis = f"{database}.{schema}".encode()
        case _:
            basis = f"{database}.{schema}.{table}".encode()
    return int(murmur2(basis) & 0x7FFFFFFF) % partitions


def _avro(message: dict[str, Any]) -> bytes:
    def texts(rows: list[dict[str, Any]] | None) -> list[dict[str, str | None]] | None:
        if rows is None:
            return None
        return [
            {k: None if v is None else v if isinstance(v, str) else json.dumps(v) for k, v in r.items()} for r in rows
        ]

    record = {
        "database": message.get("database") or "",
        "schema": message.get("schema") or "",
        "table": message.get("table") or "",
        "type": message.get("type") or "INSERT",
        "isDdl": bool(message.get("isDdl")),
        "pkNames": message.get("pkNames") or [],
        "ts": int(message.get("ts") or 0),
        "data": texts(message.get("data")) or [],
        "old": texts(message.get("old")),
    }
    out = io.BytesIO()
    fastavro.schemaless_writer(out, _PARSED_AVRO, record)
    return out.getvalue()


class _Sender:
    """Per-partition batch builders of one topic; flushes full builders and remembers the delivery futures."""

    IN_FLIGHT = 8

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self._open: dict[int, Any] = {}
        self._pending: list[Any] = []

    async def add(self, partition: int, key: bytes, value: bytes) -> None:
        builder = self._open.get(partition)
        if builder is None:
            builder = self._open[partition] = self.producer.create_batch()
        if builder.append(key=key, value=value, timestamp=None) is None:
            await self._ship(partition)
            builder = self._open[partition] = self.producer.create_batch()
            if builder.append(key=key, value=value, timestamp=None) is None:
                raise InvalidError(f"a record of {len(value)} bytes does not fit in a Kafka batch")

    async def _ship(self, partition: int) -> None:
        builder = self._open.pop(partition)
        builder.close()
        self._pending.append(await self.producer.send_batch(builder, self.topic, partition=partition))
        if len(self._pending) > self.IN_FLIGHT:  # bounds memory: wait for the oldest batches
            oldest, self._pending = self._pending[: -self.IN_FLIGHT], self._pending[-self.IN_FLIGHT :]
            for future in oldest:
                await future

    async def flush(self) -> None:
        """Send every open builder and wait until all sent records are acknowledged."""
        for partition in list(self._open):
            await self._ship(partition)
        pending, self._pending = self._pending, []
        for future in pending:
            await future


class KafkaDestination:
    """Writes records to topics under DRS policies. Use as an async context manager."""

    accepts = (Encoding.RECORDS, Encoding.ROWS)
    shape = RecordShape.MESSAGE

    def __init__(self, config: KafkaConfig, *, policy: KafkaPolicy, database: str) -> None:
        self.config = config
        self.policy = policy
        self.database = database
        self._producer: AIOKafkaProducer | None = None
        self._partitions: dict[str, int] = {}
        self._ddl_sent: set[str] = set()

    async def __aenter__(self) -> Self:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.config.bootstrap_servers,
            client_id=self.config.client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_batch_size=256 << 10,
            max_request_size=4 << 20,
        )
        try:
            await self._producer.start()
        except KafkaError as exc:
            raise UnavailableError(dependency=f"kafka {self.config.bootstrap_servers}", detail=str(exc)) from exc
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._producer is not None:
            await self._producer.stop()

    @property
    def producer(self) -> AIOKafkaProducer:
        """The started producer."""
        assert self._producer is not None, "use KafkaDestination as an async context manager"  # noqa: S101
        return self._producer

    async def check(self) -> None:
        """The cluster answers (and the topic of policy 0 exists)."""
        if self.policy.topic_policy == 0:
            await self._partitions_of(self.policy.topic or "")

    def topic(self, plan: ObjectPlan) -> str:
        """The topic of an object."""
        return topic_for(self.policy, database=self.database, schema=plan.schema or "", table=plan.name)

    async def _partitions_of(self, topic: str) -> int:
        if topic not in self._partitions:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.config.bootstrap_servers)
            await admin.start()
            try:
                if topic not in await admin.list_topics():
                    if self.policy.topic_policy == 0:
                        raise InvalidError(f"topic [{topic}] does not exist (topic_policy 0 needs an existing topic)")
                    await self._create(admin, topic)
            finally:
                await admin.close()
            self._partitions[topic] = len(await self.producer.partitions_for(topic))
        return self._partitions[topic]

    async def _create(self, admin: AIOKafkaAdminClient, topic: str) -> None:
        try:
            await admin.create_topics([NewTopic(topic, self.policy.partitions_num, self.policy.replication_factor)])
            log.info("destination.topic_created", topic=topic, partitions=self.policy.partitions_num)
        except TopicAlreadyExistsError:
            log.debug("destination.topic_raced", topic=topic)

    async def open_object(self, plan: ObjectPlan, *, options: WriteOptions, resume: Position | None) -> Position | None:
        """Make sure the topic exists; send the table definition to the DDL topic when asked. Records already
        sent stay sent: the object resumes after `resume` (at least once)."""
        await self._partitions_of(self.topic(plan))
        if self.policy.ddl_topic and plan.key not in self._ddl_sent:
            await self._send_ddl(plan)
        return resume

    async def _send_ddl(self, plan: ObjectPlan) -> None:
        topic = self.policy.ddl_topic or ""
        await self._partitions_of(topic)
        columns = ", ".join(f'"{o}" {c.type}' for c, o in zip(plan.columns, plan.output_columns, strict=True))
        key = ", ".join(f'"{k}"' for k in plan.output_key)
        sql = f'CREATE TABLE "{plan.schema or ""}"."{plan.name}" ({columns}{f", PRIMARY KEY ({key})" if key else ""})'
        message = {
            "database": self.database,
            "schema": plan.schema or "",
            "table": plan.name,
            "type": "CREATE",
            "isDdl": True,
            "sql": sql,
            "pkNames": list(plan.output_key),
            "data": [],
            "old": None,
            "ts": int(time.time() * 1000),
        }
        await self.producer.send_and_wait(topic, self._encode(message), key=plan.key.encode())
        self._ddl_sent.add(plan.key)

    def _encode(self, message: dict[str, Any]) -> bytes:
        if self.policy.kafka_data_format == "avro":
            return _avro(message)
        return json.dumps(message, default=str).encode()

    def write(self, plan: ObjectPlan, items: AsyncIterator[Item], *, encoding: Encoding) -> AsyncIterator[Committed]:
        """Send every record; a batch is acknowledged when all its records are."""
        return self._write(plan, items, encoding)

    async def _write(
        self, plan: ObjectPlan, items: AsyncIterator[Item], encoding: Encoding
    ) -> AsyncIterator[Committed]:
        topic = self.topic(plan)
        sender = _Sender(self.producer, topic)
        partitions = await self._partitions_of(topic)
        fixed = None if self.policy.partition_policy == 2 else self._partition(plan, b"", partitions)
        async for batch in batches(items):
            rows = size = 0
            async for piece in batch.pieces():
                records = piece.data if encoding is Encoding.RECORDS else self._row_records(plan, piece.data)
                for record in records:
                    key = record.key.encode()
                    value = self._value(record)
                    partition = fixed if fixed is not None else self._partition(plan, key, partitions)
                    await sender.add(partition, key, value)
                    size += len(value)
                rows += len(records)
            await sender.flush()
            yield Committed(position=batch.mark.position, rows=rows, bytes=size)

    def _value(self, record: Record) -> bytes:
        if self.policy.kafka_data_format == "avro":
            return _avro(json.loads(record.value))
        return record.value.encode()

    def _partition(self, plan: ObjectPlan, key: bytes, partitions: int) -> int:
        return partition_for(
            self.policy,
            key=key,
            database=self.database,
            schema=plan.schema or "",
            table=plan.name,
            partitions=partitions,
        )

    def _row_records(self, plan: ObjectPlan, rows: list[dict[str, Any]]) -> list[Record]:
        records = []
        for row in rows:
            data = {o: row.get(c.name) for c, o in zip(plan.columns, plan.output_columns, strict=True)}
            key = "_".join("" if data.get(k) is None else str(data[k]) for k in plan.output_key)
            message = self._message(plan, kind="INSERT", data=data, old=None)
            records.append(Record(key=key, value=json.dumps(message, default=str)))
        return records

    def _message(
        self, plan: ObjectPlan, *, kind: str, data: dict[str, Any], old: dict[str, Any] | None
    ) -> dict[str, Any]:
        return {
            "database": self.database,
            "schema": plan.schema or "",
            "table": plan.name,
            "type": kind,
            "isDdl": False,
            "pkNames": list(plan.output_key),
            "data": [data],
            "old": None if old is None else [old],
            "ts": int(time.time() * 1000),
        }

    async def close_object(self, plan: ObjectPlan) -> ObjectOutcome:
        """Every record was acknowledged with its batch."""
        return ObjectOutcome()

    async def abort_object(self, plan: ObjectPlan) -> None:
        """Sent records cannot be taken back."""

    # change streams ---------------------------------------------------------------------------------------------

    def apply_changes(
        self, plans: Sequence[ObjectPlan], items: AsyncIterator[Item], *, options: WriteOptions
    ) -> AsyncIterator[Committed]:
        """Send one INSERT / UPDATE / DELETE message per change."""
        return self._apply_changes(plans, items)

    async def _apply_changes(self, plans: Sequence[ObjectPlan], items: AsyncIterator[Item]) -> AsyncIterator[Committed]:
        messages = {(p.schema or "public", p.name): ChangeMessages(p) for p in plans}
        senders: dict[str, _Sender] = {}
        for plan in plans:
            await self.open_object(plan, options=WriteOptions(mode=Mode.REPLICATE), resume=None)
        async for batch in batches(items):
            counts: dict[str, list[int]] = {}
            size = 0
            async for piece in batch.pieces():
                for change in piece.data:
                    shaper = messages.get((change.schema, change.table))
                    if shaper is None:
                        continue
                    shaped = shaper.shape(change)
                    if shaped is None:
                        continue
                    kind, data, old = shaped
                    plan = shaper.plan
                    if kind == "TRUNCATE":
                        key, value = plan.key.encode(), self._encode(self._truncate_message(plan))
                    else:
                        key = "_".join("" if data.get(k) is None else str(data[k]) for k in plan.output_key).encode()
                        value = self._encode(self._message(plan, kind=kind, data=data, old=old))
                    topic = self.topic(plan)
                    sender = senders.setdefault(topic, _Sender(self.producer, topic))
                    partitions = await self._partitions_of(topic)
                    await sender.add(self._partition(plan, key, partitions), key, value)
                    size += len(value)
                    tally = counts.setdefault(plan.key, [0, 0])
                    tally[1 if kind == "DELETE" else 0] += 1
            for sender in senders.values():
                await sender.flush()
            objects = {k: (v[0], v[1]) for k, v in counts.items()}
            yield Committed(
                position=batch.mark.position,
                rows=sum(v[0] for v in objects.values()),
                bytes=size,
                deleted=sum(v[1] for v in objects.values()),
                objects=objects,
            )

    def _truncate_message(self, plan: ObjectPlan) -> dict[str, Any]:
        """A TRUNCATE at the source: a DDL message on the object's topic (its consumers must drop what they hold)."""
        table = f'"{plan.schema or ""}"."{plan.name}"'
        return self._message(plan, kind="TRUNCATE", data={}, old=None) | {
            "isDdl": True,
            "sql": f"TRUNCATE TABLE {table}",
            "data": [],
        }


class ChangeMessages:
    """Shapes one object's changes into DRS messages: values typed as a snapshot's JSON types them (numbers,
    booleans, JSON documents; text otherwise), destination names, row filters applied."""

    KINDS: ClassVar[dict[str, str]] = {"I": "INSERT", "U": "UPDATE", "D": "DELETE", "T": "TRUNCATE"}

    def __init__(self, plan: ObjectPlan) -> None:
        self.plan = plan
        self.filters = judged_filters(plan)
        self.fields = {c.name: (o, _typing(c.type)) for c, o in zip(plan.columns, plan.output_columns, strict=True)}

    def typed(self, row: dict[str, str | None] | None) -> dict[str, Any] | None:
        """A row of text values as typed values by destination name (fields outside the plan left out)."""
        if row is None:
            return None
        fields = self.fields
        return {fields[k][0]: None if v is None else fields[k][1](v) for k, v in row.items() if k in fields}

    def shape(self, change: Change) -> tuple[str, dict[str, Any], dict[str, Any] | None] | None:
        """The message kind, data and old row of a change; None when the filters keep it out."""
        kind = self.KINDS[change.op]
        if kind == "TRUNCATE":
            return kind, {}, None
        old = self.typed(change.old) or None
        new = self.typed(change.new) or {}
        if old is not None and len(old) > len(new):  # unchanged TOAST values: the whole old row knows them
            new = old | new
        if kind != "DELETE" and self.filters:
            judged = kind_under_filters(self.filters, self.by_source(change.new), kind)
            if judged is None:
                return None
            kind = judged
        data = old if kind == "DELETE" and old is not None else new
        return kind, data, old if kind == "UPDATE" else None

    def by_source(self, row: dict[str, str | None] | None) -> dict[str, Any]:
        """A row of text values as typed values by source name (what filters name)."""
        fields = self.fields
        return {k: None if v is None else fields[k][1](v) for k, v in (row or {}).items() if k in fields}


def _typing(type_: str) -> Any:
    """How a text value of `type_` becomes its JSON value."""
    if type_ in ("bigint", "integer", "smallint"):
        return int
    if type_ == "boolean":
        return lambda v: v == "t"
    if type_ in ("json", "jsonb"):
        return json.loads
    if type_ in ("double precision", "real"):
        return lambda v: float(v) if v not in ("NaN", "Infinity", "-Infinity") else v
    if type_.startswith("numeric"):
        return Decimal
    return str


def judged_filters(plan: ObjectPlan) -> tuple[Filter, ...]:
    """The object's filters a change line can be judged on: those of fields not obfuscated (hashed at the source,
    their clear values never reach here)."""
    hidden = {c.name for c in plan.columns if c.obfuscated}
    return tuple(f for f in plan.filters if f.field not in hidden)


def kind_under_filters(filters: tuple[Filter, ...], row: dict[str, Any], kind: str) -> str | None:
    """The message a change becomes under `filters` (judged on its new row, by source field name): a row outside
    them is not sent, an update that leaves them is a DELETE."""
    if kind == "DELETE" or not filters:
        return kind
    if matches(row, filters):
        return kind
    return "DELETE" if kind == "UPDATE" else None
