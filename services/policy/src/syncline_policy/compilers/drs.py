"""Huawei DRS's compiler: a DRS job and its sync policy → the data plane's `SyncSpec`, kept in `policy.sync_specs`
when the job starts (or its policy changes), so the scheduler can snapshot it for the job's run.

- `task_type`: `FULL_TRANS` is a snapshot; `FULL_INCR_TRANS` a replicating run that snapshots, then follows the
  change stream until paused or terminated; `INCR_TRANS` the same without the snapshot (changes from the start).
- Endpoints: read as connections by `drs_checks.connection_of` (PostgreSQL's `ip`, `db_port`, `db_user`, `db_name`,
  `ssl_link`; a Kafka target's brokers in `ip`, its `kafka_security_config` and SASL user) and made the spec's
  `Endpoint` by `connection_types.endpoint_of`, so a job runs against the endpoint its checks tested; the password
  (PostgreSQL's, or a Kafka target's SASL one) stays sealed. Selected tables keep their schema and name (or their
  `object_alias_name`) at a PostgreSQL target.
- Policy: `conflict_policy` → the destination's conflict policy; `ddl_trans` → new columns follow at the target
  (and table definitions go to `ddl_topic` for Kafka); `slot_name` → the replication slot; the Kafka fields →
  `KafkaPolicy`; `index_trans` → a PostgreSQL target's tables get the source's secondary indexes
  (`SyncSpec.copy_indexes`). Fields with no meaning here (`filter_ddl_policy`: the change stream carries no DROP
  DATABASE; `is_fill_materialized_view`, `export_snapshot`, `file_and_position`, `gtid_set`) are stored and answered
  only.
"""

from typing import Any

from syncline_connectors.connection_types import endpoint_of
from syncline_connectors.spec import (
    ConflictPolicy,
    Discover,
    Endpoint,
    KafkaPolicy,
    Mode,
    NormalizeNames,
    ObjectSpec,
    SyncSpec,
)
from syncline_contracts.status import JobType
from syncline_platform.db import Conn
from syncline_policy.compilers import Compiled, store
from syncline_policy.drs_checks import connection_of, secret_key

DIALECT = "drs"


def _endpoint(endpoint: dict[str, Any], sealed: str | None, *, extra: dict[str, Any] | None = None) -> Endpoint:
    """A DRS endpoint as one side of the spec: the connection its checks test, its sealed password kept sealed."""
    kind, values = connection_of(endpoint)
    made = endpoint_of(kind, values, extra=extra)
    key = secret_key(kind, values)
    if key is None or not sealed:
        return made
    return Endpoint(type=made.type, config=made.config, sealed_secrets={key: sealed})


def kafka_policy(policy: dict[str, Any]) -> KafkaPolicy:
    """The Kafka half of a sync policy (validated by `drs_rules.check_policy` first)."""
    ddl_topic = policy.get("ddl_topic") if policy.get("ddl_trans") else None
    return KafkaPolicy(
        topic_policy=int(policy.get("topic_policy") or 0),  # type: ignore[arg-type]
        topic=policy.get("topic"),
        topic_name_format=policy.get("topic_name_format"),
        partition_policy=int(policy.get("partition_policy") or 0),  # type: ignore[arg-type]
        kafka_data_format=policy.get("kafka_data_format") or "json",
        partitions_num=int(policy.get("partitions_num") or 1),
        replication_factor=int(policy.get("replication_factor") or 1),
        ddl_topic=ddl_topic,
    )


def _objects(job: dict[str, Any]) -> tuple[ObjectSpec, ...]:
    tables = (job.get("objects") or {}).get("tables") or []
    return tuple(
        ObjectSpec(name=t["table"], schema_name=t["schema"], output_name=t.get("alias") or t["table"]) for t in tables
    )


def compile_job(job: dict[str, Any]) -> SyncSpec:
    """The spec of a job row (`policy.drs_jobs`)."""
    policy = job.get("policy") or {}
    sealed = job.get("sealed_secrets") or {}
    task_type = job["definition"].get("task_type") or "FULL_INCR_TRANS"
    objects = _objects(job)
    slot = {"replication_slot": policy["slot_name"]} if policy.get("slot_name") else {}
    source = _endpoint(job["source_endpoint"], sealed.get("source"), extra=slot)
    target = job["target_endpoint"]
    kafka = None
    if target.get("db_type") == "kafka":
        destination = _endpoint(target, sealed.get("target"))
        kafka = kafka_policy(policy)
    else:
        schema = objects[0].schema_name if objects else "public"
        destination = _endpoint(target, sealed.get("target"), extra={"schema": schema})
    return SyncSpec(
        sync_id=job["id"],
        source=source,
        destination=destination,
        objects=objects,
        mode=Mode.SNAPSHOT if task_type == "FULL_TRANS" else Mode.REPLICATE,
        new_fields=Discover.NONE if policy.get("ddl_trans") is False else Discover.ALL,
        normalize_names=NormalizeNames.DISABLED,
        conflict_policy=ConflictPolicy(policy.get("conflict_policy") or "overwrite"),
        kafka=kafka,
        initial_load=task_type != "INCR_TRANS",
        follow=task_type != "FULL_TRANS",
        copy_indexes=bool(policy.get("index_trans")) and kafka is None,
    )


async def store_spec(conn: Conn, *, org_id: str, job: dict[str, Any]) -> None:
    """Compile the job and keep it for its next run (full jobs: a DRS job's runs are all of one kind)."""
    definition = {"id": job["id"], "name": job["name"], "dialect": DIALECT, "project_id": job["project_id"]}
    compiled = Compiled(dialect=DIALECT, definition=definition, specs={JobType.FULL.value: compile_job(job)})
    await store(conn, org_id=org_id, sync_id=job["id"], compiled=compiled)
