"""AWS AppIntegrations' compiler: a data integration's association → the data plane's `SyncSpec`, kept in
`policy.sync_specs` under the association's id whenever the association is created or changed.

- The objects are the association's `ObjectConfiguration` (else the integration's): keys `schema.table`, each
  with `fields` (the columns; all when absent), and Syncline's `tracking_field` and `primary_key` (one-item and
  any-length lists). A folder source's objects are its `FileConfiguration` folders; `Filters` `include` and
  `exclude` are file name patterns.
- Runs upsert (mode `incremental`): nothing already at the destination is deleted. An on-demand window
  (`StartTime` ≤ tracking field < `EndTime`, epoch milliseconds) and `FirstExecutionFrom` (the first run's lower
  bound) become filters on each object's tracking field.
- `ClientAssociationMetadata` holds destination settings: `schema` (PostgreSQL, default `public`), `path` and
  `format` (a folder: sub-folder and `jsonl`/`csv`/`parquet`), `topic` (Kafka: the topic's name, created
  when missing, `$database$`, `$schema$` and `$tablename$` filled in; without it, one topic per table).
"""

from pathlib import PurePath
from typing import Any

from syncline_connectors.connection_types import endpoint_of
from syncline_connectors.files import relative_name
from syncline_connectors.spec import (
    Discover,
    Endpoint,
    FileFormat,
    Filter,
    KafkaPolicy,
    Mode,
    NormalizeNames,
    ObjectSpec,
    SyncSpec,
)
from syncline_contracts.data_integrations import ExecutionConfig, FileConfig, ScheduleConfig
from syncline_contracts.status import JobType
from syncline_platform.db import Conn
from syncline_platform.errors import InvalidError
from syncline_platform.schedules import parse_instant
from syncline_policy.compilers import Compiled, store

DIALECT = "aws"
OBJECT_KEYS = frozenset({"fields", "tracking_field", "primary_key"})
"""What an `ObjectConfiguration` entry may hold."""
FILE_FORMATS = frozenset(f.value for f in FileFormat)


def _instant(value: str, *, what: str) -> str:
    try:
        return parse_instant(value).isoformat()
    except Exception as exc:  # the platform's parse error is private; its message says what is wrong
        raise InvalidError(f"{what}: {exc}") from exc


def window(integration: dict[str, Any], execution: ExecutionConfig | None) -> tuple[str | None, str | None]:
    """(lower, upper) bounds of the rows the runs move, as ISO instants: the on-demand window, else the first
    execution's start of the schedule that applies."""
    if execution is not None and execution.execution_mode == "ON_DEMAND":
        if execution.start_time is None:  # no OnDemandConfiguration: every row
            return None, None
        lower = _instant(execution.start_time, what="OnDemandConfiguration.StartTime")
        upper = _instant(execution.end_time, what="OnDemandConfiguration.EndTime") if execution.end_time else None
        if upper is not None and upper <= lower:
            raise InvalidError("OnDemandConfiguration.EndTime must be after StartTime")
        return lower, upper
    schedule = schedule_of(integration, execution)
    if schedule is not None and schedule.first_execution_from:
        return _instant(schedule.first_execution_from, what="ScheduleConfiguration.FirstExecutionFrom"), None
    return None, None


def schedule_of(integration: dict[str, Any], execution: ExecutionConfig | None) -> ScheduleConfig | None:
    """The schedule that applies: the association's (`SCHEDULED`), or the integration's when the association
    names no execution configuration."""
    if execution is not None:
        return execution.schedule if execution.execution_mode == "SCHEDULED" else None
    config = integration.get("schedule_config")
    return ScheduleConfig.model_validate(config) if config else None


def _one(values: tuple[str, ...] | list[str] | None, *, what: str) -> str | None:
    if not values:
        return None
    if len(values) != 1:
        raise InvalidError(f"{what} takes exactly one field")
    return values[0]


def _object(key: str, entry: dict[str, Any], *, source_type: str, bounds: tuple[str | None, str | None]) -> ObjectSpec:
    unknown = set(entry) - OBJECT_KEYS
    if unknown:
        raise InvalidError(f"ObjectConfiguration [{key}]: unknown keys {sorted(unknown)}; use {sorted(OBJECT_KEYS)}")
    tracking = _one(entry.get("tracking_field"), what=f"ObjectConfiguration [{key}].tracking_field")
    lower, upper = bounds
    if (lower or upper) and tracking is None:
        raise InvalidError(f"ObjectConfiguration [{key}] needs a tracking_field to select a time range of rows")
    filters = []
    if tracking and lower:
        filters.append(Filter(field=tracking, op=">=", value=lower))
    if tracking and upper:
        filters.append(Filter(field=tracking, op="<", value=upper))
    schema_name, name = key.split(".", 1) if source_type == "postgresql" and "." in key else (None, key)
    if source_type == "postgresql" and schema_name is None:
        raise InvalidError(f"ObjectConfiguration [{key}]: a PostgreSQL object is named schema.table")
    fields = entry.get("fields")
    key_fields = entry.get("primary_key")
    return ObjectSpec(
        name=name,
        schema_name=schema_name,
        fields=tuple(fields) if fields else None,
        filters=tuple(filters),
        tracking_field=tracking,
        primary_key=tuple(key_fields) if key_fields else None,
    )


