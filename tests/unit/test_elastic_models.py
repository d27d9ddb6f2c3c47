"""Elasticsearch request bodies (strict parsing) and the documents the gateway renders."""

from datetime import UTC, datetime
from typing import Any

import pytest

from syncline_contracts.status import JobType, TriggerMethod
from syncline_gateway.dialects.elastic import documents
from syncline_gateway.dialects.elastic.models import ConnectorConfiguration, ConnectorPut, SyncJobPost, parse
from syncline_gateway.errors import BadRequestError

PARSER = "sync_job_post_request"

# --- parse -------------------------------------------------------------------------------------------------


def test_valid_body_gets_defaults() -> None:
    body = parse(b'{"id": "conn-1"}', SyncJobPost, parser=PARSER)
    assert body.id == "conn-1"
    assert body.job_type is JobType.FULL
    assert body.trigger_method is TriggerMethod.ON_DEMAND


def test_valid_body_with_every_field() -> None:
    raw = b'{"id": "conn-1", "job_type": "incremental", "trigger_method": "scheduled"}'
    body = parse(raw, SyncJobPost, parser=PARSER)
    assert body.job_type is JobType.INCREMENTAL
    assert body.trigger_method is TriggerMethod.SCHEDULED


def test_unknown_field_is_a_parse_error() -> None:
    with pytest.raises(BadRequestError) as caught:
        parse(b'{"id": "conn-1", "foo": 1}', SyncJobPost, parser=PARSER)
    assert caught.value.kind == "parse"
    assert "unknown field [foo]" in str(caught.value)
    assert str(caught.value) == f"[{PARSER}] unknown field [foo]"


def test_bad_enum_is_a_parse_error() -> None:
    with pytest.raises(BadRequestError) as caught:
        parse(b'{"id": "conn-1", "job_type": "sometimes"}', SyncJobPost, parser=PARSER)
    assert caught.value.kind == "parse"
    assert str(caught.value).startswith(f"[{PARSER}] failed to parse field [job_type]")


def test_wrong_type_is_a_parse_error() -> None:
    with pytest.raises(BadRequestError) as caught:
        parse(b'{"is_native": "perhaps"}', ConnectorPut, parser="connector_put_request")
    assert caught.value.kind == "parse"
    assert "[is_native]" in str(caught.value)


@pytest.mark.parametrize("raw", [b"", b"   ", b"\n\t"])
def test_empty_body_is_a_validation_error(raw: bytes) -> None:
    with pytest.raises(BadRequestError) as caught:
        parse(raw, SyncJobPost, parser=PARSER)
    assert caught.value.kind == "validation"
    assert "request body is required" in str(caught.value)


@pytest.mark.parametrize("raw", [b"{", b"not json", b"\xff\xfe", b'{"id": }'])
def test_non_json_is_a_parse_error(raw: bytes) -> None:
    with pytest.raises(BadRequestError) as caught:
        parse(raw, SyncJobPost, parser=PARSER)
    assert caught.value.kind == "parse"
    assert str(caught.value).startswith(f"[{PARSER}] failed to parse request body")


