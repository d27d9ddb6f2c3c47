"""Value rules of Polytomic's dialect: the enums of a bulk sync and typed configuration maps."""

from typing import Any

from syncline_connectors.connection_types import ConfigKey, validate_configuration
from syncline_contracts.syncs import BulkSyncDefinition
from syncline_platform.errors import InvalidError

BULK_MODES = ("snapshot", "replicate")
"""A bulk sync's `mode`."""
DISCOVER = ("all", "onlyIncremental", "onlyNonIncremental", "none")
"""`automatically_add_new_objects` / `automatically_add_new_fields`."""
NORMALIZE_NAMES = ("enabled", "disabled", "legacy")
"""`normalize_names`."""


def _one_of(value: str, allowed: tuple[str, ...], *, field: str) -> None:
    if value not in allowed:
        raise InvalidError(f"[{field}] must be one of {', '.join(allowed)}, got [{value}]")


def check_enums(d: BulkSyncDefinition) -> None:
    """Every enum field of a bulk sync holds one of its values, and the limits are positive."""
    _one_of(d.mode, BULK_MODES, field="mode")
    _one_of(d.automatically_add_new_objects, DISCOVER, field="automatically_add_new_objects")
    _one_of(d.automatically_add_new_fields, DISCOVER, field="automatically_add_new_fields")
    _one_of(d.normalize_names, NORMALIZE_NAMES, field="normalize_names")
    for field in ("concurrency_limit", "resync_concurrency_limit"):
        value = getattr(d, field)
        if value is not None and value < 1:
            raise InvalidError(f"[{field}] must be at least 1, got [{value}]")


def check_configuration(keys: tuple[ConfigKey, ...], values: dict[str, Any], *, what: str) -> dict[str, Any]:
    """`values` typed and defaulted by `keys`; InvalidError naming every problem."""
    result, problems = validate_configuration(keys, values)
    if problems:
        raise InvalidError(f"invalid {what}: {'; '.join(problems)}")
    return result
