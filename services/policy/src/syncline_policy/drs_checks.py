"""DRS's live checks against a job's endpoints: the connection test, the tables a selection names, the precheck.

Each opens its endpoint for that call only, with the password opened in memory."""

import asyncio
from typing import Any

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from syncline_policy.drs_rules import FAILED, DrsItemError, invalid

CHECK_TIMEOUT_S = 5.0
_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


async def test_endpoint(endpoint: dict[str, Any], *, password: str) -> str | None:
    """None when the endpoint answers for real (PostgreSQL login, Kafka metadata); otherwise why not."""
    if endpoint.get("db_type") == "kafka":
        return await _kafka_answers(str(endpoint.get("ip") or ""))
    try:
        conn = await _connect(endpoint, password=password)
    except DrsItemError as exc:
        return exc.message
    await conn.close()
    return None


async def _kafka_answers(servers: str) -> str | None:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=int(CHECK_TIMEOUT_S * 1000))
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S * 2):
            await admin.start()
            await admin.list_topics()
    except (OSError, KafkaError) as exc:  # TimeoutError is an OSError
        return f"Kafka at [{servers}] does not answer: {exc!r}"
    finally:
        await admin.close()
    return None


async def _connect(endpoint: dict[str, Any], *, password: str) -> asyncpg.Connection:
    try:
        conn: asyncpg.Connection = await asyncpg.connect(
            host=endpoint.get("ip"),
            port=int(endpoint.get("db_port") or 5432),
            user=endpoint.get("db_user"),
            password=password or None,
            database=endpoint.get("db_name") or "postgres",
            timeout=CHECK_TIMEOUT_S,
        )
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        where = f"{endpoint.get('ip')}:{endpoint.get('db_port') or 5432}"
        raise DrsItemError(FAILED, f"Failed to connect to the database at {where}: {exc}") from exc
    return conn


def _wanted(info: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(object type, schema, table) of one `DatabaseInfo`; a table's schema is the last part of its parent."""
    kind = info.get("object_type") or "table"
    ident = str(info.get("id") or "")
    if kind == "database":
        return kind, None, None
    if kind == "schema":
        return kind, info.get("object_name") or ident.rsplit(".", maxsplit=1)[-1], None
    parent = str(info.get("parent_id") or "")
    parts = ident.split(".")
    schema = parent.rsplit(".", maxsplit=1)[-1] if parent else (parts[-2] if len(parts) > 1 else "public")
    return kind, schema, info.get("object_name") or parts[-1]


async def resolve_tables(
    endpoint: dict[str, Any], *, password: str, selection: dict[str, Any]
) -> list[dict[str, str | None]]:
    """The source tables a `batch-select-objects` item names (every table when `selected` is false), each
    checked to exist; `{schema, table, alias}`."""
    conn = await _connect(endpoint, password=password)
    try:
        found = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
            " AND table_schema <> ALL($1::text[]) ORDER BY 1, 2",
            list(_SYSTEM_SCHEMAS),
        )
    finally:
        await conn.close()
    existing = [(r["table_schema"], r["table_name"]) for r in found]
    if selection.get("selected") is False:
        return [{"schema": s, "table": t, "alias": None} for s, t in existing]
    tables: dict[tuple[str, str], str | None] = {}
    for info in selection.get("job") or []:
        if str(info.get("select", "true")).lower() == "false":
            continue
        kind, schema, table = _wanted(info)
        if kind == "database":
            tables |= dict.fromkeys(existing)
        elif kind == "schema":
            tables |= dict.fromkeys((s, t) for s, t in existing if s == schema)
        elif (schema, table) in existing:
            tables[(str(schema), str(table))] = info.get("object_alias_name") or None
        else:
            raise invalid("job", f"Table {schema}.{table} does not exist in the source database.")
    if not tables:
        raise invalid("job", "No table is selected.")
    return [{"schema": s, "table": t, "alias": a} for (s, t), a in tables.items()]


_TABLE_FACTS = """
SELECT c.relreplident::text AS identity,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk,
       (SELECT count(*) FROM {table}) AS rows
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2
"""


async def precheck_source(
    endpoint: dict[str, Any], *, password: str, tables: list[dict[str, Any]], streams: bool
) -> tuple[list[dict[str, str]], int]:
    """DRS precheck items of the source (connection, logical decoding and replication rights when the job streams,
    a key or replica identity per table) and the rows of its tables."""
    try:
        conn = await _connect(endpoint, password=password)
    except DrsItemError as exc:
        return [_item("source_connection", exc.message)], 0
    items = [_item("source_connection", None)]
    rows = 0
    try:
        if streams:
            level = await conn.fetchval("SHOW wal_level")
            items.append(_item("source_wal_level", None if level == "logical" else f"wal_level is {level}"))
            can = await conn.fetchval("SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user")
            items.append(_item("source_replication_role", None if can else "the user lacks REPLICATION"))
        for t in tables:
            ident = ".".join('"' + str(part).replace('"', '""') + '"' for part in (t["schema"], t["table"]))
            facts = await conn.fetchrow(_TABLE_FACTS.format(table=ident), t["schema"], t["table"])
            name = f"table {t['schema']}.{t['table']}"
            if facts is None:
                items.append(_item(name, "the table does not exist"))
                continue
            keyed = facts["has_pk"] or facts["identity"] == "f"
            items.append(_item(name, None if keyed else "no primary key and no REPLICA IDENTITY FULL"))
            rows += int(facts["rows"])
    finally:
        await conn.close()
    return items, rows


async def precheck_target(endpoint: dict[str, Any], *, password: str) -> list[dict[str, str]]:
    """DRS precheck items of the target: it answers."""
    problem = await test_endpoint(endpoint, password=password)
    return [_item("target_connection", problem)]


def _item(name: str, problem: str | None) -> dict[str, str]:
    if problem is None:
        return {"item": name, "result": "success"}
    return {"item": name, "result": "failed", "failed_reason": problem}
