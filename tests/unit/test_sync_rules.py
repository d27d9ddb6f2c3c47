"""Elastic's basic sync rules, evaluated on documents."""

import pytest

from syncline_connectors.sync_rules import SyncRule, active_rules, keep


@pytest.mark.parametrize(
    ("rule", "value", "field_value", "expected"),
    [
        ("equals", "7", 7, True),
        ("equals", "7", 8, False),
        ("contains", "ell", "hello", True),
        ("starts_with", "he", "hello", True),
        ("ends_with", "lo", "hello", True),
        ("ends_with", "he", "hello", False),
        ("regex", "h.l+o", "hello", True),
        ("regex", "x", "hello", False),
        ("<", "10", 9, True),
        ("<", "10", 11, False),
        (">", "10", 11.5, True),
        (">", "b", "c", True),
    ],
)
def test_each_rule(rule: str, value: str, field_value: object, expected: bool) -> None:
    assert SyncRule(policy="include", field="f", rule=rule, value=value).matches({"f": field_value}) is expected


def test_a_missing_field_matches_nothing() -> None:
    assert SyncRule(policy="exclude", field="f", rule="equals", value="x").matches({"g": "x"}) is False
    assert SyncRule(policy="exclude", field="f", rule="equals", value="x").matches({"f": None}) is False


def test_the_first_matching_rule_decides_and_the_default_includes() -> None:
    rules = (
        SyncRule(policy="include", field="n", rule="equals", value="7"),
        SyncRule(policy="exclude", field="n", rule=">", value="5"),
    )
    assert keep({"n": 7}, rules) is True
    assert keep({"n": 6}, rules) is False
    assert keep({"n": 1}, rules) is True
    assert keep({"other": 1}, rules) is True


def test_active_rules_come_from_the_filtering_document_in_order() -> None:
    filtering = [
        {
            "domain": "DEFAULT",
            "active": {
                "rules": [
                    {"id": "DEFAULT", "order": 2, "policy": "include", "field": "_", "rule": "regex", "value": ".*"},
                    {"id": "b", "order": 1, "policy": "exclude", "field": "x", "rule": "equals", "value": "2"},
                    {"id": "a", "order": 0, "policy": "include", "field": "x", "rule": "equals", "value": "1"},
                ]
            },
        }
    ]
    assert [r.value for r in active_rules(filtering)] == ["1", "2"]
    assert active_rules([]) == ()
    assert active_rules(None) == ()
