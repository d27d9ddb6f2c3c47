"""DRS rules without I/O: a job's status from its run, the sync-policy rules, the gateway's per-item checks and
the compiler's spec."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from syncline_connectors.spec import ConflictPolicy, Discover, Mode
from syncline_contracts.drs_jobs import DrsAction, DrsItemResult, DrsJobStatus, can_transition_drs, effective_status
from syncline_gateway.dialects.drs.routes import _checked
from syncline_platform.secrets import Sealer, generate_key
from syncline_policy.compilers.drs import compile_job
from syncline_policy.drs_rules import EMPTY, INVALID, DrsItemError, check_engine, check_policy

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _status(stored: str = "STARTJOBING", **run: Any) -> DrsJobStatus:
    facts: dict[str, Any] = {
        "task_type": "FULL_INCR_TRANS",
        "start_at": None,
        "run_status": None,
        "streaming": False,
        "released": False,
    }
    return effective_status(stored=stored, now=NOW, **(facts | run))


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({}, "STARTJOBING"),
        ({"start_at": NOW + timedelta(minutes=5)}, "WAITING_FOR_START"),
        ({"run_status": "pending"}, "STARTJOBING"),
        ({"run_status": "in_progress"}, "FULL_TRANSFER_STARTED"),
        ({"run_status": "in_progress", "streaming": True}, "INCRE_TRANSFER_STARTED"),
        ({"run_status": "in_progress", "task_type": "INCR_TRANS"}, "INCRE_TRANSFER_STARTED"),
        ({"run_status": "error"}, "FULL_TRANSFER_FAILED"),
        ({"run_status": "error", "streaming": True}, "INCRE_TRANSFER_FAILED"),
        ({"run_status": "completed", "task_type": "FULL_TRANS"}, "FULL_TRANSFER_COMPLETE"),
        ({"run_status": "canceled"}, "PAUSING"),
    ],
)
def test_a_started_job_shows_what_its_run_says(facts: dict[str, Any], expected: str) -> None:
    assert _status(**facts) == expected


def test_stored_statuses_stand_and_release_completes_once_the_slot_is_gone() -> None:
    assert _status("PAUSING", run_status="in_progress") == "PAUSING"
    assert _status("CONFIGURATION") == "CONFIGURATION"
    assert _status("RELEASE_RESOURCE_STARTED", run_status="canceling", released=True) == "RELEASE_RESOURCE_STARTED"
    assert _status("RELEASE_RESOURCE_STARTED", run_status="canceled", released=False) == "RELEASE_RESOURCE_STARTED"
    assert _status("RELEASE_RESOURCE_STARTED", run_status="canceled", released=True) == "RELEASE_RESOURCE_COMPLETE"


def test_the_transition_table() -> None:
    assert can_transition_drs(DrsJobStatus.CONFIGURATION, DrsJobStatus.STARTJOBING)
    assert can_transition_drs(DrsJobStatus.INCRE_TRANSFER_STARTED, DrsJobStatus.PAUSING)
    assert not can_transition_drs(DrsJobStatus.DELETED, DrsJobStatus.CONFIGURATION)
    assert not can_transition_drs(DrsJobStatus.FULL_TRANSFER_COMPLETE, DrsJobStatus.PAUSING)


@pytest.mark.parametrize(
    ("policy", "code", "field"),
    [
        ({"topic_policy": "0", "partition_policy": "1"}, EMPTY, "topic"),
        ({"partition_policy": "1"}, EMPTY, "topic_policy"),
        ({"topic_policy": "3", "partition_policy": "2"}, INVALID, "partition_policy"),
        ({"topic_policy": "1", "partition_policy": "5"}, INVALID, "partition_policy"),
        ({"topic_policy": "4", "partition_policy": "0"}, INVALID, "topic_policy"),
        ({"topic_policy": "0", "topic": "t", "partition_policy": "0", "kafka_data_format": "json_c"}, INVALID, "kafka"),
        ({"topic_policy": "2", "partition_policy": "0", "topic_name_format": "$schema$"}, INVALID, "topic_name_format"),
        (
            {"topic_policy": "1", "partition_policy": "0", "topic_name_format": "a-$table$"},
            INVALID,
            "topic_name_format",
        ),
        ({"topic_policy": "1", "partition_policy": "0", "partitions_num": "0"}, INVALID, "partitions_num"),
        ({"topic_policy": "1", "partition_policy": "0", "conflict_policy": "merge"}, INVALID, "conflict_policy"),
    ],
)
def test_kafka_policies_that_break_a_rule(policy: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(DrsItemError) as broken:
        check_policy(policy, kafka_target=True)
    assert broken.value.code == code
    assert field in broken.value.message


def test_kafka_policy_defaults_and_pg_targets_refuse_kafka_fields() -> None:
    filled = check_policy({"topic_policy": "1", "partition_policy": "2"}, kafka_target=True)
    assert filled["topic_name_format"] == "$database$-$schema$-$tablename$"
    assert (filled["partitions_num"], filled["replication_factor"], filled["kafka_data_format"]) == ("1", "1", "json")
    with pytest.raises(DrsItemError, match="topic_policy"):
        check_policy({"topic_policy": "0", "conflict_policy": "ignore"}, kafka_target=False)
    assert check_policy({"conflict_policy": "ignore", "ddl_trans": True}, kafka_target=False)["conflict_policy"] == (
        "ignore"
    )


def test_only_postgresql_engines_run_here() -> None:
    pg = {"db_type": "postgresql"}
    check_engine(engine_type="postgresql", db_use_type="sync", source=pg, target={"db_type": "kafka"})
    for engine, target in (("mysql", pg), ("postgresql", {"db_type": "oracle"})):
        with pytest.raises(DrsItemError) as refused:
            check_engine(engine_type=engine, db_use_type="sync", source=pg, target=target)
        assert refused.value.code == INVALID


def test_gateway_items_fail_alone_take_integers_and_seal_passwords() -> None:
    sealer = Sealer(SecretStr(generate_key()))
    missing = _checked(DrsAction.SET_POLICY, {"conflict_policy": "ignore"}, sealer)
    assert isinstance(missing, DrsItemResult)
    assert (missing.status, missing.error_code) == ("failed", "DRS.M00201")
    unknown = _checked(DrsAction.START, {"job_id": "j", "nonsense": 1}, sealer)
    assert isinstance(unknown, DrsItemResult)
    assert unknown.error_code == "DRS.M00202"
    policy = _checked(DrsAction.SET_POLICY, {"job_id": "j", "topic_policy": 1, "partitions_num": 3}, sealer)
    assert policy == {"job_id": "j", "topic_policy": "1", "partitions_num": "3"}
    test = {"id": "j", "net_type": "eip", "db_type": "postgresql", "ip": "h", "db_user": "u", "db_password": "pw"}
    checked = _checked(DrsAction.TEST_CONNECTION, test | {"end_point_type": "so", "db_port": "5432"}, sealer)
    assert isinstance(checked, dict)
    assert "db_password" not in checked
    assert sealer.open(checked["db_password_sealed"]) == "pw"
    assert checked["db_port"] == 5432


def _job(task_type: str, target: dict[str, Any], policy: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "job-1",
        "name": "job-one",
        "project_id": "0" * 32,
        "definition": {"task_type": task_type},
        "source_endpoint": {"db_type": "postgresql", "ip": "src", "db_port": 5433, "db_user": "u", "db_name": "shop"},
        "target_endpoint": target,
        "sealed_secrets": {"source": "sealed-src", "target": "sealed-dst"},
        "objects": {"tables": [{"schema": "sales", "table": "orders", "alias": "orders_copy"}]},
        "policy": policy,
    }


def test_the_compiler_follows_the_task_type_and_policy() -> None:
    pg = {"db_type": "postgresql", "ip": "dst", "db_user": "u", "db_name": "copy"}
    spec = compile_job(
        _job("FULL_INCR_TRANS", pg, {"conflict_policy": "ignore", "ddl_trans": False, "slot_name": "s1"})
    )
    assert (spec.mode, spec.initial_load, spec.follow) == (Mode.REPLICATE, True, True)
    assert (spec.conflict_policy, spec.new_fields) == (ConflictPolicy.IGNORE, Discover.NONE)
    assert spec.source.config["replication_slot"] == "s1"
    assert spec.source.sealed_secrets == {"password": "sealed-src"}
    assert spec.destination.config["schema"] == "sales"
    assert [(o.schema_name, o.name, o.output_name) for o in spec.objects] == [("sales", "orders", "orders_copy")]
    assert spec.copy_indexes is False
    assert spec.source.config == {
        "host": "src",
        "port": 5433,
        "username": "u",
        "database": "shop",
        "ssl_enabled": False,
        "replication_slot": "s1",
    }  # the connection the checks test (`drs_checks.connection_of`), as a spec's endpoint
    full = compile_job(_job("FULL_TRANS", pg, {"index_trans": True}))
    assert (full.mode, full.follow, full.copy_indexes) == (Mode.SNAPSHOT, False, True)
    changes = compile_job(_job("INCR_TRANS", pg, {}))
    assert (changes.initial_load, changes.follow) == (False, True)
    kafka = {"db_type": "kafka", "ip": "broker:9092"}
    policy = {"topic_policy": "1", "partition_policy": "2", "kafka_data_format": "avro", "partitions_num": "3"}
    to_kafka = compile_job(_job("FULL_INCR_TRANS", kafka, policy | {"ddl_trans": True, "ddl_topic": "ddl"}))
    assert to_kafka.destination.config == {"bootstrap_servers": "broker:9092"}
    assert compile_job(_job("FULL_TRANS", kafka, policy | {"index_trans": True})).copy_indexes is False
    assert to_kafka.kafka is not None
    assert (to_kafka.kafka.topic_policy, to_kafka.kafka.partition_policy, to_kafka.kafka.partitions_num) == (1, 2, 3)
    assert (to_kafka.kafka.kafka_data_format, to_kafka.kafka.ddl_topic) == ("avro", "ddl")


def test_a_sasl_kafka_target_runs_as_its_db_user_with_its_sealed_password() -> None:
    security = {"type": "SASL_PLAINTEXT", "sasl_mechanism": "scram-sha-256"}
    kafka = {"db_type": "kafka", "ip": "broker:9092", "db_user": "tenant", "kafka_security_config": security}
    spec = compile_job(_job("FULL_INCR_TRANS", kafka, {"topic_policy": "1", "partition_policy": "2"}))
    assert spec.destination.config == {
        "bootstrap_servers": "broker:9092",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_username": "tenant",
    }
    assert spec.destination.sealed_secrets == {"sasl_password": "sealed-dst"}
    plain = kafka | {"kafka_security_config": {"type": "PLAINTEXT"}}
    spec = compile_job(_job("FULL_INCR_TRANS", plain, {"topic_policy": "1", "partition_policy": "2"}))
    assert spec.destination.config == {"bootstrap_servers": "broker:9092", "security_protocol": "PLAINTEXT"}
    assert spec.destination.sealed_secrets == {}
