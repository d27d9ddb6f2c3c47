"""Policy's Elastic compiler: a connector → the spec of each job type, which runs carry and the executor reads as
they are (the document store's address is the executor's own)."""

from pathlib import Path
from typing import Any

import pytest

from syncline_connectors.config import executable
from syncline_connectors.docstore import DocumentStore, index_schema
from syncline_connectors.reach import Reach
from syncline_connectors.registry import destination_for
from syncline_connectors.spec import Discover, Mode, NormalizeNames, SyncSpec, run_snapshot, run_spec
from syncline_platform.errors import InvalidError
from syncline_policy.compilers import Compiled
from syncline_policy.compilers.elastic import compile_connector

ORG = "0592b77b-3c1e-4c4e-9a57-1f0b7d2f7c11"
OTHER_ORG = "7e1d8c7a-0000-4000-8000-000000000001"
RULE = {"id": "r", "order": 0, "policy": "exclude", "field": "a", "rule": "equals", "value": "x"}
RULES = [{"domain": "DEFAULT", "active": {"rules": [RULE]}, "draft": {"rules": [RULE]}}]


def connector(**changes: Any) -> dict[str, Any]:
    """A connector row as policy stores it."""
    row: dict[str, Any] = {
        "org_id": ORG,
        "id": "shop",
        "name": "Shop",
        "index_name": "shop-idx",
        "service_type": "postgresql",
        "language": "en",
        "configuration": {
            "host": "db",
            "port": 5432,
            "username": "u",
            "database": "shop",
            "schema": "sales",
            "tables": ["orders", "lines"],
            "tracking_field": None,
        },
        "sealed_secrets": {"password": "gAAAA-sealed"},
        "filtering": RULES,
        "scheduling": {"full": {"enabled": True, "interval": "0 0 * * * ?"}},
        "sync_cursor": None,
        "status": "connected",
    }
    return row | changes


def stored(compiled: Compiled) -> dict[str, Any]:
    """The compiled form as `policy.sync_specs` keeps it (and the scheduler reads it)."""
    specs = {job_type: spec.model_dump(mode="json") for job_type, spec in compiled.specs.items()}
    return {
        "definition": compiled.definition,
        "sealed_secrets": compiled.sealed_secrets,
        "specs": specs,
        "error": compiled.error,
    }


def test_a_connector_compiles_to_a_full_and_an_incremental_spec() -> None:
    compiled = compile_connector(connector(sync_cursor={"tracking_field": "updated_at"}), org_id=ORG)
    assert compiled.dialect == "elastic"
    assert compiled.error is None
    full, incremental = compiled.specs["full"], compiled.specs["incremental"]
    assert (full.mode, incremental.mode) == (Mode.FULL_WITH_DELETES, Mode.INCREMENTAL)
    assert [(o.schema_name, o.name, o.tracking_field) for o in full.objects] == [
        ("sales", "orders", None),
        ("sales", "lines", None),
    ]
    assert {o.tracking_field for o in incremental.objects} == {"updated_at"}
    for spec in (full, incremental):
        assert spec.sync_id == f"{ORG}/shop"  # cursors and slots are the organisation's
        assert spec.source.type == "postgresql"
        assert spec.source.config["schema"] == "sales"
        assert spec.source.sealed_secrets == {"password": "gAAAA-sealed"}  # sealed, in the spec
        assert "password" not in spec.source.config
        assert spec.destination.type == "docstore"
        assert spec.destination.config == {"schema": index_schema(ORG), "index": "shop-idx", "filtering": RULES}
        assert spec.new_objects is Discover.NONE
        assert spec.normalize_names is NormalizeNames.DISABLED
        assert not spec.isolate_failures  # the first failure fails an Elastic sync job