@pytest.mark.parametrize(("raw", "kind"), [(b"[]", "list"), (b'"x"', "str"), (b"1", "int")])
def test_non_object_is_a_parse_error(raw: bytes, kind: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        parse(raw, SyncJobPost, parser=PARSER)
    assert caught.value.kind == "parse"
    assert str(caught.value) == f"[{PARSER}] expected an object, found {kind}"


def test_configuration_values_form() -> None:
    body = parse(b'{"values": {"host": "db", "port": 5432}}', ConnectorConfiguration, parser="c")
    assert body.flat_values() == {"host": "db", "port": 5432}


def test_configuration_objects_form() -> None:
    raw = b'{"configuration": {"host": {"value": "db", "label": "Host"}, "port": {"value": 5432}, "tables": "*"}}'
    body = parse(raw, ConnectorConfiguration, parser="c")
    assert body.flat_values() == {"host": "db", "port": 5432, "tables": "*"}


def test_configuration_object_without_value() -> None:
    body = ConnectorConfiguration(configuration={"host": {"label": "Host"}})
    assert body.flat_values() == {"host": None}


def test_configuration_values_win_over_objects() -> None:
    body = ConnectorConfiguration(values={"host": "a"}, configuration={"host": {"value": "b"}})
    assert body.flat_values() == {"host": "a"}


def test_configuration_neither_form() -> None:
    assert ConnectorConfiguration().flat_values() == {}


def test_flat_values_is_a_copy() -> None:
    body = ConnectorConfiguration(values={"host": "a"})
    body.flat_values()["host"] = "changed"
    assert body.flat_values() == {"host": "a"}


# --- documents ---------------------------------------------------------------------------------------------


def _run(**overrides: Any) -> dict[str, Any]:
    """A row of `runs` (services/scheduler/.../0001.runs.sql), as asyncpg returns it."""
    row: dict[str, Any] = {
        "id": "run-1",
        "org_id": "org-1",
        "sync_id": "conn-1",
        "job_type": "full",
        "trigger_method": "on_demand",
        "status": "completed",
        "connector": {
            "id": "conn-1",
            "service_type": "postgresql",
            "configuration": {"host": "db", "port": 5432, "password": "hunter2", "tables": ["a"]},
            "filtering": [{"domain": "DEFAULT"}],
            "index_name": "search-shop",
            "language": "en",
            "sync_cursor": None,
        },
        "sealed_secrets": {"password": "gAAAAA-sealed"},
        "worker_hostname": "executor-1",
        "error": None,
        "rows_read": 12,
        "indexed_document_count": 10,
        "deleted_document_count": 2,
        "indexed_document_volume": 5 * 1048576 + 1048575,
        "total_document_count": 10,
        "metadata": {"k": "v"},
        "created_at": datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        "started_at": datetime(2025, 1, 2, 3, 4, 6, tzinfo=UTC),
        "last_seen": datetime(2025, 1, 2, 3, 4, 7, 999999, tzinfo=UTC),
        "completed_at": datetime(2025, 1, 2, 3, 5, 0, 1000, tzinfo=UTC),
        "cancelation_requested_at": None,
        "canceled_at": None,
    }
    return row | overrides


def test_sync_job_dates() -> None:
    job = documents.sync_job(_run())
    assert job["created_at"] == "2025-01-02T03:04:05.123Z"
    assert job["started_at"] == "2025-01-02T03:04:06.000Z"
    assert job["last_seen"] == "2025-01-02T03:04:07.999Z"
    assert job["completed_at"] == "2025-01-02T03:05:00.001Z"
    assert job["canceled_at"] is None
    assert job["cancelation_requested_at"] is None


def test_sync_job_volume_in_mib() -> None:
    assert documents.sync_job(_run())["indexed_document_volume"] == 5
    assert documents.sync_job(_run(indexed_document_volume=0))["indexed_document_volume"] == 0
    assert documents.sync_job(_run(indexed_document_volume=1048575))["indexed_document_volume"] == 0
    assert documents.sync_job(_run(indexed_document_volume=1048576))["indexed_document_volume"] == 1


def test_sync_job_fields() -> None:
    job = documents.sync_job(_run())
    assert job["id"] == "run-1"
    assert job["status"] == "completed"
    assert job["job_type"] == "full"
    assert job["trigger_method"] == "on_demand"
    assert job["indexed_document_count"] == 10
    assert job["deleted_document_count"] == 2
    assert job["total_document_count"] == 10
    assert job["worker_hostname"] == "executor-1"
    assert job["metadata"] == {"k": "v"}
    assert job["error"] is None
    connector = job["connector"]
    assert connector["id"] == "conn-1"
    assert connector["index_name"] == "search-shop"
    assert connector["service_type"] == "postgresql"
    assert connector["filtering"] == [{"domain": "DEFAULT"}]
    assert connector["configuration"]["host"]["value"] == "db"
    assert connector["configuration"]["port"]["value"] == 5432


def test_sync_job_never_echoes_the_password() -> None:
    job = documents.sync_job(_run())
    password = job["connector"]["configuration"]["password"]
    assert password["value"] == ""
    assert password["sensitive"] is True
    assert password["is_set"] is True
    assert "hunter2" not in repr(job)
    assert "gAAAAA-sealed" not in repr(job)


def test_sync_job_canceled() -> None:
    job = documents.sync_job(
        _run(
            status="canceled",
            completed_at=None,
            cancelation_requested_at=datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC),
            canceled_at=datetime(2025, 2, 3, 4, 5, 7, 500000, tzinfo=UTC),
        )
    )
    assert job["status"] == "canceled"
    assert job["completed_at"] is None
    assert job["cancelation_requested_at"] == "2025-02-03T04:05:06.000Z"
    assert job["canceled_at"] == "2025-02-03T04:05:07.500Z"


