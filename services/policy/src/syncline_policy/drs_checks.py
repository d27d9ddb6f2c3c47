"""DRS's live checks against a job's endpoints: the connection test, the tables a selection names, the precheck.

A DRS endpoint is read as a connection of the connectors' types (`connection_of`: PostgreSQL's `ip`, `db_port`,
`db_user`, `db_name`, `ssl_link`; a Kafka target's brokers in `ip`, and with a SASL `kafka_security_config` (its
`type` the security protocol, its `sasl_mechanism`) `db_user` as the SASL user name; the password as the secret,
PostgreSQL's or the SASL one), so it is checked
and discovered by `connection_types`, and the precheck's own SQL runs on the PostgreSQL source connector's
connection (`registry.endpoint_for`): the connectors the executor runs the job with, and their guards (no tenant
endpoint reaches Syncline's own databases: InvalidError, which fails the item with `DRS.M00202`). Each opens its
endpoint for that call only, with the password opened in memory.
"""

from contextlib import AsyncExitStack
from typing import Any

import asyncpg

from syncline_connectors import connection_types
from syncline_connectors.pgcopy import qualified
from syncline_connectors.postgres import PostgresSource
from syncline_connectors.reach import Reach
from syncline_connectors.registry import endpoint_for
from syncline_platform.errors import UnavailableError
from syncline_policy.drs_rules import FAILED, DrsItemError, invalid


