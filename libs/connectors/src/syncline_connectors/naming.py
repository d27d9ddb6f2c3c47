"""Destination names from source names (`NormalizeNames`)."""

import re

from syncline_connectors.spec import NormalizeNames

MAX_IDENTIFIER = 63
_NOT_WORD = re.compile(r"[^a-z0-9_]+")
_UNDERSCORES = re.compile(r"_+")


def normalize(name: str, rule: NormalizeNames) -> str:
    """`name` under `rule`, cut to PostgreSQL's identifier length."""
    match rule:
        case NormalizeNames.DISABLED:
            result = name
        case NormalizeNames.LEGACY:
            result = name.lower().replace(" ", "_")
        case _:
            result = _UNDERSCORES.sub("_", _NOT_WORD.sub("_", name.lower())).strip("_") or "_"
            if result[0].isdigit():
                result = f"_{result}"
    return result[:MAX_IDENTIFIER]


def normalize_all(names: list[str] | tuple[str, ...], rule: NormalizeNames) -> tuple[str, ...]:
    """Names under `rule`, made unique by a numeric suffix where two collapse onto one."""
    seen: dict[str, int] = {}
    result = []
    for name in names:
        base = normalize(name, rule)
        candidate = base
        while candidate in seen:
            seen[base] += 1
            candidate = f"{base[: MAX_IDENTIFIER - 4]}_{seen[base]}"
        seen.setdefault(candidate, 0)
        result.append(candidate)
    return tuple(result)
