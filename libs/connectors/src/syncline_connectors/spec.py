"""What a run moves: the one internal description every dialect compiles to and the executor runs.

A `SyncSpec` names a source and a destination endpoint (connection type plus configuration, secrets still
sealed), the objects to move (tables or folders, with fields, filters, tracking field and primary key), the
write mode and the policies that shape the destination (name normalisation, discovery of new objects and fields,
conflicts, file format, Kafka topics and partitions). It holds no clear secrets: the executor opens them.

Policy compiles every dialect's definition into specs (one per job type); the scheduler keeps the one of a run's
job type in the run (`run_snapshot`), and the executor runs what the run carries (`run_spec`), whatever the dialect.
"""

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from syncline_platform.errors import InvalidError


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class SourceType(StrEnum):
    """Connection types Syncline reads from."""

    POSTGRESQL = "postgresql"
    FILES = "files"
    KAFKA = "kafka"


class DestinationType(StrEnum):
    """Connection types Syncline writes to."""

    POSTGRESQL = "postgresql"
    FILES = "files"
    KAFKA = "kafka"
    DOCSTORE = "docstore"


class Mode(StrEnum):
    """How the destination follows the source."""

    SNAPSHOT = "snapshot"
    """Replace each destination object with a full copy, swapped in atomically at the end."""
    REPLICATE = "replicate"
    """Keep the destination in step: upsert by primary key and apply deletes (change capture where the source
    has it, else a full comparison)."""
    INCREMENTAL = "incremental"
    """Upsert the rows whose tracking field moved past the last run's position; nothing is deleted."""
    FULL_WITH_DELETES = "full_with_deletes"
    """Upsert every row and delete what the source no longer has (Elastic's full sync)."""


class Discover(StrEnum):
    """Whether newly discovered objects or fields join the sync."""

    NONE = "none"
    ALL = "all"


class NormalizeNames(StrEnum):
    """How destination identifiers are derived from source names."""

    ENABLED = "enabled"
    """Lower case; anything but letters, digits and `_` becomes `_`; runs of `_` collapse."""
    DISABLED = "disabled"
    """Source names as they are."""
    LEGACY = "legacy"
    """Lower case with spaces turned into `_`."""


class ConflictPolicy(StrEnum):
    """DRS `conflict_policy`: what a write does when the destination already has the row's key."""

    IGNORE = "ignore"
    OVERWRITE = "overwrite"
    STOP = "stop"


class FileFormat(StrEnum):
    """File formats of the files connectors."""

    JSONL = "jsonl"
    CSV = "csv"
    PARQUET = "parquet"


class Endpoint(_Frozen):
    """One side of a sync: its connection type, configuration and sealed secrets."""

    type: str
    """Connection type (`SourceType` or `DestinationType` value)."""
    config: dict[str, Any] = Field(default_factory=dict)
    """Connection configuration in clear (host, port, path, bootstrap servers, …)."""
    sealed_secrets: dict[str, str] = Field(default_factory=dict)
    """Secret configuration values, sealed; opened by the executor only."""


class Filter(_Frozen):
    """One row filter on a source field."""

    field: str
    """Source field."""
    op: Literal["=", "!=", "<", "<=", ">", ">=", "in", "is_null", "not_null"]
    """Comparison."""
    value: Any = None
    """Operand (a list for `in`; ignored for the null checks)."""


class ObjectSpec(_Frozen):
    """One selected object (table or folder) and how it moves."""

    name: str
    """Table name, or folder relative to the source root (`.` for the root itself)."""
    schema_name: str | None = None
    """Source schema (PostgreSQL); the source's default schema when absent."""
    fields: tuple[str, ...] | None = None
    """Selected fields; every field when absent."""
    filters: tuple[Filter, ...] = ()
    """Row filters, all of which must hold."""
    tracking_field: str | None = None
    """Cursor field for incremental reads (rows with `(cursor, key) > last position` move)."""
    primary_key: tuple[str, ...] | None = None
    """Key fields; the source's primary key when absent."""
    output_name: str | None = None
    """Destination object name; the (normalised) source name when absent."""
    obfuscated: tuple[str, ...] = ()
    """Fields whose values are replaced by a one-way hash (hex SHA-256 of the value's text) before they leave the
    source; NULL stays NULL."""


class KafkaPolicy(_Frozen):
    """DRS Kafka policies (`topic_policy`, `partition_policy`, formats, topic creation)."""

    topic_policy: Literal[0, 1, 2, 3] = 0
    """0 one topic; 1 one per database-schema-table; 2 one per database; 3 one per database-schema."""
    topic: str | None = None
    """The single topic of policy 0."""
    topic_name_format: str | None = None
    """Template for policies 1-3 with `$database$`, `$schema$`, `$tablename$`."""
    partition_policy: Literal[0, 1, 2, 3] = 0
    """0 hash of db.schema.table; 1 partition 0; 2 hash of the primary key; 3 hash of db.schema."""
    kafka_data_format: Literal["json", "avro"] = "json"
    """Message encoding."""
    partitions_num: int = Field(default=1, ge=1)
    """Partitions of topics Syncline creates."""
    replication_factor: int = Field(default=1, ge=1)
    """Replication factor of topics Syncline creates."""
    ddl_topic: str | None = None
    """Where table definitions go (DRS `ddl_trans`), when set."""

    @model_validator(mode="after")
    def _topic_for_policy_zero(self) -> "KafkaPolicy":
        if self.topic_policy == 0 and not self.topic:
            raise ValueError("topic_policy 0 needs a topic")
        return self


