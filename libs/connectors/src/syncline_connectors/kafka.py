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

import asyncio
import io
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

import fastavro
import structlog
from aiokafka.partitioner import murmur2
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

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
from syncline_platform.network import NetworkPolicy

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


DEFAULT_KAFKA_PORT = 9092
SECURITY_PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL")


@dataclass(frozen=True)
class KafkaConfig:
    """How to reach the destination cluster."""

    bootstrap_servers: str
    client_id: str = "syncline-executor"
    security_protocol: str = "PLAINTEXT"
    """`PLAINTEXT`, `SASL_PLAINTEXT`, `SASL_SSL` or `SSL`."""
    sasl_mechanism: str = "SCRAM-SHA-512"
    """`SCRAM-SHA-512`, `SCRAM-SHA-256` or `PLAIN` (with a SASL protocol)."""
    sasl_username: str | None = None
    """The tenant's principal on its cluster."""
    sasl_password: str | None = field(default=None, repr=False)
    """Its password (sealed at rest like every connection secret)."""
    timeout_s: float = 15.0
    """How long opening waits for the cluster to answer."""
    network: NetworkPolicy | None = field(default=None, compare=False, repr=False)
    """The addresses a tenant's bootstrap servers may resolve to, checked before the client opens (`registry`
    sets it). The brokers the cluster then advertises are its own to name."""

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> "KafkaConfig":
        """From configuration values."""
        if not values.get("bootstrap_servers"):
            raise InvalidError("a Kafka endpoint needs bootstrap_servers")
        protocol = str(values.get("security_protocol") or ("SASL_SSL" if values.get("sasl_username") else "PLAINTEXT"))
        if protocol not in SECURITY_PROTOCOLS:
            raise InvalidError(f"security_protocol must be one of {', '.join(SECURITY_PROTOCOLS)}")
        if protocol.startswith("SASL_") and not values.get("sasl_username"):
            raise InvalidError(f"security_protocol {protocol} needs sasl_username and sasl_password")
        return cls(
            bootstrap_servers=str(values["bootstrap_servers"]),
            security_protocol=protocol,
            sasl_mechanism=str(values.get("sasl_mechanism") or "SCRAM-SHA-512"),
            sasl_username=str(values["sasl_username"]) if values.get("sasl_username") else None,
            sasl_password=str(values.get("sasl_password") or ""),
        )

    def client(self) -> dict[str, Any]:
        """librdkafka options reaching the cluster as this configuration says."""
        options: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": self.client_id,
            "security.protocol": self.security_protocol,
        }
        if self.security_protocol.startswith("SASL_"):
            options |= {
                "sasl.mechanisms": self.sasl_mechanism,
                "sasl.username": self.sasl_username or "",
                "sasl.password": self.sasl_password or "",
            }
        return options

    def servers(self) -> list[tuple[str, int]]:
        """The bootstrap servers' hosts and ports (`host:port`, `[v6]:port`, `PLAINTEXT://host:port`)."""
        found = []
        for server in self.bootstrap_servers.split(","):
            parts = urlsplit("//" + server.strip().rpartition("://")[2])
            try:
                port = parts.port or DEFAULT_KAFKA_PORT
            except ValueError:
                port = DEFAULT_KAFKA_PORT
            if parts.hostname:
                found.append((parts.hostname, port))
        return found

    async def refuse_unreachable(self) -> None:
        """Raise `AddressRefusedError` when a bootstrap server is where tenants' connections may not go."""
        if self.network is not None:
            for host, port in self.servers():
                await self.network.refuse(host, port)


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
    """Sends one topic's records through librdkafka's producer, which batches them per partition, compresses and
    retries in its own threads; `flush` waits until every record sent so far is acknowledged.

    The producer reports failed deliveries only (`delivery.report.only.error`), to `failed`, which raises from
    the `poll` that serves the report: a failure surfaces in `add` or `flush`, so its batch is never acknowledged.
    """

    BY_KEY = -1
    """The partition of a record whose key librdkafka hashes: its `murmur2` partitioner is Kafka's own (what
    `partition_for` computes for policy 2), in C."""
    WAIT_S = 0.002
    """Between looks at librdkafka's queue while it is full or draining."""

    def __init__(self, producer: Producer, topic: str) -> None:
        self.producer = producer
        self.topic = topic

    @staticmethod
    def failed(error: KafkaError | None, message: Message) -> None:
        """The producer's delivery report, for failed records only."""
        if error is not None:
            raise _Sender.error(message.topic(), error)

    @staticmethod
    def error(topic: str | None, error: KafkaError) -> InvalidError | UnavailableError:
        """Ours for a record refused or not delivered: too large is for good; the rest (timed out, no leader, a
        fatal producer) may pass with a retry."""
        if error.code() == KafkaError.MSG_SIZE_TOO_LARGE:
            return InvalidError(f"a record is over the message size of Kafka topic [{topic}]")
        return UnavailableError(dependency=f"kafka topic {topic}", detail=error.str())

    async def add(self, partition: int, key: bytes | str, value: bytes) -> None:
        """Queue a record for `partition` (or `BY_KEY`), waiting while librdkafka's queue is full."""
        while True:
            try:
                self.producer.produce(self.topic, value, key, partition)
            except BufferError:
                self.producer.poll(0)
                await asyncio.sleep(self.WAIT_S)
            except KafkaException as exc:
                raise self.error(self.topic, exc.args[0]) from exc
            else:
                return

    async def add_all(self, partition: int, records: Iterable[tuple[bytes | str, bytes]]) -> None:
        """Queue `(key, value)` records for `partition` (or `BY_KEY`): `add` without a coroutine per record."""
        produce, topic = self.producer.produce, self.topic
        for key, value in records:
            try:
                produce(topic, value, key, partition)
            except (BufferError, KafkaException):  # a full queue, or a refusal that `add` translates
                await self.add(partition, key, value)
        self.producer.poll(0)

    async def flush(self) -> None:
        """Wait until every record added so far is acknowledged (acks=all); raises on a failed delivery.

        librdkafka's `flush` sends what lingers at once and serves the reports; it blocks, so it runs in a thread
        (in slices, so that a cancelled run does not leave it waiting long)."""
        while await asyncio.to_thread(self.producer.flush, 1):
            pass


