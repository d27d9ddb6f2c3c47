"""Bulk-sync rules: what a bulk sync must look like, its selection and schedules. No broker imports.

Each command yields the events to publish on `syncline.syncs.events.v1`, the answer first: `BulkSyncConfigured`
or `BulkSyncDeleted`, then `SchedulesConfigured` whenever the schedules or the active flag changed.
"""

from datetime import UTC, datetime
from typing import Any

from syncline_connectors import connection_types
from syncline_connectors.capabilities import ObjectInfo
from syncline_connectors.connection_types import CONNECTION_TYPES, SourceUnavailableError
from syncline_connectors.reach import Reach
from syncline_contracts.base import Message
from syncline_contracts.schedules import Schedule, SchedulesConfigured
from syncline_contracts.syncs import (
    ActivateBulkSync,
    AddBulkSyncSchedule,
    BulkSyncConfigured,
    BulkSyncDefinition,
    BulkSyncDeleted,
    BulkSyncSchedule,
    ChangeBulkSyncSchedule,
    ConfigureBulkSyncSchemas,
    CreateBulkSync,
    DeleteBulkSync,
    RemoveBulkSyncSchedule,
    UpdateBulkSync,
)
from syncline_platform.db import Conn
from syncline_platform.errors import ConflictError, InvalidError
from syncline_platform.secrets import Sealer
from syncline_policy import selection
from syncline_policy import sync_repository as repo
from syncline_policy.bulk_schedules import compile_schedules
from syncline_policy.compilers.polytomic import source_extra, store_spec
from syncline_policy.errors import BulkSyncNotFoundError, NameTakenError, ScheduleNotFoundError
from syncline_policy.polytomic_rules import check_configuration, check_enums

DIALECT = "polytomic"


def _now() -> datetime:
    return datetime.now(UTC)


async def _connection(conn: Conn, *, org_id: str, connection_id: str, role: str) -> dict[str, Any]:
    row = await repo.get_connection(conn, org_id=org_id, connection_id=connection_id)
    if row is None:
        raise InvalidError(f"{role} connection {connection_id} not found")
    kind = CONNECTION_TYPES[row["type"]]
    if not (kind.source if role == "source" else kind.destination):
        raise InvalidError(f"a [{row['type']}] connection cannot be a bulk sync {role}")
    return row


async def _columns(conn: Conn, *, org_id: str, sync_id: str, d: BulkSyncDefinition, actor: str) -> dict[str, Any]:
    """The sync's columns, after every rule on the definition held."""
    if not d.name.strip():
        raise InvalidError("name is required")
    if await repo.name_taken(conn, table="syncs", org_id=org_id, name=d.name, except_id=sync_id):
        raise NameTakenError(kind="bulk sync", name=d.name)
    source = await _connection(conn, org_id=org_id, connection_id=d.source_connection_id, role="source")
    target = await _connection(conn, org_id=org_id, connection_id=d.destination_connection_id, role="destination")
    check_enums(d)
    source_config = check_configuration(
        CONNECTION_TYPES[source["type"]].source_configuration, d.source_configuration, what="source_configuration"
    )
    target_config = check_configuration(
        CONNECTION_TYPES[target["type"]].destination_configuration,
        d.destination_configuration,
        what="destination_configuration",
    )
    return {
        "dialect": DIALECT,
        "name": d.name,
        "source_connection_id": d.source_connection_id,
        "destination_connection_id": d.destination_connection_id,
        "active": d.active,
        "mode": d.mode,
        "source_configuration": source_config,
        "destination_configuration": target_config,
        "add_new_objects": d.automatically_add_new_objects,
        "add_new_fields": d.automatically_add_new_fields,
        "normalize_names": d.normalize_names,
        "data_cutoff_timestamp": _aware(d.data_cutoff_timestamp),
        "disable_record_timestamps": d.disable_record_timestamps,
        "concurrency_limit": d.concurrency_limit,
        "resync_concurrency_limit": d.resync_concurrency_limit,
        "policies": list(d.policies),
        "created_by": actor,
        "updated_by": actor,
    }


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


