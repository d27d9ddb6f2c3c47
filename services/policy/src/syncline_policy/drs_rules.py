"""DRS's rules over one batch item, without I/O: which engines run here, what a sync policy may hold, and the
error each broken rule answers (`DrsItemError`: DRS's `error_code` and `error_msg`)."""

from typing import Any

from syncline_platform.errors import InvalidError

EMPTY = "DRS.M00201"
"""A required parameter is missing."""
INVALID = "DRS.M00202"
"""A parameter's value is invalid."""
FAILED = "DRS.10000001"
"""The operation failed (a connection test that could not connect, a check that failed)."""
NO_JOB = "DRS.10000010"
"""The job does not exist."""
WRONG_STATE = "DRS.10000011"
"""The job's status does not allow the operation."""

TASK_TYPES = ("FULL_TRANS", "FULL_INCR_TRANS", "INCR_TRANS")
SOURCE_TYPES = ("postgresql",)
TARGET_TYPES = ("postgresql", "kafka")
ENGINES = ("postgresql",)
"""`engine_type`s that run here: PostgreSQL to PostgreSQL, or to Kafka with the target's `db_type` `kafka`."""
DB_USE_TYPES = ("sync", "migration")

PARTITIONS_BY_TOPIC_POLICY: dict[str, frozenset[str]] = {
    "0": frozenset({"0", "1", "2", "3"}),
    "1": frozenset({"0", "1", "2"}),
    "2": frozenset({"0", "1", "2", "3"}),
    "3": frozenset({"0", "1"}),
}
"""Allowed `partition_policy` per `topic_policy` (huaweicloudsdkdrs 3.1.219, without the undefined `4` and `5`)."""

DEFAULT_TOPIC_FORMATS = {"1": "$database$-$schema$-$tablename$", "2": "$database$", "3": "$database$-$schema$"}
TOPIC_VARIABLES = ("$database$", "$schema$", "$tablename$")
KAFKA_FIELDS = (
    "topic_policy",
    "topic",
    "partition_policy",
    "kafka_data_format",
    "topic_name_format",
    "partitions_num",
    "replication_factor",
    "ddl_topic",
)


class DrsItemError(InvalidError):
    """One item broke a rule: it fails with DRS's `code` and `message`; the batch's other items go on."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


def empty(name: str) -> DrsItemError:
    """A missing parameter."""
    return DrsItemError(EMPTY, f"{name} parameter is empty.")


def invalid(name: str, why: str = "") -> DrsItemError:
    """An invalid parameter value."""
    return DrsItemError(INVALID, f"The value of {name} is invalid.{' ' + why if why else ''}")


def wrong_state(status: str, action: str) -> DrsItemError:
    """An action the job's status does not allow."""
    return DrsItemError(WRONG_STATE, f"The job status [{status}] does not allow the operation [{action}].")


def check_engine(
    *, engine_type: str | None, db_use_type: str | None, source: dict[str, Any], target: dict[str, Any]
) -> None:
    """The job's engine runs here: PostgreSQL source, PostgreSQL or Kafka target."""
    if engine_type not in ENGINES:
        raise invalid("engine_type", f"Engines here: {', '.join(ENGINES)} (to Kafka: target db_type kafka).")
    if db_use_type not in DB_USE_TYPES:
        raise invalid("db_use_type", f"Expected one of {', '.join(DB_USE_TYPES)}.")
    if (source.get("db_type") or "postgresql") not in SOURCE_TYPES:
        raise invalid("source_endpoint.db_type", "Sources here: postgresql.")
    if (target.get("db_type") or "postgresql") not in TARGET_TYPES:
        raise invalid("target_endpoint.db_type", f"Targets here: {', '.join(TARGET_TYPES)}.")


def check_task_type(task_type: str | None) -> None:
    """`task_type` is one DRS knows."""
    if task_type is not None and task_type not in TASK_TYPES:
        raise invalid("task_type", f"Expected one of {', '.join(TASK_TYPES)}.")


def _positive(policy: dict[str, Any], name: str, *, most: int) -> None:
    value = policy.get(name)
    if value is None:
        return
    text = str(value)
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise invalid(name, f"Expected 1-{most}.")


def _check_topic_format(policy: dict[str, Any], topic_policy: str) -> None:
    template = policy.get("topic_name_format")
    if template is None:
        return
    if not template.strip():
        raise invalid("topic_name_format")
    stripped = template
    for variable in TOPIC_VARIABLES:
        stripped = stripped.replace(variable, "")
    if "$" in stripped:
        raise invalid("topic_name_format", f"Variables: {', '.join(TOPIC_VARIABLES)}.")
    if topic_policy == "2" and ("$schema$" in template or "$tablename$" in template):
        raise invalid("topic_name_format", "topic_policy 2 (one topic per database) takes only $database$.")
    if topic_policy == "3" and "$tablename$" in template:
        raise invalid("topic_name_format", "topic_policy 3 (one topic per schema) takes $database$ and $schema$.")


def check_kafka_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """A Kafka target's policy, checked, with DRS's defaults filled in."""
    topic_policy = policy.get("topic_policy")
    if topic_policy is None:
        raise empty("topic_policy")
    if topic_policy not in PARTITIONS_BY_TOPIC_POLICY:
        raise invalid("topic_policy", "Expected 0, 1, 2 or 3.")
    partition_policy = policy.get("partition_policy")
    if partition_policy is None:
        raise empty("partition_policy")
    if partition_policy not in PARTITIONS_BY_TOPIC_POLICY[topic_policy]:
        allowed = ", ".join(sorted(PARTITIONS_BY_TOPIC_POLICY[topic_policy]))
        raise invalid("partition_policy", f"With topic_policy {topic_policy}: {allowed}.")
    if topic_policy == "0" and not policy.get("topic"):
        raise empty("topic")
    if policy.get("kafka_data_format", "json") not in ("json", "avro"):
        raise invalid("kafka_data_format", "PostgreSQL to Kafka: json or avro.")
    _check_topic_format(policy, topic_policy)
    _positive(policy, "partitions_num", most=2147483647)
    _positive(policy, "replication_factor", most=32767)
    if policy.get("ddl_trans") and policy.get("ddl_topic") == "":
        raise invalid("ddl_topic")
    filled = dict(policy)
    if topic_policy != "0":
        filled.setdefault("topic_name_format", DEFAULT_TOPIC_FORMATS[topic_policy])
        filled.setdefault("partitions_num", "1")
        filled.setdefault("replication_factor", "1")
    filled.setdefault("kafka_data_format", "json")
    return filled


def check_policy(policy: dict[str, Any], *, kafka_target: bool) -> dict[str, Any]:
    """A `batch-sync-policy` item for the job's target, checked (Kafka fields only for a Kafka target)."""
    if policy.get("conflict_policy") not in (None, "stop", "overwrite", "ignore"):
        raise invalid("conflict_policy", "Expected stop, overwrite or ignore.")
    if policy.get("filter_ddl_policy") not in (None, "", "drop_database"):
        raise invalid("filter_ddl_policy", "Expected drop_database.")
    slot = policy.get("slot_name")
    if slot is not None and not (slot.replace("_", "a").isalnum() and slot.islower() and len(slot) <= 63):
        raise invalid("slot_name", "A replication slot name: lower-case letters, digits and _, at most 63.")
    if kafka_target:
        return check_kafka_policy(policy)
    given = [name for name in KAFKA_FIELDS if policy.get(name) is not None]
    if given:
        raise invalid(given[0], "Kafka policies apply only to a Kafka target.")
    return dict(policy)