def _objects(
    integration: dict[str, Any], association: dict[str, Any], *, source_type: str, bounds: tuple[str | None, str | None]
) -> tuple[ObjectSpec, ...]:
    configured: dict[str, Any] = (
        association.get("object_configuration") or integration.get("object_configuration") or {}
    )
    if source_type == "file":
        files = integration.get("file_configuration")
        folders = FileConfig.model_validate(files).folders if files else tuple(configured) or (".",)
        for folder in folders:
            if folder != ".":  # the connection's folder itself
                relative_name(folder, what="FileConfiguration.Folders")
        return tuple(
            _object(folder, configured.get(folder, {}), source_type=source_type, bounds=bounds) for folder in folders
        )
    if not configured:
        raise InvalidError("ObjectConfiguration must name at least one object (schema.table)")
    return tuple(_object(k, v, source_type=source_type, bounds=bounds) for k, v in configured.items())


def _file_filters(integration: dict[str, Any]) -> dict[str, Any]:
    files = integration.get("file_configuration")
    filters = (FileConfig.model_validate(files).filters or {}) if files else {}
    unknown = set(filters) - {"include", "exclude"}
    if unknown:
        raise InvalidError(f"FileConfiguration.Filters: unknown keys {sorted(unknown)}; use include, exclude")
    return {k: list(v) for k, v in filters.items()}


def _destination(target: dict[str, Any], metadata: dict[str, str]) -> tuple[Endpoint, FileFormat, KafkaPolicy | None]:
    kind = target["type"]
    allowed = {"postgresql": {"schema"}, "file": {"path", "format"}, "kafka": {"topic"}}[kind]
    extra = {k: v for k, v in metadata.items() if k in allowed}
    file_format = FileFormat.JSONL
    kafka = None
    if kind == "file":
        fmt = extra.pop("format", FileFormat.JSONL.value)
        if fmt not in FILE_FORMATS:
            raise InvalidError(f"ClientAssociationMetadata.format [{fmt}]: use one of {sorted(FILE_FORMATS)}")
        file_format = FileFormat(fmt)
        if extra.get("path"):
            sub = relative_name(extra["path"], what="ClientAssociationMetadata.path")
            extra["path"] = str(PurePath(target["configuration"]["path"]) / sub)
    if kind == "kafka" and extra.get("topic"):
        kafka = KafkaPolicy(topic_policy=1, topic_name_format=extra.pop("topic"))
    endpoint = endpoint_of(target["type"], target["configuration"], extra=extra)
    return endpoint, file_format, kafka


def compile_spec(
    *,
    integration: dict[str, Any],
    association: dict[str, Any],
    source: dict[str, Any],
    target: dict[str, Any],
) -> SyncSpec:
    """The spec of an association's runs (endpoint secrets left out)."""
    raw = association.get("execution_configuration")
    execution = ExecutionConfig.model_validate(raw) if raw else None
    bounds = window(integration, execution)
    objects = _objects(integration, association, source_type=source["type"], bounds=bounds)
    destination, file_format, kafka = _destination(target, association.get("client_association_metadata") or {})
    source_extra = _file_filters(integration) | {"object_per": "folder"} if source["type"] == "file" else {}
    return SyncSpec(
        sync_id=association["id"],
        source=endpoint_of(source["type"], source["configuration"], extra=source_extra),
        destination=destination,
        objects=objects,
        mode=Mode.INCREMENTAL,
        new_objects=Discover.NONE,
        new_fields=Discover.ALL,
        normalize_names=NormalizeNames.DISABLED,
        file_format=file_format,
        kafka=kafka,
        isolate_failures=False,
    )


def _sealed(spec_endpoint: Endpoint, connection: dict[str, Any]) -> Endpoint:
    return spec_endpoint.model_copy(update={"sealed_secrets": dict(connection["sealed_secrets"])})


async def store_spec(
    conn: Conn,
    *,
    org_id: str,
    integration: dict[str, Any],
    association: dict[str, Any],
    source: dict[str, Any],
    target: dict[str, Any],
) -> None:
    """Compile the association, its connections' secrets sealed in, and keep its spec for its runs."""
    spec = compile_spec(integration=integration, association=association, source=source, target=target)
    spec = spec.model_copy(
        update={"source": _sealed(spec.source, source), "destination": _sealed(spec.destination, target)}
    )
    compiled = Compiled(
        dialect=DIALECT,
        definition={"id": association["id"], "name": integration["name"], "dialect": DIALECT},
        specs={JobType.FULL.value: spec},
    )
    await store(conn, org_id=org_id, sync_id=association["id"], compiled=compiled)
