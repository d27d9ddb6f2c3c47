"""A Polytomic bulk sync compiled to the data plane's spec, and runs rendered as Polytomic executions."""

from datetime import UTC, datetime
from typing import Any

import pytest

from syncline_connectors.spec import Discover, FileFormat, Filter, Mode, SyncSpec
from syncline_gateway.dialects.polytomic.execution_rendering import execution
from syncline_platform.errors import InvalidError
from syncline_policy.compilers.polytomic import compile_spec

PG = {"type": "postgresql", "configuration": {"hostname": "db", "port": 5433, "username": "u", "database": "d"}}


def sync(**changes: Any) -> dict[str, Any]:
    return {
        "id": "s1",
        "mode": "replicate",
        "source_configuration": {},
        "destination_configuration": {"schema": "copy"},
        "add_new_objects": "none",
        "add_new_fields": "all",
        "normalize_names": "enabled",
    } | changes


def row(object_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "id": object_id,
        "enabled": True,
        "fields": [{"id": "id", "enabled": True}, {"id": "secret", "enabled": False}],
        "filters": [{"field_id": "id", "function": "GreaterThan", "value": 2}],
        "tracking_field": "",
        "user_output_name": "",
        "output_name": "users",
    } | changes


def test_compiles_endpoints_selection_and_policies() -> None:
    spec = compile_spec(sync(), source=PG, target=PG, objects=[row("public.users"), row("public.off", enabled=False)])
    assert spec.source.config == {"host": "db", "port": 5433, "username": "u", "database": "d", "ssl_enabled": False}
    assert spec.destination.config["schema"] == "copy"
    [users] = spec.objects
    assert (users.schema_name, users.name, users.fields, users.output_name) == ("public", "users", ("id",), "users")
    assert users.filters == (Filter(field="id", op=">", value=2),)
    assert (spec.mode, spec.new_objects, spec.new_fields) == (Mode.REPLICATE, Discover.NONE, Discover.ALL)


def test_file_destination_format_and_sub_folder() -> None:
    target = {"type": "file", "configuration": {"path": "/data"}}
    spec = compile_spec(
        sync(destination_configuration={"format": "parquet", "path": "out"}), source=PG, target=target, objects=[]
    )
    assert spec.file_format is FileFormat.PARQUET
    assert spec.destination.config == {"path": "/data/out"}


@pytest.mark.parametrize("sub_folder", ["/etc", "../up", "a/../../up"])
def test_a_sub_folder_cannot_leave_the_connection_folder(sub_folder: str) -> None:
    target = {"type": "file", "configuration": {"path": "data"}}
    with pytest.raises(InvalidError, match=r"destination_configuration\.path .* must stay inside its folder"):
        compile_spec(sync(destination_configuration={"path": sub_folder}), source=PG, target=target, objects=[])


@pytest.mark.parametrize("output", ["../escaped", "/var/escaped", "a/../../escaped"])
def test_an_output_name_cannot_leave_a_folder_destination(output: str) -> None:
    target = {"type": "file", "configuration": {"path": "data"}}
    objects = [row("public.users", user_output_name=output, output_name=output)]
    with pytest.raises(InvalidError, match=r"schema \[public\.users\]: output_name .* must stay inside"):
        compile_spec(sync(destination_configuration={}), source=PG, target=target, objects=objects)
    assert compile_spec(sync(), source=PG, target=PG, objects=objects).objects[0].output_name == output  # a table


def test_filters_the_data_plane_cannot_run_are_rejected() -> None:
    with pytest.raises(InvalidError, match="StringLike"):
        compile_spec(
            sync(),
            source=PG,
            target=PG,
            objects=[row("public.users", filters=[{"field_id": "id", "function": "StringLike", "value": "a%"}])],
        )