async def _discovered(
    conn: Conn, *, org_id: str, connection_id: str, sealer: Sealer, reach: Reach
) -> list[ObjectInfo] | None:
    """The source's objects read live by its connector (as the executor plans runs), or None when it does not
    answer."""
    row = await repo.get_connection(conn, org_id=org_id, connection_id=connection_id)
    assert row is not None  # noqa: S101 - checked by _columns in this transaction
    secrets = {k: sealer.open(v) for k, v in row["sealed_secrets"].items() if v}
    try:
        return await connection_types.discover(
            row["type"],
            row["configuration"],
            secrets=secrets,
            reach=reach.for_org(org_id),
            extra=source_extra(row["type"]),
        )
    except SourceUnavailableError:
        return None


async def _selection(
    conn: Conn, *, org_id: str, sync_id: str, d: BulkSyncDefinition, sealer: Sealer, reach: Reach, keep: bool
) -> list[dict[str, Any]]:
    """The object rows: discovered objects merged into the stored ones (`keep`), the requested selection
    applied; on create without `schemas`, every object is selected."""
    stored = await repo.list_objects(conn, sync_id=sync_id) if keep else []
    found = await _discovered(conn, org_id=org_id, connection_id=d.source_connection_id, sealer=sealer, reach=reach)
    if found is None and not stored:
        raise InvalidError(f"source connection {d.source_connection_id} cannot be read to discover its schemas")
    rows = selection.merge_discovered(stored, found or [])
    if d.schemas is None and not keep:
        for row in rows:
            row["enabled"] = True
    rows = selection.select(rows, d.schemas)
    source = await repo.get_connection(conn, org_id=org_id, connection_id=d.source_connection_id)
    assert source is not None  # noqa: S101
    return selection.name_outputs(rows, normalize=d.normalize_names, source_type=source["type"])


async def _save_schedules(
    conn: Conn, *, org_id: str, sync_id: str, schedules: tuple[BulkSyncSchedule, ...], actor: str, now: datetime
) -> None:
    compiled = compile_schedules(schedules, now=now)
    for position, (spec, built) in enumerate(zip(schedules, compiled, strict=True)):
        row = {
            "id": spec.schedule_id,
            "position": position,
            "is_default": spec.is_default,
            "spec": spec.model_dump(mode="json", exclude={"schedule_id", "is_default"}),
            "compiled": built.model_dump(mode="json"),
        }
        await repo.save_schedule(conn, org_id=org_id, sync_id=sync_id, row=row, actor=actor)
    await repo.delete_schedules(conn, org_id=org_id, sync_id=sync_id, keep=[s.schedule_id for s in schedules])


async def _announce(
    conn: Conn,
    *,
    org_id: str,
    sync_id: str,
    result: str,
    active: bool,
    now: datetime,
    stop_runs: bool | None = None,
) -> list[Message]:
    rows = await repo.list_schedules(conn, org_id=org_id, sync_id=sync_id)
    return [
        BulkSyncConfigured(sync_id=sync_id, result="created" if result == "created" else "updated", active=active),
        SchedulesConfigured(
            sync_id=sync_id,
            schedules=tuple(Schedule.model_validate(r["compiled"]) for r in rows),
            active=active,
            configured_at=now,
            stop_runs=stop_runs,
        ),
    ]


