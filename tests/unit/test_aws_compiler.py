"""AWS AppIntegrations' compiler: an association (and its data integration) → `SyncSpec`: objects and their
Syncline keys, on-demand windows and `FirstExecutionFrom` as tracking-field filters, destination settings from
`ClientAssociationMetadata`, and the refusals a user sees as `InvalidRequestException`."""

from typing import Any

import pytest

from syncline_connectors.spec import FileFormat, Filter, Mode
from syncline_contracts.data_integrations import ExecutionConfig
from syncline_platform.errors import InvalidError
from syncline_policy.compilers.aws import compile_spec, schedule_of

PG_CONFIG: dict[str, Any] = {"hostname": "db", "port": 5432, "username": "u", "database": "shop"}
PG_SOURCE: dict[str, Any] = {"id": "src", "type": "postgresql", "configuration": PG_CONFIG, "sealed_secrets": {}}
PG_TARGET = PG_SOURCE | {"id": "dst", "configuration": PG_CONFIG | {"database": "copy"}}
FOLDER = {"id": "dir", "type": "file", "configuration": {"path": "exports"}, "sealed_secrets": {}}
KAFKA = {"id": "k", "type": "kafka", "configuration": {"bootstrap_servers": "b:9092"}, "sealed_secrets": {}}
EVENTS = {"public.events": {"fields": ["id", "at"], "tracking_field": ["at"], "primary_key": ["id"]}}
START, END = "1767225600000", "1767312000000"


def _integration(**changes: Any) -> dict[str, Any]:
    return {"id": "di", "name": "events", "object_configuration": EVENTS, "schedule_config": None} | changes


def _association(**changes: Any) -> dict[str, Any]:
    on_demand = {"execution_mode": "ON_DEMAND", "start_time": START, "end_time": END}
    return {
        "id": "assoc",
        "object_configuration": None,
        "client_association_metadata": {},
        "execution_configuration": on_demand,
    } | changes


def _compile(integration: dict[str, Any], association: dict[str, Any], target: dict[str, Any] = PG_TARGET) -> Any:
    return compile_spec(integration=integration, association=association, source=PG_SOURCE, target=target)


def test_on_demand_window_filters_the_tracking_field() -> None:
    spec = _compile(_integration(), _association())
    assert spec.sync_id == "assoc"
    assert spec.mode is Mode.INCREMENTAL
    (events,) = spec.objects
    assert (events.schema_name, events.name) == ("public", "events")
    assert events.fields == ("id", "at")
    assert events.tracking_field == "at"
    assert events.primary_key == ("id",)
    assert events.filters == (
        Filter(field="at", op=">=", value="2026-01-01T00:00:00+00:00"),
        Filter(field="at", op="<", value="2026-01-02T00:00:00+00:00"),
    )


def test_open_ended_window() -> None:
    spec = _compile(
        _integration(), _association(execution_configuration={"execution_mode": "ON_DEMAND", "start_time": START})
    )
    assert spec.objects[0].filters == (Filter(field="at", op=">=", value="2026-01-01T00:00:00+00:00"),)


def test_the_associations_objects_win() -> None:
    own = {"sales.orders": {"tracking_field": ["updated_at"]}}
    spec = _compile(_integration(), _association(object_configuration=own))
    assert [(o.schema_name, o.name, o.fields) for o in spec.objects] == [("sales", "orders", None)]


def test_first_execution_from_of_the_integration_schedule() -> None:
    schedule = {"schedule_expression": "rate(1 hour)", "first_execution_from": START}
    spec = _compile(_integration(schedule_config=schedule), _association(execution_configuration=None))
    assert spec.objects[0].filters == (Filter(field="at", op=">=", value="2026-01-01T00:00:00+00:00"),)
    assert schedule_of(_integration(schedule_config=schedule), None) is not None


def test_scheduled_association_ignores_the_integration_schedule() -> None:
    execution = ExecutionConfig(execution_mode="SCHEDULED")
    assert schedule_of(_integration(schedule_config={"schedule_expression": "rate(1 hour)"}), execution) is None


@pytest.mark.parametrize(
    ("integration", "association", "words"),
    [
        (_integration(object_configuration={"events": {"tracking_field": ["at"]}}), _association(), "schema.table"),
        (_integration(object_configuration={"public.events": {}}), _association(), "tracking_field"),
        (_integration(object_configuration={"public.events": {"colour": ["x"]}}), _association(), "unknown keys"),
        (_integration(object_configuration=None), _association(), "at least one object"),
        (
            _integration(),
            _association(execution_configuration={"execution_mode": "ON_DEMAND", "start_time": END, "end_time": START}),
            "after StartTime",
        ),
        (
            _integration(),
            _association(execution_configuration={"execution_mode": "ON_DEMAND", "start_time": "soon"}),
            "StartTime",
        ),
        (
            _integration(object_configuration={"public.events": {"tracking_field": ["a", "b"]}}),
            _association(),
            "exactly one",
        ),
    ],
)
def test_refusals(integration: dict[str, Any], association: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidError, match=words):
        _compile(integration, association)


def test_postgresql_destination_schema() -> None:
    spec = _compile(_integration(), _association(client_association_metadata={"schema": "copy", "topic": "x"}))
    assert spec.destination.config["schema"] == "copy"
    assert "topic" not in spec.destination.config


def test_folder_destination() -> None:
    metadata = {"path": "out", "format": "csv"}
    spec = _compile(_integration(), _association(client_association_metadata=metadata), target=FOLDER)
    assert spec.destination.type == "files"
    assert spec.destination.config["path"] == "exports/out"
    assert spec.file_format is FileFormat.CSV
    with pytest.raises(InvalidError, match="inside"):
        _compile(_integration(), _association(client_association_metadata={"path": "../x"}), target=FOLDER)
    with pytest.raises(InvalidError, match="format"):
        _compile(_integration(), _association(client_association_metadata={"format": "xml"}), target=FOLDER)


def test_kafka_destination_topic() -> None:
    spec = _compile(_integration(), _association(client_association_metadata={"topic": "events"}), target=KAFKA)
    assert spec.kafka is not None
    assert (spec.kafka.topic_policy, spec.kafka.topic_name_format) == (1, "events")
    assert _compile(_integration(), _association(), target=KAFKA).kafka is None


def test_folder_source_objects_are_its_folders() -> None:
    integration = _integration(
        object_configuration=None,
        file_configuration={"folders": ["in/a", "in/b"], "filters": {"include": ["*.csv"]}},
    )
    spec = compile_spec(
        integration=integration,
        association=_association(execution_configuration=None),
        source=FOLDER,
        target=PG_TARGET,
    )
    assert [o.name for o in spec.objects] == ["in/a", "in/b"]
    assert spec.source.config["include"] == ["*.csv"]
    assert spec.source.config["object_per"] == "folder"


def test_on_demand_without_a_window_moves_every_row() -> None:
    spec = _compile(_integration(), _association(execution_configuration={"execution_mode": "ON_DEMAND"}))
    assert spec.objects[0].filters == ()