def test_data_cutoff_becomes_a_filter_on_the_tracking_field() -> None:
    cutoff = datetime(2025, 3, 1, tzinfo=UTC)
    own = datetime(2025, 6, 1, tzinfo=UTC)
    objects = [
        row("public.a", filters=[], tracking_field="updated"),
        row("public.b", filters=[], tracking_field="updated", data_cutoff_timestamp=own),
        row("public.c", filters=[], tracking_field="updated", disable_data_cutoff=True),
        row("public.d", filters=[]),
    ]
    spec = compile_spec(sync(data_cutoff_timestamp=cutoff), source=PG, target=PG, objects=objects)
    filters = {o.name: o.filters for o in spec.objects}
    assert filters == {
        "a": (Filter(field="updated", op=">=", value=cutoff.isoformat()),),
        "b": (Filter(field="updated", op=">=", value=own.isoformat()),),
        "c": (),
        "d": (),  # no tracking field: no record age to cut at
    }
    with pytest.raises(InvalidError, match="needs a tracking_field"):
        compile_spec(sync(), source=PG, target=PG, objects=[row("public.e", data_cutoff_timestamp=own)])


def test_obfuscated_fields_and_record_timestamps() -> None:
    fields = [{"id": "id", "enabled": True}, {"id": "email", "enabled": True, "obfuscated": True}]
    spec = compile_spec(sync(), source=PG, target=PG, objects=[row("public.users", fields=fields)])
    assert spec.objects[0].obfuscated == ("email",)
    assert spec.record_timestamps is not None
    assert spec.record_timestamps.columns == ("_polytomic_created_at", "_polytomic_updated_at")  # Polytomic's names
    assert spec.isolate_failures is True
    assert (
        compile_spec(sync(disable_record_timestamps=True), source=PG, target=PG, objects=[]).record_timestamps is None
    )
    stored = spec.model_dump(mode="json") | {"record_timestamps": True}  # a spec stored before the names were in it
    assert SyncSpec.model_validate(stored).record_timestamps == spec.record_timestamps
    assert SyncSpec.model_validate(stored | {"record_timestamps": False}).record_timestamps is None


def test_replication_slot_of_the_source_configuration() -> None:
    spec = compile_spec(sync(source_configuration={"replication_slot": "shop_slot"}), source=PG, target=PG, objects=[])
    assert spec.source.config["replication_slot"] == "shop_slot"
    with pytest.raises(InvalidError, match="replication_slot"):
        compile_spec(sync(source_configuration={"replication_slot": "Bad-Slot"}), source=PG, target=PG, objects=[])


def run(**changes: Any) -> dict[str, Any]:
    created = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    return {
        "id": "r1",
        "status": "in_progress",
        "trigger_method": "on_demand",
        "options": {"schemas": ["public.users"], "fetch_mode": "full"},
        "connector": {"spec": {"objects": [{"name": "users", "schema_name": "public", "output_name": "users"}]}},
        "error": None,
        "indexed_document_count": 4,
        "created_at": created,
        "started_at": created,
        "last_seen": created,
        "completed_at": None,
        "canceled_at": None,
    } | changes


@pytest.mark.parametrize(
    ("status", "trigger", "expected"),
    [
        ("pending", "on_demand", "created"),
        ("pending", "scheduled", "scheduled"),
        ("in_progress", "on_demand", "running"),
        ("canceling", "on_demand", "canceling"),
        ("canceled", "on_demand", "canceled"),
        ("completed", "on_demand", "completed"),
        ("error", "on_demand", "failed"),
    ],
)
def test_run_statuses_map_to_execution_statuses(status: str, trigger: str, expected: str) -> None:
    assert execution(run(status=status, trigger_method=trigger))["status"] == expected


def test_execution_has_per_schema_counts() -> None:
    checkpoint = {"done": False, "rows_written": 4, "updated_at": datetime(2025, 1, 2, 3, 5, tzinfo=UTC)}
    rendered = execution(run(), {"public.users": checkpoint})
    assert (rendered["is_partial"], rendered["fetch_mode"], rendered["record_count"]) == (True, "full", 4)
    [schema] = rendered["schemas"]
    assert (schema["schema"], schema["status"], schema["record_count"]) == ("public.users", "running", 4)
    assert rendered["created_at"] == "2025-01-02T03:04:05Z"