async def create_bulk_sync(
    conn: Conn, *, org_id: str, cmd: CreateBulkSync, sealer: Sealer, reach: Reach
) -> list[Message]:
    """Create the sync with its schedules and selection."""
    if await repo.get_sync(conn, org_id=org_id, sync_id=cmd.sync_id) is not None:
        raise ConflictError(f"bulk sync {cmd.sync_id} already exists")
    now = _now()
    columns = await _columns(conn, org_id=org_id, sync_id=cmd.sync_id, d=cmd.definition, actor=cmd.actor)
    rows = await _selection(
        conn, org_id=org_id, sync_id=cmd.sync_id, d=cmd.definition, sealer=sealer, reach=reach, keep=False
    )
    await repo.save_sync(conn, org_id=org_id, sync_id=cmd.sync_id, values=columns)
    await _save_schedules(
        conn, org_id=org_id, sync_id=cmd.sync_id, schedules=cmd.definition.schedules, actor=cmd.actor, now=now
    )
    await repo.replace_objects(conn, sync_id=cmd.sync_id, objects=rows)
    await store_spec(conn, org_id=org_id, sync_id=cmd.sync_id)
    return await _announce(
        conn, org_id=org_id, sync_id=cmd.sync_id, result="created", active=cmd.definition.active, now=now
    )


async def update_bulk_sync(
    conn: Conn, *, org_id: str, cmd: UpdateBulkSync, sealer: Sealer, reach: Reach
) -> list[Message]:
    """Replace the sync's definition; `schemas` left out keeps the selection."""
    current = await repo.get_sync(conn, org_id=org_id, sync_id=cmd.sync_id)
    if current is None:
        raise BulkSyncNotFoundError(cmd.sync_id)
    now = _now()
    d = cmd.definition
    columns = await _columns(conn, org_id=org_id, sync_id=cmd.sync_id, d=d, actor=cmd.actor)
    columns.pop("created_by")
    same_source = current["source_connection_id"] == d.source_connection_id
    rows = await _selection(conn, org_id=org_id, sync_id=cmd.sync_id, d=d, sealer=sealer, reach=reach, keep=same_source)
    await repo.save_sync(conn, org_id=org_id, sync_id=cmd.sync_id, values=columns)
    await _save_schedules(conn, org_id=org_id, sync_id=cmd.sync_id, schedules=d.schedules, actor=cmd.actor, now=now)
    await repo.replace_objects(conn, sync_id=cmd.sync_id, objects=rows)
    await store_spec(conn, org_id=org_id, sync_id=cmd.sync_id)
    return await _announce(conn, org_id=org_id, sync_id=cmd.sync_id, result="updated", active=d.active, now=now)


async def _existing(conn: Conn, *, org_id: str, sync_id: str) -> dict[str, Any]:
    row = await repo.get_sync(conn, org_id=org_id, sync_id=sync_id)
    if row is None:
        raise BulkSyncNotFoundError(sync_id)
    return row


async def delete_bulk_sync(conn: Conn, *, org_id: str, cmd: DeleteBulkSync) -> list[Message]:
    """Delete the sync; its schedules stop."""
    await _existing(conn, org_id=org_id, sync_id=cmd.sync_id)
    await repo.delete_sync(conn, sync_id=cmd.sync_id)
    return deleted_events(cmd.sync_id)


def deleted_events(sync_id: str) -> list[Message]:
    """What a deleted sync announces: it is gone, and it has no schedules any more."""
    return [
        BulkSyncDeleted(sync_id=sync_id),
        SchedulesConfigured(sync_id=sync_id, schedules=(), active=False, configured_at=_now()),
    ]


async def activate_bulk_sync(conn: Conn, *, org_id: str, cmd: ActivateBulkSync) -> list[Message]:
    """Turn the sync's schedules on or off."""
    await _existing(conn, org_id=org_id, sync_id=cmd.sync_id)
    await repo.touch_sync(conn, sync_id=cmd.sync_id, actor=cmd.actor, active=cmd.active)
    # deactivating also asks the running execution to stop
    stop_runs = True if not cmd.active else None
    return await _announce(
        conn, org_id=org_id, sync_id=cmd.sync_id, result="updated", active=cmd.active, now=_now(), stop_runs=stop_runs
    )


async def _schedule_specs(conn: Conn, *, org_id: str, sync_id: str) -> list[BulkSyncSchedule]:
    rows = await repo.list_schedules(conn, org_id=org_id, sync_id=sync_id)
    return [BulkSyncSchedule(schedule_id=r["id"], is_default=r["is_default"], **r["spec"]) for r in rows]