class RecordTimestamps(_Frozen):
    """The two columns a destination table gets when a sync records timestamps: when a row first landed and when a
    run last wrote it. Their names are the dialect's (its compiler chooses them); the connectors only write them."""

    created: str = Field(min_length=1, max_length=63)
    updated: str = Field(min_length=1, max_length=63)

    @property
    def columns(self) -> tuple[str, str]:
        return (self.created, self.updated)

    @model_validator(mode="after")
    def _distinct(self) -> "RecordTimestamps":
        if self.created == self.updated:
            raise InvalidError("the created and updated timestamp columns must differ")
        return self


LEGACY_RECORD_TIMESTAMPS = RecordTimestamps(created="_polytomic_created_at", updated="_polytomic_updated_at")
"""What a spec stored before the columns were named in it meant by `record_timestamps: true` (the Polytomic
compiler's names: it was the only one to set it)."""


class SyncSpec(_Frozen):
    """Everything a run needs to move data; built by a dialect adapter, run by the executor."""

    sync_id: str
    """The sync (connector) the run belongs to; keys state that outlives runs (cursors, replication slots)."""
    source: Endpoint
    """Where rows come from."""
    destination: Endpoint
    """Where rows go."""
    objects: tuple[ObjectSpec, ...] = ()
    """Selected objects; with `new_objects=all`, discovered objects not listed here join with every field."""
    mode: Mode = Mode.SNAPSHOT
    """How the destination follows the source."""
    new_objects: Discover = Discover.NONE
    """Whether objects the source gained since the sync was configured join it."""
    new_fields: Discover = Discover.ALL
    """Whether fields the source gained join existing destination objects."""
    normalize_names: NormalizeNames = NormalizeNames.ENABLED
    """Destination identifier rules."""
    conflict_policy: ConflictPolicy = ConflictPolicy.OVERWRITE
    """What an insert meeting an existing key does."""
    file_format: FileFormat = FileFormat.JSONL
    """Format of a files destination."""
    kafka: KafkaPolicy | None = None
    """Policies of a Kafka destination."""
    record_timestamps: RecordTimestamps | None = None
    """Destination tables get a created-at and an updated-at column, named by the dialect: when a row first landed
    and when a run last wrote it."""
    concurrency: int = Field(default=1, ge=1, le=16)
    """Objects moved at the same time, each mover with its own source and destination connections."""
    resync_concurrency: int | None = Field(default=None, ge=1, le=16)
    """The same for runs that read everything again; `concurrency` when absent."""
    isolate_failures: bool = False
    """A failing object does not stop the others: the run completes with errors unless
    every object failed. Off, the first failure fails the run (Elastic's sync jobs)."""
    initial_load: bool = True
    """A replicating sync first snapshots each object, then applies its changes. Off, it starts from "now": the
    stream opens and only changes committed after that arrive (DRS `INCR_TRANS`)."""
    follow: bool = False
    """A replicating run does not end at the end of the log: after any snapshot it keeps applying changes as they
    commit until it is stopped (DRS's incremental phase, one run from start to pause or terminate)."""
    copy_indexes: bool = False
    """A PostgreSQL destination's tables also get the source tables' secondary indexes (DRS `index_trans`), not
    only the primary key: each named after its table, non-unique, and left out when it reads a column the sync
    does not copy as it is (`postgres_dest`)."""

    @field_validator("record_timestamps", mode="before")
    @classmethod
    def _legacy_record_timestamps(cls, value: Any) -> Any:
        if value is True:
            return LEGACY_RECORD_TIMESTAMPS
        return None if value is False else value

    @property
    def source_type(self) -> SourceType:
        """The source's connection type."""
        return SourceType(self.source.type)

    @property
    def destination_type(self) -> DestinationType:
        """The destination's connection type."""
        return DestinationType(self.destination.type)


def run_snapshot(compiled: dict[str, Any], *, job_type: str) -> dict[str, Any]:
    """What a new run keeps of its sync's compiled form (`policy.sync_specs`: `definition`, `specs` by job type,
    `error`), whatever the dialect: what the dialect shows of the definition, plus `spec`, the spec of the run's job
    type, or `spec_error`, why there is none. Neither when Syncline has no connector for the sync (an external
    worker runs it)."""
    snapshot = dict(compiled["definition"])
    specs = compiled.get("specs") or {}
    key = str(job_type)  # a JobType or its value
    if key in specs:
        snapshot["spec"] = specs[key]
    elif compiled.get("error") or specs:
        snapshot["spec_error"] = compiled.get("error") or f"the sync does not run {key} jobs"
    return snapshot


def run_spec(snapshot: dict[str, Any]) -> SyncSpec:
    """The spec a run snapshot carries (`run_snapshot`); the reason there is none as an `InvalidError`."""
    spec = snapshot.get("spec")
    if spec is None:
        raise InvalidError(snapshot.get("spec_error") or "the run carries no compiled spec")
    return SyncSpec.model_validate(spec)
