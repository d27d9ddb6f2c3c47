"""Changes bound for Kafka: row filters (a change whose new row fails them is not sent, or is sent as a DELETE
when an update takes the row out of them) and the typed message rows built from pgoutput's text values."""

from decimal import Decimal
from typing import Any

import pytest

from syncline_connectors.capabilities import Column, ObjectPlan
from syncline_connectors.kafka import ChangeMessages, judged_filters, kind_under_filters
from syncline_connectors.pgoutput import Change
from syncline_connectors.row_filters import matches
from syncline_connectors.spec import Filter


def plan(*filters: Filter, obfuscated: bool = False) -> ObjectPlan:
    columns = (Column("id", "integer"), Column("active", "boolean"), Column("email", "text", obfuscated=obfuscated))
    return ObjectPlan(
        schema="public",
        name="t",
        columns=columns,
        primary_key=("id",),
        output="t",
        output_columns=tuple(c.name for c in columns),
        filters=filters,
    )


def change(**values: Any) -> dict[str, Any]:
    return values


ACTIVE = Filter(field="active", op="=", value=True)


@pytest.mark.parametrize(
    ("kind", "values", "expected"),
    [
        ("INSERT", {"id": 1, "active": True}, "INSERT"),
        ("INSERT", {"id": 1, "active": False}, None),
        ("UPDATE", {"id": 1, "active": True}, "UPDATE"),
        ("UPDATE", {"id": 1, "active": False}, "DELETE"),
        ("DELETE", {}, "DELETE"),
    ],
)
def test_a_change_is_sent_as_its_filters_say(kind: str, values: dict[str, Any], expected: str | None) -> None:
    assert kind_under_filters(judged_filters(plan(ACTIVE)), change(**values), kind) == expected


def test_without_filters_or_on_hashed_fields_every_change_is_sent() -> None:
    assert kind_under_filters(judged_filters(plan()), change(id=1, active=False), "INSERT") == "INSERT"
    hashed = Filter(field="email", op="=", value="a@example.com")
    assert judged_filters(plan(hashed, obfuscated=True)) == ()


def test_matches_null_in_and_comparisons() -> None:
    assert matches({"a": None}, (Filter(field="a", op="is_null"),))
    assert not matches({"a": 3}, (Filter(field="a", op=">", value=5),))
    assert matches({"a": 7}, (Filter(field="a", op=">", value=5), Filter(field="b", op="is_null")))
    assert matches({"a": "x"}, (Filter(field="a", op="in", value=["x", "y"]),))
    assert not matches({"a": None}, (Filter(field="a", op="<", value=5),))


def test_values_compare_by_their_meaning_not_their_json_type() -> None:
    assert matches({"n": 9}, (Filter(field="n", op="<", value="10"),))  # not "9" >= "10" as text
    assert matches({"n": "25"}, (Filter(field="n", op=">", value=7),))  # a CSV cell
    at = "2024-01-01 10:00:00+00"  # how a change line writes a timestamptz
    assert matches({"at": at}, (Filter(field="at", op=">=", value="2024-01-01T00:00:00+00:00"),))
    assert not matches({"at": at}, (Filter(field="at", op=">=", value="2024-01-01T11:00:00+00:00"),))
    assert matches({"ok": "true"}, (Filter(field="ok", op="=", value=True),))
    assert not matches({"ok": False}, (Filter(field="ok", op="=", value=True),))


def test_text_values_become_the_json_types_of_a_snapshot() -> None:
    columns = (
        Column("id", "bigint"),
        Column("ok", "boolean"),
        Column("doc", "jsonb"),
        Column("amount", "numeric(12,2)"),
        Column("ratio", "double precision"),
        Column("note", "text"),
    )
    typed = ObjectPlan(
        schema="public",
        name="t",
        columns=columns,
        primary_key=("id",),
        output="t",
        output_columns=tuple(c.name.upper() for c in columns),
    )
    new = {"id": "7", "ok": "t", "doc": '{"a": [1]}', "amount": "0.10", "ratio": "NaN", "note": None, "extra": "x"}
    kind, data, old = ChangeMessages(typed).shape(Change("I", "public", "t", new, None)) or ("", {}, None)
    assert (kind, old) == ("INSERT", None)
    assert data == {"ID": 7, "OK": True, "DOC": {"a": [1]}, "AMOUNT": Decimal("0.10"), "RATIO": "NaN", "NOTE": None}


def test_an_update_keeping_a_toast_value_takes_it_from_the_whole_old_row() -> None:
    old: dict[str, str | None] = {"id": "1", "active": "t", "email": "long"}
    shaped = ChangeMessages(plan()).shape(Change("U", "public", "t", {"id": "1", "active": "f"}, old))
    assert shaped == ("UPDATE", {"id": 1, "active": False, "email": "long"}, {"id": 1, "active": True, "email": "long"})
    key_only = ChangeMessages(plan()).shape(Change("D", "public", "t", None, {"id": "1"}))
    assert key_only == ("DELETE", {"id": 1}, None)
