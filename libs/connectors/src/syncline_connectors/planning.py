"""From a spec and what discovery found to the objects of one run (`ObjectPlan`s).

Listed objects must exist; with `new_objects=all`, every other discovered object joins with all its fields.
Destination names follow `normalize_names`; with `new_fields=none`, an existing destination object keeps the
fields it has (source fields added since are left out). Obfuscated fields are marked on their columns, which take
the type `text` (the hex SHA-256 the destination gets); a key field cannot be obfuscated (writes and resumes match
rows by key).
"""

from collections.abc import Awaitable, Callable
from dataclasses import replace

import structlog

from syncline_connectors.capabilities import Column, ObjectInfo, ObjectPlan
from syncline_connectors.naming import normalize, normalize_all
from syncline_connectors.spec import Discover, ObjectSpec, SyncSpec
from syncline_platform.errors import InvalidError

log = structlog.get_logger(__name__)

ExistingColumns = Callable[[str], Awaitable[list[str] | None]]


def select(
    spec: SyncSpec, discovered: list[ObjectInfo], *, default_schema: str | None
) -> list[tuple[ObjectSpec, ObjectInfo]]:
    """The listed objects (checked to exist), then the new ones when the spec takes them."""
    by_key = {(o.schema, o.name): o for o in discovered}
    chosen: list[tuple[ObjectSpec, ObjectInfo]] = []
    missing = []
    for wanted in spec.objects:
        found = by_key.get((wanted.schema_name or default_schema, wanted.name))
        if found is None and wanted.schema_name is None:
            found = next((o for o in discovered if o.name == wanted.name), None)
        if found is None:
            missing.append(wanted.name)
        else:
            chosen.append((wanted, found))
    if missing:
        raise InvalidError(f"tables not found in schema [{default_schema}]: {', '.join(missing)}")
    if spec.new_objects is Discover.ALL:
        taken = {(i.schema, i.name) for _, i in chosen}
        chosen += [
            (ObjectSpec(name=o.name, schema_name=o.schema), o) for o in discovered if (o.schema, o.name) not in taken
        ]
    return chosen


async def plan(
    spec: SyncSpec,
    discovered: list[ObjectInfo],
    *,
    default_schema: str | None,
    existing: ExistingColumns | None = None,
) -> list[ObjectPlan]:
    """The run's objects, in a stable order."""
    plans = []
    for wanted, info in select(spec, discovered, default_schema=default_schema):
        plans.append(await _plan_one(spec, wanted, info, existing))
    return plans


async def _plan_one(
    spec: SyncSpec, wanted: ObjectSpec, info: ObjectInfo, existing: ExistingColumns | None
) -> ObjectPlan:
    by_name = {c.name: c for c in info.columns}
    if wanted.fields is not None:
        unknown = [f for f in wanted.fields if f not in by_name]
        if unknown:
            raise InvalidError(f"fields not found in [{info.key}]: {', '.join(unknown)}")
    key = wanted.primary_key or info.primary_key
    names = list(wanted.fields) if wanted.fields is not None else [c.name for c in info.columns]
    for required in (*key, *([wanted.tracking_field] if wanted.tracking_field else [])):
        if required not in by_name:
            raise InvalidError(f"field [{required}] not found in [{info.key}]")
        if required not in names:
            names.append(required)
    output = wanted.output_name or normalize(info.name, spec.normalize_names)
    outputs = normalize_all(names, spec.normalize_names)
    if spec.new_fields is Discover.NONE and wanted.fields is None and existing is not None:
        present = await existing(output)
        if present:
            kept = [(n, o) for n, o in zip(names, outputs, strict=True) if o in present or n in key]
            dropped = len(names) - len(kept)
            if dropped:
                log.info("plan.new_fields_ignored", object=info.key, fields=dropped)
            names, outputs = [n for n, _ in kept], tuple(o for _, o in kept)
    hidden = _obfuscated(wanted, info, key=key)
    return ObjectPlan(
        schema=info.schema,
        name=info.name,
        columns=tuple(_obfuscate(by_name[n]) if n in hidden else by_name[n] for n in names),
        primary_key=tuple(key),
        output=output,
        output_columns=tuple(outputs),
        tracking_field=wanted.tracking_field,
        filters=wanted.filters,
        table_columns=tuple(c.name for c in info.columns),
        indexes=info.indexes,
    )


def _obfuscated(wanted: ObjectSpec, info: ObjectInfo, *, key: tuple[str, ...]) -> frozenset[str]:
    """The fields of `wanted` to hash; none may be a key field."""
    keyed = [f for f in wanted.obfuscated if f in key]
    if keyed:
        raise InvalidError(f"key fields of [{info.key}] cannot be obfuscated: {', '.join(keyed)}")
    return frozenset(wanted.obfuscated)


def _obfuscate(column: Column) -> Column:
    """The column as it leaves the source: hashed values of type text, its own type kept for reading."""
    return replace(column, type="text", obfuscated=True, source_type=column.read_type)
