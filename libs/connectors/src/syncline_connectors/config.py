"""Connector configuration schemas, by service type, in Elastic's connector vocabulary.

Policy validates configuration values against them, the gateway renders them (secrets blanked), and the
executor reads the values it needs.
"""

from dataclasses import dataclass
from typing import Any, Literal

FieldType = Literal["str", "int", "bool", "list"]


@dataclass(frozen=True)
class ConfigField:
    """One configuration field as Elastic's connectors describe it."""

    key: str
    label: str
    type: FieldType = "str"
    required: bool = True
    sensitive: bool = False
    identity: bool = False
    """Part of where the connector points: changing it needs the secrets again (`identity_keys`)."""
    default: Any = None
    order: int = 0

    def coerce(self, value: Any) -> Any:
        """The value in this field's type; raises ValueError when it cannot be."""
        if value is None or value == "":
            return self.default
        match self.type:
            case "int":
                return int(value)
            case "bool":
                return value if isinstance(value, bool) else str(value).lower() in {"true", "1", "yes"}
            case "list":
                return _as_list(value)
            case _:
                return str(value)


def _as_list(value: Any) -> list[str] | str:
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value).strip()
    if text == "*":
        return "*"
    return [part.strip() for part in text.split(",") if part.strip()]


POSTGRESQL_FIELDS: tuple[ConfigField, ...] = (
    ConfigField("host", "Host", identity=True, order=1),
    ConfigField("port", "Port", type="int", identity=True, order=2),
    ConfigField("username", "Username", identity=True, order=3),
    ConfigField("password", "Password", sensitive=True, required=False, order=4),
    ConfigField("database", "Database", identity=True, order=5),
    ConfigField("schema", "Schema", default="public", required=False, order=6),
    ConfigField("tables", "Comma-separated list of tables", type="list", default="*", required=False, order=7),
    ConfigField("fetch_size", "Rows fetched per request", type="int", default=1000, required=False, order=8),
    ConfigField(
        "tracking_field",
        "Column that grows with every change (incremental syncs move rows past the last value seen)",
        required=False,
        order=10,
    ),
    ConfigField("ssl_enabled", "Enable SSL verification", type="bool", default=False, required=False, order=9),
)

SCHEMAS: dict[str, tuple[ConfigField, ...]] = {"postgresql": POSTGRESQL_FIELDS}
"""Configuration fields by service type."""


def executable(snapshot: dict[str, Any]) -> bool:
    """Whether Syncline's executor takes a run with this snapshot (`spec.run_snapshot`): it carries a compiled spec,
    or why its sync does not compile (the executor fails it with that). Other runs stay pending for an external
    worker to claim (an Elastic connector of a service type Syncline has no source for)."""
    return "spec" in snapshot or "spec_error" in snapshot


def schema_for(service_type: str | None) -> tuple[ConfigField, ...] | None:
    """The fields of a service type, or None when Syncline has no connector for it."""
    return SCHEMAS.get(service_type or "")


def sensitive_keys(service_type: str | None) -> frozenset[str]:
    """Keys whose values are secrets and are sealed before they leave the gateway."""
    return frozenset(f.key for f in schema_for(service_type) or () if f.sensitive)


def identity_keys(service_type: str | None) -> tuple[str, ...]:
    """Keys that say where the connector points: changing one needs its secrets again."""
    return tuple(f.key for f in schema_for(service_type) or () if f.identity)


def validate_values(service_type: str | None, values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Coerce `values` to the schema of `service_type`; returns the coerced values and the problems found."""
    fields = schema_for(service_type)
    if fields is None:
        return {}, [f"service type [{service_type}] is not supported"]
    by_key = {f.key: f for f in fields}
    problems = [f"unknown configuration field [{k}]" for k in values if k not in by_key]
    coerced: dict[str, Any] = {}
    for field in fields:
        if field.sensitive:
            continue
        try:
            coerced[field.key] = field.coerce(values.get(field.key))
        except (TypeError, ValueError):
            problems.append(f"configuration field [{field.key}] must be of type {field.type}")
            continue
        if field.required and coerced[field.key] is None:
            problems.append(f"configuration field [{field.key}] is required")
    return coerced, problems
