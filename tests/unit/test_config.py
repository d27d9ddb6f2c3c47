"""Connector configuration schemas: coercion, problems, secrets."""

from typing import Any

import pytest

from syncline_connectors.config import POSTGRESQL_FIELDS, schema_for, sensitive_keys, validate_values

VALID: dict[str, Any] = {
    "host": "db.internal",
    "port": "5432",
    "username": "reader",
    "password": "hunter2",
    "database": "shop",
    "tables": "a, b",
}


def test_valid_values_are_coerced() -> None:
    values, problems = validate_values("postgresql", VALID)
    assert problems == []
    assert values == {
        "host": "db.internal",
        "port": 5432,
        "username": "reader",
        "database": "shop",
        "schema": "public",
        "tables": ["a", "b"],
        "fetch_size": 1000,
        "ssl_enabled": False,
        "tracking_field": None,
    }


def test_port_string_becomes_int() -> None:
    values, _ = validate_values("postgresql", VALID)
    assert values["port"] == 5432
    assert type(values["port"]) is int


@pytest.mark.parametrize(
    ("tables", "expected"),
    [
        ("a, b", ["a", "b"]),
        ("a,b,", ["a", "b"]),
        (" orders ", ["orders"]),
        (["a", "b"], ["a", "b"]),
        ("*", "*"),
        (" * ", "*"),
        ("", "*"),
        (None, "*"),
    ],
)
def test_tables(tables: Any, expected: Any) -> None:
    values, problems = validate_values("postgresql", VALID | {"tables": tables})
    assert problems == []
    assert values["tables"] == expected


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("1", True), ("yes", True), ("false", False), (True, True), ("no", False)]
)
def test_bool(raw: Any, expected: bool) -> None:
    values, problems = validate_values("postgresql", VALID | {"ssl_enabled": raw})
    assert problems == []
    assert values["ssl_enabled"] is expected


def test_unknown_field_is_reported() -> None:
    values, problems = validate_values("postgresql", VALID | {"hostname": "x"})
    assert problems == ["unknown configuration field [hostname]"]
    assert "hostname" not in values


@pytest.mark.parametrize("missing", ["host", "port", "username", "database"])
def test_missing_required_is_reported(missing: str) -> None:
    given = {k: v for k, v in VALID.items() if k != missing}
    values, problems = validate_values("postgresql", given)
    assert problems == [f"configuration field [{missing}] is required"]
    assert values[missing] is None


def test_empty_string_counts_as_missing() -> None:
    _, problems = validate_values("postgresql", VALID | {"host": ""})
    assert problems == ["configuration field [host] is required"]


def test_every_required_field_reported_at_once() -> None:
    _, problems = validate_values("postgresql", {})
    assert sorted(problems) == sorted(
        f"configuration field [{k}] is required" for k in ("host", "port", "username", "database")
    )


def test_bad_int_is_reported() -> None:
    values, problems = validate_values("postgresql", VALID | {"port": "five"})
    assert problems == ["configuration field [port] must be of type int"]
    assert "port" not in values


def test_password_is_not_in_coerced_values() -> None:
    values, problems = validate_values("postgresql", VALID)
    assert problems == []
    assert "password" not in values
    assert "hunter2" not in values.values()


def test_password_is_optional() -> None:
    given = {k: v for k, v in VALID.items() if k != "password"}
    _, problems = validate_values("postgresql", given)
    assert problems == []


@pytest.mark.parametrize("service_type", ["mysql", "", None])
def test_unsupported_service_type(service_type: str | None) -> None:
    values, problems = validate_values(service_type, VALID)
    assert values == {}
    assert problems == [f"service type [{service_type}] is not supported"]


def test_schema_and_sensitive_keys() -> None:
    assert schema_for("postgresql") == POSTGRESQL_FIELDS
    assert schema_for("mysql") is None
    assert schema_for(None) is None
    assert sensitive_keys("postgresql") == frozenset({"password"})
    assert sensitive_keys("mysql") == frozenset()


def test_field_orders_are_distinct() -> None:
    orders = [f.order for f in POSTGRESQL_FIELDS]
    assert len(orders) == len(set(orders))
    assert len({f.key for f in POSTGRESQL_FIELDS}) == len(POSTGRESQL_FIELDS)
