"""A bulk sync's selection (objects, fields, filters, output names) and typed configuration maps."""

from typing import Any

import pytest

from syncline_connectors.capabilities import Column, ObjectInfo
from syncline_connectors.connection_types import CONNECTION_TYPES, validate_configuration
from syncline_contracts.syncs import BulkSyncObject, ObjectField, ObjectFilter
from syncline_platform.errors import InvalidError, NotFoundError
from syncline_policy import selection

USERS = ObjectInfo(
    schema="public",
    name="users",
    columns=(Column("id", "integer", native_type="int4"), Column("Email Address", "text")),
    primary_key=("id",),
)
ORDERS = ObjectInfo(
    schema="public", name="orders", columns=(Column("id", "bigint", native_type="int8"),), primary_key=("id",)
)


def rows() -> list[dict[str, Any]]:
    return selection.merge_discovered([], [USERS, ORDERS])


def test_new_objects_start_disabled_with_every_field_enabled() -> None:
    found = rows()
    assert [(r["id"], r["enabled"]) for r in found] == [("public.users", False), ("public.orders", False)]
    assert [f["enabled"] for f in found[0]["fields"]] == [True, True]


def test_a_selection_enables_what_it_lists_and_disables_the_rest() -> None:
    chosen = selection.select(
        rows(),
        [
            BulkSyncObject(
                id="public.users",
                tracking_field="id",
                fields=(ObjectField(id="Email Address", enabled=False, obfuscated=True),),
                filters=(ObjectFilter(field_id="id", function="GreaterThan", value=3),),
            )
        ],
    )
    users, orders = chosen
    assert (users["enabled"], orders["enabled"]) == (True, False)
    assert users["tracking_field"] == "id"
    assert users["fields"][1] == {
        "id": "Email Address",
        "enabled": False,
        "obfuscated": True,
        "user_output_name": "",
        "output_name": "",
    }
    assert users["filters"] == [{"field_id": "id", "function": "GreaterThan", "value": 3}]
    assert selection.select(chosen, None) is chosen  # no selection keeps what is there


@pytest.mark.parametrize(
    "change",
    [
        BulkSyncObject(id="public.nope"),
        BulkSyncObject(id="public.users", fields=(ObjectField(id="nope"),)),
        BulkSyncObject(id="public.users", tracking_field="nope"),
        BulkSyncObject(id="public.users", partition_key="nope"),
        BulkSyncObject(id="public.users", filters=(ObjectFilter(field_id="id", function="Resembles"),)),
        BulkSyncObject(id="public.users", filters=(ObjectFilter(field_id="nope", function="IsNull"),)),
        BulkSyncObject(id="public.users", filters=(ObjectFilter(function="IsNull"),)),
    ],
)
def test_selections_name_only_what_exists(change: BulkSyncObject) -> None:
    with pytest.raises(InvalidError):
        selection.select(rows(), [change])


def test_configure_changes_only_what_it_names() -> None:
    chosen = selection.select(rows(), [BulkSyncObject(id="public.users", partition_key="id")])
    changed = selection.configure(chosen, [BulkSyncObject(id="public.users", user_output_name="Clients")], sync_id="s")
    assert (changed[0]["partition_key"], changed[0]["user_output_name"], changed[0]["enabled"]) == (
        "id",
        "Clients",
        True,
    )
    with pytest.raises(NotFoundError):
        selection.configure(chosen, [BulkSyncObject(id="public.nope")], sync_id="s")


@pytest.mark.parametrize(
    ("normalize", "table", "field"),
    [
        ("enabled", "clients", "email_address"),
        ("legacy", "clients", "email address"),
        ("disabled", "Clients", "Email Address"),
    ],
)
def test_output_names_follow_the_naming_rule(normalize: str, table: str, field: str) -> None:
    chosen = selection.configure(rows(), [BulkSyncObject(id="public.users", user_output_name="Clients")], sync_id="s")
    named = selection.name_outputs(chosen, normalize=normalize, source_type="postgresql")
    assert named[0]["output_name"] == table
    assert named[0]["fields"][1]["output_name"] == field
    assert named[1]["output_name"] == "orders"


def test_file_objects_are_named_by_their_stem() -> None:
    assert selection.base_name("2024/orders.csv", source_type="file") == "2024_orders"
    assert selection.base_name("public.orders", source_type="postgresql") == "orders"


def test_rediscovery_adds_new_objects_and_fields_only() -> None:
    chosen = selection.select(rows(), [BulkSyncObject(id="public.users")])
    grown = ObjectInfo(
        schema="public",
        name="users",
        columns=(*USERS.columns, Column("age", "integer", native_type="int4")),
        primary_key=("id",),
    )
    invoices = ObjectInfo(schema="public", name="invoices", columns=(), primary_key=())
    merged = selection.merge_discovered(chosen, [grown, ORDERS, invoices])
    assert [(r["id"], r["enabled"]) for r in merged] == [
        ("public.users", True),
        ("public.orders", False),
        ("public.invoices", False),
    ]
    assert [f["id"] for f in merged[0]["fields"]] == ["id", "Email Address", "age"]


def test_configuration_maps_are_typed_and_closed() -> None:
    keys = CONNECTION_TYPES["postgresql"].keys
    values, problems = validate_configuration(keys, {"hostname": "h", "port": "5433", "username": "u", "database": "d"})
    assert problems == []
    assert values == {
        "hostname": "h",
        "port": 5433,
        "username": "u",
        "database": "d",
        "ssl": False,
        "change_detection": False,
    }
    _, problems = validate_configuration(keys, {"hostname": 1, "port": "x", "ssl": "yes", "extra": 1})
    assert problems == [
        "unknown configuration key [extra]",
        "[hostname] must be a string",
        "[port] must be an integer",
        "[username] is required",
        "[database] is required",
        "[ssl] must be a boolean",
    ]
    _, problems = validate_configuration(CONNECTION_TYPES["file"].destination_configuration, {"format": "xml"})
    assert problems == ["[format] must be one of jsonl, csv, parquet"]
