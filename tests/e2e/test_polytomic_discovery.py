"""One discovery for every reader of a source, with the official `polytomic` SDK through the whole system: the
gateway's schema discovery, policy's selection and the executor's plan agree on the objects, columns, types and
primary key of a PostgreSQL database whose `information_schema` presents it otherwise (a partitioned table, whose
partitions it lists as tables of their own, with a column of a domain type and an array column)."""

import pytest
from polytomic import BulkSyncDefaultScheduleRequest, Polytomic
from tests.e2e.polytomic_support import connections, execute, fetch, name, run

pytestmark = pytest.mark.e2e

READINGS = """
CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
CREATE TABLE readings (id bigint NOT NULL, at date NOT NULL, level positive, tags text[], PRIMARY KEY (id, at))
    PARTITION BY RANGE (at);
CREATE TABLE readings_2025 PARTITION OF readings FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE readings_2026 PARTITION OF readings FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO readings VALUES (1, '2025-03-01', 5, '{a,b}'), (2, '2026-03-01', 7, '{}');
"""
INFORMATION_SCHEMA = """
SELECT table_schema || '.' || table_name AS id FROM information_schema.tables
WHERE table_schema = 'public' AND table_type IN ('BASE TABLE', 'VIEW') ORDER BY 1
"""
COLUMNS = """
SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, i.indkey IS NOT NULL AS key
FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary AND a.attnum = ANY(i.indkey)
WHERE a.attrelid = 'copy.readings'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
"""


async def test_the_gateway_policy_and_the_executor_see_one_source(
    api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    target_name, target_dsn = target_db
    await execute(source_dsn, READINGS)
    # what a discovery by information_schema offered: the partitions too, each as a table of its own
    assert [r["id"] for r in await fetch(source_dsn, INFORMATION_SCHEMA)] == [
        "public.readings",
        "public.readings_2025",
        "public.readings_2026",
    ]
    source, target = connections(api, source_name, target_name)

    offered = api.bulk_sync.get_source(source, include_fields=True).data
    assert offered is not None
    assert [s.id for s in offered.schemas or []] == ["public.readings"]
    [readings] = offered.schemas or []
    assert [(f.id, f.type, f.remote_type, f.is_primary_key) for f in readings.fields or []] == [
        ("id", "number", "int8", True),
        ("at", "datetime", "date", True),
        ("level", "number", "int4", False),
        ("tags", "array", "_text", False),
    ]

    created = api.bulk_sync.create(  # without `schemas`: every schema discovery offers
        name=name("one discovery"),
        source_connection_id=source,
        destination_connection_id=target,
        destination_configuration={"schema": "copy"},
        default_schedule=BulkSyncDefaultScheduleRequest(frequency="manual"),
        mode="snapshot",
        disable_record_timestamps=True,
    ).data
    assert created is not None
    assert created.id
    sync_id = str(created.id)
    selected = api.bulk_sync.schemas.list(sync_id).data or []
    assert [(s.id, s.enabled) for s in selected] == [("public.readings", True)]
    chosen = api.bulk_sync.schemas.get(sync_id, "public.readings").data
    assert chosen is not None
    assert [f.id for f in chosen.fields or []] == ["id", "at", "level", "tags"]

    done = run(api, sync_id)
    assert done.status == "completed", done.status_message
    assert {s.schema_: (s.status, s.record_count) for s in done.schemas or []} == {"public.readings": ("completed", 2)}
    assert await fetch(target_dsn, COLUMNS) == [  # the executor planned the same columns, types and key
        {"name": "id", "type": "bigint", "key": True},
        {"name": "at", "type": "date", "key": True},
        {"name": "level", "type": "integer", "key": False},
        {"name": "tags", "type": "text[]", "key": False},
    ]