def connection_of(endpoint: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A DRS endpoint as a connection type and its configuration values (without the password)."""
    if endpoint.get("db_type") == "kafka":
        return "kafka", _kafka_values(endpoint)
    return "postgresql", {
        "hostname": endpoint.get("ip"),
        "port": int(endpoint.get("db_port") or 5432),
        "username": endpoint.get("db_user"),
        "database": endpoint.get("db_name") or "postgres",
        "ssl": bool(endpoint.get("ssl_link")),
    }


def _kafka_values(endpoint: dict[str, Any]) -> dict[str, Any]:
    """A Kafka target's connection values: its brokers; with `kafka_security_config` its security protocol (`type`)
    and, for a SASL one, its mechanism and `db_user` as the SASL user name (DRS asks the SASL user and password in
    the endpoint's own account fields)."""
    values: dict[str, Any] = {"bootstrap_servers": str(endpoint.get("ip") or "")}
    security = endpoint.get("kafka_security_config") or {}
    protocol = str(security.get("type") or "").upper()
    if protocol:
        values["security_protocol"] = protocol
    if protocol.startswith("SASL_"):
        values["sasl_mechanism"] = str(security.get("sasl_mechanism") or "SCRAM-SHA-512").upper()
        values["sasl_username"] = endpoint.get("db_user") or ""
    return values


def secret_key(connection_type: str, values: dict[str, Any]) -> str | None:
    """The configuration key the endpoint's password goes to: PostgreSQL's password, a SASL Kafka target's SASL
    password; none for a Kafka target without SASL."""
    if connection_type == "postgresql":
        return "password"
    return "sasl_password" if str(values.get("security_protocol", "")).startswith("SASL_") else None


def _secrets(connection_type: str, values: dict[str, Any], password: str) -> dict[str, str]:
    key = secret_key(connection_type, values)
    return {key: password} if key else {}


def _unreachable(connection_type: str, values: dict[str, Any], problem: str) -> str:
    """DRS's message for an endpoint that does not answer."""
    if connection_type == "kafka":
        return f"Kafka at [{values['bootstrap_servers']}] does not answer: {problem}"
    return f"Failed to connect to the database at {values['hostname']}:{values['port']}: {problem}"


async def test_endpoint(endpoint: dict[str, Any], *, password: str, reach: Reach) -> str | None:
    """None when the endpoint answers for real (PostgreSQL login, Kafka metadata); otherwise why not."""
    kind, values = connection_of(endpoint)
    problem = await connection_types.check(kind, values, secrets=_secrets(kind, values, password), reach=reach)
    return None if problem is None else _unreachable(kind, values, problem)


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


async def _source_tables(endpoint: dict[str, Any], *, password: str, reach: Reach) -> list[tuple[str, str]]:
    """(schema, table) of every table the source connector discovers, in its order."""
    kind, values = connection_of(endpoint)
    try:
        found = await connection_types.discover(kind, values, secrets=_secrets(kind, values, password), reach=reach)
    except connection_types.SourceUnavailableError as exc:
        raise DrsItemError(FAILED, _unreachable(kind, values, str(exc))) from exc
    return [(o.schema or "public", o.name) for o in found]


async def resolve_tables(
    endpoint: dict[str, Any], *, password: str, reach: Reach, selection: dict[str, Any]
) -> list[dict[str, str | None]]:
    """The source tables a `batch-select-objects` item names (every table when `selected` is false), each
    checked to exist; `{schema, table, alias}`."""
    existing = await _source_tables(endpoint, password=password, reach=reach)
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
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2
"""


def _postgres_source(values: dict[str, Any], *, password: str, reach: Reach) -> PostgresSource:
    """The PostgreSQL source connector of a DRS endpoint (not yet entered), as checks and runs open it."""
    endpoint = connection_types.endpoint_of("postgresql", values)
    timeout_s = connection_types.CHECK_TIMEOUT_S
    source = endpoint_for(endpoint, endpoint.config | {"password": password}, reach=reach, timeout_s=timeout_s)
    assert isinstance(source, PostgresSource)  # noqa: S101 - a postgresql endpoint's connector is its source
    return source


async def precheck_source(
    endpoint: dict[str, Any], *, password: str, reach: Reach, tables: list[dict[str, Any]], streams: bool
) -> tuple[list[dict[str, str]], dict[str, int]]:
    """DRS precheck items of the source (connection, logical decoding and replication rights when the job streams,
    a key or replica identity per table) and the rows of each table that exists, by `schema.table` (the key of
    the run's checkpoints: a full phase's progress is measured against them)."""
    kind, values = connection_of(endpoint)
    source = _postgres_source(values, password=password, reach=reach)
    async with AsyncExitStack() as opened:
        try:
            await opened.enter_async_context(source)
        except UnavailableError as exc:
            return [_item("source_connection", _unreachable(kind, values, str(exc)))], {}
        items, rows = await _source_facts(source.conn, tables=tables, streams=streams)
    return [_item("source_connection", None), *items], rows


async def _source_facts(
    conn: asyncpg.Connection, *, tables: list[dict[str, Any]], streams: bool
) -> tuple[list[dict[str, str]], dict[str, int]]:
    items = []
    if streams:
        level = await conn.fetchval("SHOW wal_level")
        items.append(_item("source_wal_level", None if level == "logical" else f"wal_level is {level}"))
        can = await conn.fetchval("SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user")
        items.append(_item("source_replication_role", None if can else "the user lacks REPLICATION"))
    rows: dict[str, int] = {}
    for t in tables:
        facts = await conn.fetchrow(_TABLE_FACTS, t["schema"], t["table"])
        name = f"table {t['schema']}.{t['table']}"
        if facts is None:
            items.append(_item(name, "the table does not exist"))
            continue
        keyed = facts["has_pk"] or facts["identity"] == "f"
        items.append(_item(name, None if keyed else "no primary key and no REPLICA IDENTITY FULL"))
        counted = await conn.fetchval(f"SELECT count(*) FROM {qualified(t['schema'], t['table'])}")
        rows[f"{t['schema']}.{t['table']}"] = int(counted)
    return items, rows


async def precheck_target(endpoint: dict[str, Any], *, password: str, reach: Reach) -> list[dict[str, str]]:
    """DRS precheck items of the target: it answers."""
    problem = await test_endpoint(endpoint, password=password, reach=reach)
    return [_item("target_connection", problem)]


def _item(name: str, problem: str | None) -> dict[str, str]:
    if problem is None:
        return {"item": name, "result": "success"}
    return {"item": name, "result": "failed", "failed_reason": problem}
