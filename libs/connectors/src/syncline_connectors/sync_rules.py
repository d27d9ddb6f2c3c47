"""Elastic's basic sync rules: include or exclude documents by a field's value, applied before indexing.

Rules are taken in their order; the first whose condition holds decides (include or exclude); the default rule
(include everything) comes last. A document whose field is missing matches no rule but the default.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@dataclass(frozen=True)
class SyncRule:
    """One basic rule."""

    policy: str
    field: str
    rule: str
    value: str

    def matches(self, document: dict[str, Any]) -> bool:
        """Whether the rule's condition holds for the document."""
        actual = document.get(self.field)
        if actual is None:
            return False
        text = actual if isinstance(actual, str) else str(actual)
        if self.rule in ("<", ">"):
            return _compare(actual, self.value, self.rule)
        return _TEXT_TESTS.get(self.rule, _never)(text, self.value)


def _never(_: str, __: str) -> bool:
    return False


_TEXT_TESTS: dict[str, Callable[[str, str], bool]] = {
    "equals": lambda text, value: text == value,
    "contains": lambda text, value: value in text,
    "starts_with": lambda text, value: text.startswith(value),
    "ends_with": lambda text, value: text.endswith(value),
    "regex": lambda text, value: re.match(value, text) is not None,
}
"""Rule name → test on the field's text."""


def _compare(actual: Any, value: str, op: str) -> bool:
    if isinstance(actual, int | float) and _NUMBER.match(value):
        left, right = float(actual), float(value)
        return left < right if op == "<" else left > right
    text = str(actual)
    return text < value if op == "<" else text > value


def active_rules(filtering: Any) -> tuple[SyncRule, ...]:
    """The active basic rules of a connector's `filtering` document, in order, without the default rule."""
    if not isinstance(filtering, list) or not filtering:
        return ()
    active = (filtering[0] or {}).get("active") or {}
    rules = sorted((r for r in active.get("rules") or [] if r.get("id") != "DEFAULT"), key=lambda r: r["order"])
    return tuple(SyncRule(policy=r["policy"], field=r["field"], rule=r["rule"], value=r["value"]) for r in rules)


def keep(document: dict[str, Any], rules: tuple[SyncRule, ...]) -> bool:
    """Whether the rules index the document."""
    for rule in rules:
        if rule.matches(document):
            return rule.policy == "include"
    return True
