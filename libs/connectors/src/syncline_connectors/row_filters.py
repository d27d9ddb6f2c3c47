"""Row filters evaluated in Python, on rows that are not in a database (folder files, change-stream lines)."""

from datetime import datetime
from decimal import Decimal, InvalidOperation
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
    """Compare as the database would: numbers as numbers, timestamps as instants, booleans as booleans, whatever
    JSON type the filter's operand or the row's value came in (a CSV cell is text, a change line's number is not)."""
    for kind in (_number, _instant, _boolean):
        pair = kind(value), kind(operand)
        if pair[0] is not None and pair[1] is not None:
            try:
                return bool(_COMPARE[op](*pair))
            except TypeError:  # an aware and a naive timestamp
                break
    return bool(_COMPARE[op](str(value), str(operand)))


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "t", "f"):
        return value.lower() in ("true", "t")
    return None
