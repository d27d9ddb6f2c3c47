"""Elastic's basic sync rules: include or exclude documents by a field's value, applied before indexing.

Rules are taken in their order; the first whose condition holds decides (include or exclude); the default rule
(include everything) comes last. A document whose field is missing matches no rule but the default.

Tenants write the `regex` patterns, so they run on RE2, whose matching time is linear in the text: no pattern
can stall the executor. A pattern RE2 cannot run (backreferences, lookaround) is refused when the rule is set
(`compile_pattern`, also what policy validates with).
"""

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import re2

from syncline_platform.errors import InvalidError

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_BACKREFERENCE = re.compile(r"invalid escape sequence: (\\[1-9]|\\[gk])")
_LOOKAROUND = re.compile(r"invalid perl operator: (\(\?<?[=!])")


def _explained(problem: str, pattern: str) -> str:
    """RE2's refusal, in terms of the construct a Python or Java regex user wrote."""
    if found := _BACKREFERENCE.match(problem):
        return f"backreferences ({found[1]}) are not supported"
    if problem.startswith("invalid perl operator: (?P") and "(?P=" in pattern:
        return "backreferences ((?P=name)) are not supported"
    if found := _LOOKAROUND.match(problem):
        return f"lookahead and lookbehind ({found[1]}) are not supported"
    return problem


class UnsupportedPatternError(InvalidError):
    """A sync rule's regex that RE2 does not accept: invalid, or a construct with no linear-time match."""

    def __init__(self, *, pattern: str, problem: str) -> None:
        self.pattern = pattern
        self.problem = problem
        super().__init__(f"invalid regex [{pattern}]: {_explained(problem, pattern)} (sync rules use RE2 syntax)")


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> "re2._Regexp[str]":
    """The pattern compiled by RE2, or UnsupportedPatternError saying what RE2 refused."""
    options = re2.Options()
    options.log_errors = False  # refusals are errors for the caller to report, not lines on stderr
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        problem = exc.args[0] if exc.args else exc
        raise UnsupportedPatternError(
            pattern=pattern, problem=problem.decode(errors="replace") if isinstance(problem, bytes) else str(problem)
        ) from exc


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
    "regex": lambda text, value: compile_pattern(value).match(text) is not None,
}
"""Rule name → test on the field's text."""


def _compare(actual: Any, value: str, op: str) -> bool:
    if isinstance(actual, int | float) and _NUMBER.match(value):
        left, right = float(actual), float(value)
        return left < right if op == "<" else left > right
    text = str(actual)
    return text < value if op == "<" else text > value


def active_rules(filtering: Any) -> tuple[SyncRule, ...]:
    """The active basic rules of a connector's `filtering` document, in order, without the default rule; their
    patterns are compiled here, so a rule stored before RE2 was the engine fails the run before anything moves."""
    if not isinstance(filtering, list) or not filtering:
        return ()
    active = (filtering[0] or {}).get("active") or {}
    rules = sorted((r for r in active.get("rules") or [] if r.get("id") != "DEFAULT"), key=lambda r: r["order"])
    for r in rules:
        if r["rule"] == "regex":
            compile_pattern(r["value"])
    return tuple(SyncRule(policy=r["policy"], field=r["field"], rule=r["rule"], value=r["value"]) for r in rules)


def keep(document: dict[str, Any], rules: tuple[SyncRule, ...]) -> bool:
    """Whether the rules index the document."""
    for rule in rules:
        if rule.matches(document):
            return rule.policy == "include"
    return True
