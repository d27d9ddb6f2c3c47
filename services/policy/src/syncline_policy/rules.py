"""Validation of connector field changes: each Elastic field has one rule turning the request value into what
policy stores (or an InvalidError saying why not)."""

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from syncline_connectors.sync_rules import UnsupportedPatternError, compile_pattern
from syncline_contracts.schedules import Schedule, ScheduleKind
from syncline_contracts.status import ConnectorStatus, JobType
from syncline_platform.errors import InvalidError
from syncline_platform.schedules import validate_schedule

Rule = Callable[[Any], Any]

_INDEX_FORBIDDEN = re.compile(r'[\\/*?"<>| ,#:]')
SCHEDULE_KINDS = ("access_control", "full", "incremental")
FILTER_POLICIES = ("include", "exclude")
FILTER_RULES = ("equals", "contains", "starts_with", "ends_with", "<", ">", "regex")
DEFAULT_RULE = {"id": "DEFAULT", "order": 0, "policy": "include", "field": "_", "rule": "regex", "value": ".*"}


def _text(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidError("expected a string")
    return value


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidError("expected an object")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidError("expected a boolean")
    return value


def index_name(value: Any) -> str | None:
    """Elasticsearch's index name rules."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidError("[index_name] must be a non-empty string")
    if value != value.lower() or _INDEX_FORBIDDEN.search(value) or value[0] in "-_+" or value in {".", ".."}:
        raise InvalidError(
            f"Invalid index name [{value}], must be lowercase, must not start with '-', '_' or '+', "
            "and must not contain '\\\\', '/', '*', '?', '\"', '<', '>', '|', ' ', ',', '#' or ':'"
        )
    if len(value.encode()) > 255:
        raise InvalidError(f"Invalid index name [{value}], index name is too long")
    return value


def _status(value: Any) -> str:
    try:
        return ConnectorStatus(value).value
    except ValueError as exc:
        allowed = ", ".join(s.value for s in ConnectorStatus)
        raise InvalidError(f"Unknown connector status [{value}]; expected one of [{allowed}]") from exc


def quartz_interval(value: Any) -> str:
    """A Quartz cron expression as Elastic's scheduling uses it (6 or 7 fields, seconds first), checked with
    the scheduler's own parser so an expression accepted here always fires."""
    if not isinstance(value, str) or len(value.split()) not in (6, 7):
        raise InvalidError(f"[interval] [{value}] is not a valid Quartz cron expression (6 or 7 fields)")
    validate_schedule(
        Schedule(schedule_id="interval", kind=ScheduleKind.QUARTZ, expression=value), now=datetime.now(UTC)
    )
    return value


def scheduling(value: Any) -> dict[str, Any]:
    """`{full|incremental|access_control: {enabled, interval}}`; kinds left out keep their value."""
    value = _object(value)
    unknown = sorted(set(value) - set(SCHEDULE_KINDS))
    if unknown:
        raise InvalidError(f"unknown scheduling kind [{', '.join(unknown)}]")
    result: dict[str, Any] = {}
    for kind, raw in value.items():
        config = _object(raw)
        if "interval" not in config:
            raise InvalidError(f"[{kind}] needs an [interval]")
        result[kind] = {"enabled": _bool(config.get("enabled", False)), "interval": quartz_interval(config["interval"])}
    return result


def _order(rule: dict[str, Any]) -> int:
    """A rule's `order`: an integer (or its text, as Elastic reads it)."""
    value = rule.get("order", 0)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidError(f"filtering rule [{rule.get('id')}]: [order] must be an integer, got [{value}]")
    try:
        return int(value)
    except (ValueError, OverflowError) as exc:
        raise InvalidError(f"filtering rule [{rule.get('id')}]: [order] must be an integer, got [{value}]") from exc


def _rule(raw: Any, now: str) -> dict[str, Any]:
    rule = _object(raw)
    if rule.get("policy") not in FILTER_POLICIES:
        raise InvalidError(f"filtering rule policy must be one of {list(FILTER_POLICIES)}, got [{rule.get('policy')}]")
    if rule.get("rule") not in FILTER_RULES:
        raise InvalidError(f"filtering rule must be one of {list(FILTER_RULES)}, got [{rule.get('rule')}]")
    if not isinstance(rule.get("field"), str) or not isinstance(rule.get("value"), str):
        raise InvalidError("filtering rules need a string [field] and [value]")
    if rule["rule"] == "regex":
        try:
            compile_pattern(rule["value"])  # the executor's engine: what it cannot run is refused here
        except UnsupportedPatternError as exc:
            raise InvalidError(f"filtering rule [{rule.get('id')}]: {exc}") from exc
    return {
        "id": str(rule.get("id") or f"rule-{rule['field']}-{rule['rule']}"),
        "order": _order(rule),
        "policy": rule["policy"],
        "field": rule["field"],
        "rule": rule["rule"],
        "value": rule["value"],
        "created_at": rule.get("created_at", now),
        "updated_at": now,
    }


def filtering(value: Any) -> list[dict[str, Any]]:
    """Basic sync rules, stored as Elastic's filtering document (validated, so draft and active agree)."""
    value = _object(value)
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    rules = [_rule(r, now) for r in value.get("rules") or [] if _object(r).get("id") != "DEFAULT"]
    rules.sort(key=lambda r: r["order"])
    rules.append(DEFAULT_RULE | {"order": len(rules), "created_at": now, "updated_at": now})
    block = {
        "advanced_snippet": value.get("advanced_snippet") or {"value": {}, "created_at": now, "updated_at": now},
        "rules": rules,
        "validation": {"state": "valid", "errors": []},
    }
    return [{"domain": "DEFAULT", "active": block, "draft": block}]


RULES: dict[str, Rule] = {
    "name": _text,
    "description": _text,
    "language": _text,
    "service_type": _text,
    "index_name": index_name,
    "status": _status,
    "error": _text,
    "is_native": _bool,
    "pipeline": _object,
    "features": _object,
    "api_key_id": _text,
    "api_key_secret_id": _text,
    "scheduling": scheduling,
    "filtering": filtering,
    "last_sync": _object,
    "sync_cursor": lambda value: value,
}
"""Every field an UpdateConnector may change."""


def validate_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The changes as policy stores them; `last_seen` (a check-in) is stamped by the database."""
    unknown = sorted(set(changes) - set(RULES) - {"last_seen"})
    if unknown:
        raise InvalidError(f"unknown connector field [{', '.join(unknown)}]")
    validated: dict[str, Any] = {}
    for field, value in changes.items():
        if field == "last_seen":
            continue
        try:
            validated[field] = RULES[field](value)
        except InvalidError as exc:
            raise InvalidError(f"[{field}] {exc}" if not str(exc).startswith("[") else str(exc)) from exc
    return validated


def schedules_of(scheduling: dict[str, Any]) -> tuple[Schedule, ...]:
    """Elastic's enabled `scheduling` kinds as the scheduler's schedules (one per job type)."""
    return tuple(
        Schedule(schedule_id=kind, kind=ScheduleKind.QUARTZ, expression=config["interval"], job_type=JobType(kind))
        for kind, config in sorted(scheduling.items())
        if kind in SCHEDULE_KINDS and config.get("enabled")
    )