async def _replace_schedules(
    conn: Conn, *, sync: dict[str, Any], schedules: list[BulkSyncSchedule], actor: str
) -> list[Message]:
    now = _now()
    org_id, sync_id = sync["org_id"], sync["id"]
    await _save_schedules(conn, org_id=org_id, sync_id=sync_id, schedules=tuple(schedules), actor=actor, now=now)
    await repo.touch_sync(conn, sync_id=sync_id, actor=actor)
    return await _announce(conn, org_id=org_id, sync_id=sync_id, result="updated", active=sync["active"], now=now)


async def add_schedule(conn: Conn, *, org_id: str, cmd: AddBulkSyncSchedule) -> list[Message]:
    """Add a schedule beside the others."""
    sync = await _existing(conn, org_id=org_id, sync_id=cmd.sync_id)
    specs = await _schedule_specs(conn, org_id=org_id, sync_id=cmd.sync_id)
    if any(s.schedule_id == cmd.schedule.schedule_id for s in specs):
        raise ConflictError(f"schedule {cmd.schedule.schedule_id} already exists")
    added = cmd.schedule.model_copy(update={"is_default": False})
    return await _replace_schedules(conn, sync=sync, schedules=[*specs, added], actor=cmd.actor)


async def change_schedule(conn: Conn, *, org_id: str, cmd: ChangeBulkSyncSchedule) -> list[Message]:
    """Replace one schedule (it stays the default when it was)."""
    sync = await _existing(conn, org_id=org_id, sync_id=cmd.sync_id)
    specs = await _schedule_specs(conn, org_id=org_id, sync_id=cmd.sync_id)
    current = next((s for s in specs if s.schedule_id == cmd.schedule.schedule_id), None)
    if current is None:
        raise ScheduleNotFoundError(sync_id=cmd.sync_id, schedule_id=cmd.schedule.schedule_id)
    changed = cmd.schedule.model_copy(update={"is_default": current.is_default})
    schedules = [changed if s.schedule_id == changed.schedule_id else s for s in specs]
    return await _replace_schedules(conn, sync=sync, schedules=schedules, actor=cmd.actor)


async def remove_schedule(conn: Conn, *, org_id: str, cmd: RemoveBulkSyncSchedule) -> list[Message]:
    """Remove a non-default schedule."""
    sync = await _existing(conn, org_id=org_id, sync_id=cmd.sync_id)
    specs = await _schedule_specs(conn, org_id=org_id, sync_id=cmd.sync_id)
    current = next((s for s in specs if s.schedule_id == cmd.schedule_id), None)
    if current is None:
        raise ScheduleNotFoundError(sync_id=cmd.sync_id, schedule_id=cmd.schedule_id)
    if current.is_default:
        raise InvalidError("the default schedule cannot be deleted; update it instead (e.g. to manual)")
    schedules = [s for s in specs if s.schedule_id != cmd.schedule_id]
    return await _replace_schedules(conn, sync=sync, schedules=schedules, actor="")


async def configure_schemas(conn: Conn, *, org_id: str, cmd: ConfigureBulkSyncSchemas) -> list[Message]:
    """Change some objects' configuration."""
    sync = await _existing(conn, org_id=org_id, sync_id=cmd.sync_id)
    rows = selection.configure(await repo.list_objects(conn, sync_id=cmd.sync_id), cmd.schemas, sync_id=cmd.sync_id)
    source = await repo.get_connection(conn, org_id=org_id, connection_id=sync["source_connection_id"])
    source_type = source["type"] if source else "postgresql"
    rows = selection.name_outputs(rows, normalize=sync["normalize_names"], source_type=source_type)
    await repo.replace_objects(conn, sync_id=cmd.sync_id, objects=rows)
    await repo.touch_sync(conn, sync_id=cmd.sync_id, actor=cmd.actor)
    await store_spec(conn, org_id=org_id, sync_id=cmd.sync_id)
    return [BulkSyncConfigured(sync_id=cmd.sync_id, result="updated", active=sync["active"])]