def test_the_tracking_field_of_the_configuration_wins_and_every_table_is_discovered() -> None:
    values = {"host": "db", "port": 1, "username": "u", "database": "shop", "tables": "*", "tracking_field": "ts"}
    compiled = compile_connector(connector(configuration=values, sync_cursor={"tracking_field": "x"}), org_id=ORG)
    assert compiled.specs["incremental"].objects == ()
    assert compiled.specs["incremental"].new_objects is Discover.ALL
    assert compiled.specs["incremental"].source.config["schema"] == "public"
    tables = {"host": "db", "database": "shop", "tables": ["t"], "tracking_field": "ts"}
    tracked = compile_connector(connector(configuration=tables, sync_cursor={"tracking_field": "x"}), org_id=ORG)
    assert [o.tracking_field for o in tracked.specs["incremental"].objects] == ["ts"]


def test_each_organisation_writes_its_own_schema() -> None:
    mine = compile_connector(connector(), org_id=ORG).specs["full"]
    theirs = compile_connector(connector(org_id=OTHER_ORG), org_id=OTHER_ORG).specs["full"]
    assert mine.destination.config["schema"] != theirs.destination.config["schema"]
    assert theirs.destination.config["schema"] == index_schema(OTHER_ORG)
    assert (mine.sync_id, theirs.sync_id) == (f"{ORG}/shop", f"{OTHER_ORG}/shop")


def test_what_a_sync_job_shows_of_its_connector_is_kept_beside_the_specs() -> None:
    compiled = compile_connector(connector(), org_id=ORG)
    assert compiled.definition == {
        "id": "shop",
        "configuration": connector()["configuration"],
        "filtering": RULES,
        "index_name": "shop-idx",
        "language": "en",
        "service_type": "postgresql",
        "sync_cursor": None,
    }
    assert compiled.sealed_secrets == {"password": "gAAAA-sealed"}


@pytest.mark.parametrize("job_type", ["full", "incremental"])
def test_a_run_carries_the_spec_of_its_job_type_and_the_executor_reads_it_as_it_is(job_type: str) -> None:
    compiled = compile_connector(connector(), org_id=ORG)
    snapshot = run_snapshot(stored(compiled), job_type=job_type)
    assert executable(snapshot)
    assert snapshot["index_name"] == "shop-idx"
    spec = run_spec(snapshot)
    assert spec == compiled.specs[job_type]
    assert SyncSpec.model_validate(snapshot["spec"]) == spec


def test_a_connector_syncline_cannot_run_leaves_its_runs_to_an_external_worker() -> None:
    compiled = compile_connector(connector(service_type="mysql"), org_id=ORG)
    assert (compiled.specs, compiled.error) == ({}, None)
    snapshot = run_snapshot(stored(compiled), job_type="full")
    assert not executable(snapshot)
    assert snapshot["service_type"] == "mysql"  # the worker claims it with the connector as it was


def test_a_connector_that_cannot_compile_fails_its_runs_with_the_reason() -> None:
    compiled = compile_connector(connector(index_name=None), org_id=ORG)
    assert compiled.specs == {}
    assert compiled.error is not None
    assert "index_name" in compiled.error
    snapshot = run_snapshot(stored(compiled), job_type="full")
    assert executable(snapshot)  # the executor takes it, and ends it in error saying why
    with pytest.raises(InvalidError, match="index_name"):
        run_spec(snapshot)


def test_a_job_type_without_a_spec_is_an_error_of_its_run() -> None:
    compiled = compile_connector(connector(), org_id=ORG)
    snapshot = run_snapshot(stored(compiled), job_type="access_control")
    with pytest.raises(InvalidError, match="access_control"):
        run_spec(snapshot)


def test_the_executor_addresses_the_document_store_itself(tmp_path: Path) -> None:
    spec = compile_connector(connector(), org_id=ORG).specs["full"]
    config = dict(spec.destination.config)
    store = destination_for(spec, config, run_id="r1", reach=Reach(files=tmp_path), docstore_dsn="postgresql://h/docs")
    assert isinstance(store, DocumentStore)
    assert store.dsn == "postgresql://h/docs"
    assert (store.schema, store.index, len(store.rules)) == (index_schema(ORG), "shop-idx", 1)
    with pytest.raises(InvalidError, match="document store"):
        destination_for(spec, config, run_id="r1", reach=Reach(files=tmp_path))
