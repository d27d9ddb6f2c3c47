"""Elastic's basic sync rules, evaluated on documents; regex rules on a linear-time engine (RE2)."""

import pytest

from syncline_connectors.sync_rules import SyncRule, UnsupportedPatternError, active_rules, compile_pattern, keep
from syncline_platform.errors import InvalidError
from syncline_policy.rules import validate_changes


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


def test_a_catastrophic_pattern_against_a_long_value_returns() -> None:
    """`(a+)+$` backtracks exponentially in Python's `re`: this would not return in any lifetime there."""
    value = "a" * 100_000 + "!"
    rule = SyncRule(policy="exclude", field="f", rule="regex", value="(a+)+$")
    assert rule.matches({"f": value}) is False
    assert rule.matches({"f": "a" * 100_000}) is True
    assert keep({"f": value}, (rule,)) is True


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (r"(a)\1", r"backreferences (\1) are not supported"),
        (r"(?P<x>a)(?P=x)", "backreferences ((?P=name)) are not supported"),
        (r"a(?=b)", "lookahead and lookbehind ((?=) are not supported"),
        (r"(?<!x)y", "lookahead and lookbehind ((?<!) are not supported"),
        ("(", "missing )"),
    ],
)
def test_a_pattern_re2_cannot_run_is_refused_with_the_reason(pattern: str, problem: str) -> None:
    with pytest.raises(UnsupportedPatternError) as refused:
        compile_pattern(pattern)
    assert problem in str(refused.value)
    assert f"invalid regex [{pattern}]" in str(refused.value)
    assert "RE2" in str(refused.value)


def test_policy_refuses_a_rule_with_a_backreference() -> None:
    rule = {"id": "twice", "policy": "exclude", "field": "name", "rule": "regex", "value": r"(\w)\1"}
    with pytest.raises(InvalidError) as refused:
        validate_changes({"filtering": {"rules": [rule]}})
    assert str(refused.value) == (
        r"[filtering] filtering rule [twice]: invalid regex [(\w)\1]: backreferences (\1) are not supported"
        " (sync rules use RE2 syntax)"
    )
    ok = validate_changes({"filtering": {"rules": [rule | {"value": "(a+)+$"}]}})
    assert ok["filtering"][0]["active"]["rules"][0]["value"] == "(a+)+$"


def test_a_stored_rule_re2_cannot_run_fails_before_anything_moves() -> None:
    """Rules stored before RE2 was the engine (Python's `re` accepted backreferences) stop the run at its start."""
    rule = {"id": "old", "order": 0, "policy": "include", "field": "x", "rule": "regex", "value": r"(a)\1"}
    with pytest.raises(UnsupportedPatternError):
        active_rules([{"domain": "DEFAULT", "active": {"rules": [rule]}}])