def test_es_time_none() -> None:
    assert documents.es_time(None) is None


def _connector_row(**overrides: Any) -> dict[str, Any]:
    """A row of `connectors` (services/policy/.../0001.connectors.sql)."""
    row: dict[str, Any] = {
        "org_id": "org-1",
        "id": "conn-1",
        "name": "Shop",
        "description": None,
        "index_name": "search-shop",
        "service_type": "postgresql",
        "language": None,
        "is_native": False,
        "status": "configured",
        "configuration": {"host": "db", "port": 5432, "password": "hunter2"},
        "sealed_secrets": {"password": "gAAAAA-sealed"},
        "scheduling": {"full": {"enabled": True, "interval": "0 * * * * ?"}},
        "filtering": [],
        "sync_cursor": None,
        "error": None,
        "created_at": datetime(2025, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2025, 1, 1, tzinfo=UTC),
    }
    return row | overrides


def test_connector_never_echoes_the_password() -> None:
    doc = documents.connector(_connector_row(), None)
    password = doc["configuration"]["password"]
    assert password["value"] == ""
    assert password["is_set"] is True
    assert "hunter2" not in repr(doc)
    assert "gAAAAA-sealed" not in repr(doc)


def test_connector_password_not_set() -> None:
    doc = documents.connector(_connector_row(sealed_secrets={}, configuration={"host": "db"}), None)
    assert doc["configuration"]["password"]["value"] == ""
    assert doc["configuration"]["password"]["is_set"] is False


def test_connector_configuration_objects() -> None:
    config = documents.connector(_connector_row(), None)["configuration"]
    assert set(config) == {"host", "port", "username", "password", "database", "schema", "tables", "fetch_size"} | {
        "ssl_enabled",
        "tracking_field",
    }
    assert config["host"]["value"] == "db"
    assert config["host"]["is_set"] is True
    assert config["username"]["value"] is None
    assert config["username"]["is_set"] is False
    assert config["port"]["display"] == "numeric"
    assert config["ssl_enabled"]["display"] == "toggle"
    assert config["schema"]["default_value"] == "public"


def test_connector_unknown_service_type_has_no_configuration() -> None:
    doc = documents.connector(_connector_row(service_type="mysql"), None)
    assert doc["configuration"] == {}


def test_connector_scheduling_defaults() -> None:
    scheduling = documents.connector(_connector_row(), None)["scheduling"]
    assert scheduling["full"] == {"enabled": True, "interval": "0 * * * * ?"}
    assert scheduling["incremental"] == {"enabled": False, "interval": "0 0 0 * * ?"}
    assert scheduling["access_control"] == {"enabled": False, "interval": "0 0 0 * * ?"}


def test_connector_last_sync() -> None:
    never = documents.connector(_connector_row(), None)
    assert never["last_sync_status"] is None
    assert never["last_synced"] is None
    synced = documents.connector(_connector_row(), _run())
    assert synced["last_sync_status"] == "completed"
    assert synced["last_synced"] == "2025-01-02T03:05:00.001Z"
    assert synced["last_indexed_document_count"] == 10
    assert synced["last_deleted_document_count"] == 2
    canceled = documents.connector(
        _connector_row(), _run(status="canceled", completed_at=None, canceled_at=datetime(2025, 3, 1, tzinfo=UTC))
    )
    assert canceled["last_synced"] == "2025-03-01T00:00:00.000Z"