class KafkaDestination:
    """Writes records to topics under DRS policies. Use as an async context manager."""

    accepts = (Encoding.RECORDS, Encoding.ROWS)
    shape = RecordShape.MESSAGE

    def __init__(self, config: KafkaConfig, *, policy: KafkaPolicy, database: str) -> None:
        self.config = config
        self.policy = policy
        self.database = database
        self._producer: Producer | None = None
        self._partitions: dict[str, int] = {}
        self._ddl_sent: set[str] = set()

    async def __aenter__(self) -> Self:
        await self.config.refuse_unreachable()
        producer = Producer(
            self.config.client()
            | {
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 20,  # `flush` sends what lingers at once: only full batches wait for more
                "batch.size": 1 << 20,
                "message.max.bytes": 4 << 20,
                "compression.type": "none",
                "queue.buffering.max.messages": 100_000,
                "queue.buffering.max.kbytes": 64 << 10,  # bounds memory: `add` waits while the queue is full
                "partitioner": "murmur2",
                "allow.auto.create.topics": False,  # a missing topic of policy 0 is an error, never created
                "delivery.report.only.error": True,
                "on_delivery": _Sender.failed,
                "logger": logging.getLogger("librdkafka"),
            }
        )
        try:
            await asyncio.to_thread(producer.cluster_id, self.config.timeout_s)  # the cluster answers
        except KafkaException as exc:
            raise UnavailableError(dependency=f"kafka {self.config.bootstrap_servers}", detail=str(exc)) from exc
        self._producer = producer
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        producer, self._producer = self._producer, None
        if producer is None:
            return
        if exc is not None:
            producer.purge()  # not acknowledged: a retry sends it again (at least once)
        try:
            await asyncio.to_thread(producer.close)  # every write flushed: nothing is left to wait for
        except UnavailableError:  # the purged records' reports
            if exc is None:
                raise

    @property
    def producer(self) -> Producer:
        """The open producer."""
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
        """The partition count of `topic`, created first under topic policies 1-3."""
        created = False
        for _ in range(100):  # a topic just created reaches the metadata a moment later
            if topic in self._partitions:
                return self._partitions[topic]
            try:
                metadata = await asyncio.to_thread(self.producer.list_topics, topic, 15)
            except KafkaException as exc:
                raise UnavailableError(dependency=f"kafka {self.config.bootstrap_servers}", detail=str(exc)) from exc
            found = metadata.topics.get(topic)
            code = None if found is None or found.error is None else found.error.code()
            if found is not None and code is None and found.partitions:
                self._partitions[topic] = len(found.partitions)
            elif (found is None or code == KafkaError.UNKNOWN_TOPIC_OR_PART) and not created:
                if self.policy.topic_policy == 0:
                    raise InvalidError(f"topic [{topic}] does not exist (topic_policy 0 needs an existing topic)")
                await self._create(topic)
                created = True
            else:
                await asyncio.sleep(0.1)
        raise UnavailableError(dependency=f"kafka topic {topic}", detail="its partitions are not known")

    async def _create(self, topic: str) -> None:
        def create() -> None:
            admin = AdminClient(self.config.client())
            new = NewTopic(topic, self.policy.partitions_num, self.policy.replication_factor)
            admin.create_topics([new], operation_timeout=15)[topic].result()

        try:
            await asyncio.to_thread(create)
            log.info("destination.topic_created", topic=topic, partitions=self.policy.partitions_num)
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                log.debug("destination.topic_raced", topic=topic)
            elif error.retriable():
                raise UnavailableError(dependency=f"kafka {self.config.bootstrap_servers}", detail=error.str()) from exc
            else:
                raise InvalidError(f"topic [{topic}] cannot be created: {error.str()}") from exc

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
        sender = _Sender(self.producer, topic)
        await sender.add(_Sender.BY_KEY, plan.key.encode(), self._encode(message))
        await sender.flush()
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
        # policy 2 hashes every key: librdkafka does it in C (`partition_for` takes ~3 µs a key in Python)
        partition = _Sender.BY_KEY if self.policy.partition_policy == 2 else self._partition(plan, b"", partitions)
        avro = self.policy.kafka_data_format == "avro"
        async for batch in batches(items):
            rows = size = 0
            async for piece in batch.pieces():
                records = piece.data if encoding is Encoding.RECORDS else self._row_records(plan, piece.data)
                values = [self._value(r) for r in records] if avro else [r.value.encode() for r in records]
                await sender.add_all(partition, zip([r.key for r in records], values, strict=True))
                size += sum(map(len, values))
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
                    if self.policy.partition_policy == 2:  # librdkafka hashes the key (Kafka's murmur2, in C)
                        await sender.add(_Sender.BY_KEY, key, value)
                    else:
                        await sender.add(self._partition(plan, key, await self._partitions_of(topic)), key, value)
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
