"""Row filters evaluated in Python, on rows that are not in a database (folder files, change-stream lines)."""

from typing import Any

from syncline_connectors.spec import Filter

_COMPARE = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def matches(row: dict[str, Any], filters: tuple[Filter, ...]) -> bool:
    """Does the row (keyed by source field name) pass every filter? A missing field counts as NULL."""
    for f in filters:
        value = row.get(f.field)
        if f.op == "is_null":
            ok = value is None
        elif f.op == "not_null":
            ok = value is not None
        elif f.op == "in":
            ok = str(value) in {str(v) for v in (f.value or [])}
        else:
            ok = value is not None and _compare(f.op, value, f.value)
        if not ok:
            return False
    return True


def _compare(op: str, value: Any, operand: Any) -> bool:
    try:
        return bool(_COMPARE[op](type(operand)(value) if operand is not None else value, operand))
    except (TypeError, ValueError):
        return bool(_COMPARE[op](str(value), str(operand)))
