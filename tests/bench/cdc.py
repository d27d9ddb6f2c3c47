"""Change capture on pgoutput against the server's decode limit and against Debezium, over the same changes.

On database `syncline_bench` (see `dataplane.prepare`), table `cdc_events` starts with 400,000 rows of `events`;
every consumer gets its own slot before 1,000,000 changes are committed (100 transactions of 6,000 inserts,
3,000 updates and 1,000 deletes: 60/30/10). Then each consumer moves the same changes:
- `cdc_limit`: `pg_recvlogical --plugin=pgoutput` to /dev/null (how fast the server decodes);
- `cdc_pg`: Syncline's change stream into PostgreSQL (the executor's pipeline, its own process);
- `cdc_kafka`: the same into Kafka (DRS json messages, 12 partitions, key hash);
- `cdc_debezium`: Debezium's PostgreSQL connector on Kafka Connect standalone into the same broker.
`cdc_lag`: a continuous PostgreSQL → PostgreSQL sync (one run after another) while a writer commits 5,000
rows/s for 2 minutes; lag = destination write time minus source commit time, per row.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from tests.bench import dataplane  # noqa: E402
from tests.bench.dataplane import PY, SOURCE_DB, STATE_DB, TARGET_DB, dsn, entry, psql, timed  # noqa: E402
from tests.support.infra import kafka_destination  # noqa: E402

TABLE = "cdc_events"
LAG_TABLE = "cdc_lag_rows"
INITIAL = 400_000
"""Rows at the start: every transaction's updates and deletes (4,000 of the first rows each) find their rows."""
TRANSACTIONS = int(os.environ.get("SYNCLINE_BENCH_CDC_TRANSACTIONS", "100"))
"""Transactions of 10,000 changes (fewer for a quick try)."""
PER_TRANSACTION = (6_000, 3_000, 1_000)
CHANGES = TRANSACTIONS * sum(PER_TRANSACTION)
PUBLICATION = "bench_cdc_pub"
LIMIT_SLOT = "bench_cdc_limit"
DEBEZIUM_SLOT = "bench_cdc_debezium"
PG_SYNC, KAFKA_SYNC, LAG_SYNC = "bench-cdc-pg", "bench-cdc-kafka", "bench-cdc-lag"
LAG_SECONDS = int(os.environ.get("SYNCLINE_BENCH_LAG_S", "120"))
LAG_RATE = 5_000


def sql(database: str, statement: str, *, check: bool = True) -> None:
    """Run SQL with psql."""
    subprocess.run(psql(database, "-c", statement), check=check, stdout=subprocess.DEVNULL)


DROP_SLOTS = (
    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
    f" WHERE slot_name IN ('{LIMIT_SLOT}', '{DEBEZIUM_SLOT}') AND NOT active"
)


async def fetchval(database: str, query: str) -> Any:
    conn = await asyncpg.connect(dsn(database))
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


def _spec(sync_id: str, destination: dict[str, Any], table: str = TABLE, **extra: Any) -> Any:
    from syncline_connectors.spec import Mode

    return dataplane._spec(
        sync_id=sync_id, destination=destination, tables=[table], mode=Mode.REPLICATE, initial_load=False, **extra
    )


def _kafka_destination(topic: str) -> tuple[dict[str, Any], Any]:
    from syncline_connectors.spec import KafkaPolicy

    destination = {"type": "kafka", "config": kafka_destination()}  # as a tenant's own cluster user, when secured
    return destination, KafkaPolicy(topic_policy=0, topic=topic, partition_policy=2, partitions_num=12)


def spec_of(case: str, params: dict[str, Any]) -> Any:
    """The sync of a case."""
    if case == "pg":
        return _spec(PG_SYNC, dataplane._pg_target("cdc"))
    if case == "lag":
        target = dataplane._pg_target("cdc_lag")
        return _spec(LAG_SYNC, target, table=LAG_TABLE, record_timestamps=True)
    destination, policy = _kafka_destination(params["topic"])
    return _spec(KAFKA_SYNC, destination, kafka=policy)


async def run_case(case: str, params: dict[str, Any]) -> dict[str, Any]:
    """One run of a case's sync (the first opens its stream); in its own process."""
    from pydantic import SecretStr

    from syncline_executor.pipeline import Pipeline, PipelineSettings, Tally
    from syncline_platform.db import create_pool

    spec = spec_of(case, params)
    pool = await create_pool(dsn=SecretStr(dsn(STATE_DB)), schema="executor", application="bench", max_size=2)
    try:
        if params.get("release"):
            from syncline_executor.pipeline import release_stream

            await release_stream(pool=pool, sealer=None, sync_id=spec.sync_id)
            return {}
        runs, tally, started = 0, Tally(), time.perf_counter()
        until = time.monotonic() + float(params.get("for_s", 0))
        while True:  # a continuous sync: the next run starts when the last one ended
            tally = Tally()
            settings = PipelineSettings(batch_rows=int(params.get("batch_rows", 100_000)))
            await Pipeline(
                pool=pool, sealer=None, settings=settings, run_id=f"{case}-{time.time_ns()}", tally=tally
            ).run(spec)
            runs += 1
            if time.monotonic() >= until:
                break
    finally:
        await pool.close()
    counters = tally.counters()
    return {"wall_s": time.perf_counter() - started, "changes": counters.rows_read, "runs": runs}


def case(name: str, **params: Any) -> dict[str, Any]:
    """A case in a fresh process, timed with its peak RSS."""
    result = timed([PY, str(Path(__file__).resolve()), "--case", name, "--params", json.dumps(params)])
    inner: dict[str, Any] = json.loads(result["stdout"].strip().splitlines()[-1])
    return inner | {"peak_rss_mb": max(result["peak_rss_mb"], inner.pop("vm_hwm_mb", 0.0)), "cpu_s": result["cpu_s"]}


# preparation ----------------------------------------------------------------------------------------------------


def _reset() -> None:
    for name in ("pg", "kafka", "lag"):
        case(name, release=True, topic="-")
    sql(SOURCE_DB, DROP_SLOTS)
    sql(SOURCE_DB, f"DROP PUBLICATION IF EXISTS {PUBLICATION}; DROP TABLE IF EXISTS {TABLE}, {LAG_TABLE}")
    sql(TARGET_DB, "DROP SCHEMA IF EXISTS cdc CASCADE; DROP SCHEMA IF EXISTS cdc_lag CASCADE")


def _changes_script() -> str:
    """100 transactions of 6,000 inserts, 3,000 updates and 1,000 deletes."""
    inserts, updates, deletes = PER_TRANSACTION
    parts = []
    for t in range(TRANSACTIONS):
        first = 2_000_000 + t * inserts
        parts.append(
            "BEGIN;"
            f"INSERT INTO {TABLE} SELECT id + {first - 1}, uuid, created_at, updated_at, user_id, kind, amount,"
            f" payload, note FROM events WHERE id <= {inserts};"
            f"UPDATE {TABLE} SET amount = amount + 1, note = 'changed', updated_at = now()"
            f" WHERE id > {t * (updates + deletes)} AND id <= {t * (updates + deletes) + updates};"
            f"DELETE FROM {TABLE} WHERE id > {t * (updates + deletes) + updates}"
            f" AND id <= {(t + 1) * (updates + deletes)};"
            "COMMIT;"
        )
    return "\n".join(parts)


def prepare(topic: str) -> str:
    """Slots for every consumer, then the changes; returns the end of the log after them."""
    _reset()
    sql(
        SOURCE_DB,
        f"CREATE TABLE {TABLE} (LIKE events INCLUDING ALL);"
        f"INSERT INTO {TABLE} SELECT * FROM events WHERE id <= {INITIAL};"
        f"CREATE PUBLICATION {PUBLICATION} FOR TABLE {TABLE}",
    )
    for slot in (LIMIT_SLOT, DEBEZIUM_SLOT):
        sql(SOURCE_DB, f"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')")
    case("pg")  # the first runs open the streams (changes only: no snapshot)
    case("kafka", topic=topic)
    script = ROOT / ".local" / "bench" / "cdc_changes.sql"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(_changes_script())
    subprocess.run(psql(SOURCE_DB, "-f", str(script)), check=True, stdout=subprocess.DEVNULL)
    return str(asyncio.run(fetchval(SOURCE_DB, "SELECT pg_current_wal_flush_lsn()::text")))


# measuring ------------------------------------------------------------------------------------------------------


def limit(end: str) -> dict[str, Any]:
    command = [
        "pg_recvlogical", "-d", dsn(SOURCE_DB), "--slot", LIMIT_SLOT, "--start", "--no-loop",
        "--endpos", end, "--status-interval", "1", "-o", "proto_version=1",
        "-o", f"publication_names={PUBLICATION}", "-f", "/dev/null",
    ]  # fmt: skip
    return timed(command)


def debezium(topic_prefix: str) -> dict[str, Any] | None:
    try:
        from tests.bench.debezium import measure_debezium
    except ImportError:
        return None
    try:
        return measure_debezium(
            database=SOURCE_DB,
            table=TABLE,
            expected=CHANGES,
            slot=DEBEZIUM_SLOT,
            publication=PUBLICATION,
            topic_prefix=topic_prefix,
        )
    except Exception as exc:
        sys.stderr.write(f"debezium: {exc}\n")
        return None


async def _lag_writer() -> int:
    """5,000 rows a second for LAG_SECONDS, committed every 100 ms; each row carries its commit time."""
    conn = await asyncpg.connect(dsn(SOURCE_DB), server_settings={"synchronous_commit": "on"})
    written, started = 0, time.monotonic()
    try:
        while time.monotonic() - started < LAG_SECONDS:
            tick = time.monotonic()
            batch = LAG_RATE // 10
            await conn.execute(
                f"INSERT INTO {LAG_TABLE} (id, v, at) SELECT g, md5(g::text), clock_timestamp()"
                f" FROM generate_series({written + 1}, {written + batch}) g"
            )
            written += batch
            await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))
    finally:
        await conn.close()
    return written


def lag() -> dict[str, Any]:
    sql(SOURCE_DB, f"CREATE TABLE {LAG_TABLE} (id bigint PRIMARY KEY, v text, at timestamptz)")
    case("lag")  # opens the stream
    env = dict(os.environ)
    follower = subprocess.Popen(
        [PY, str(Path(__file__).resolve()), "--case", "lag", "--params", json.dumps({"for_s": LAG_SECONDS + 5})],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    written = asyncio.run(_lag_writer())
    follower.wait(timeout=LAG_SECONDS + 120)
    query = (
        "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM"
        f" _polytomic_updated_at - at)), count(*) FROM cdc_lag.{LAG_TABLE}"
    )
    row = asyncio.run(_fetchrow(TARGET_DB, query))
    return {"written": written, "landed": row[1], "p50_s": row[0][0], "p99_s": row[0][1]}


async def _fetchrow(database: str, query: str) -> Any:
    conn = await asyncpg.connect(dsn(database))
    try:
        return await conn.fetchrow(query)
    finally:
        await conn.close()


def measure() -> list[dict[str, Any]]:
    """Every cdc_* entry, from one preparation."""
    asyncio.run(dataplane.prepare())
    topic = asyncio.run(dataplane._topic())
    topics = [topic]
    try:
        end = prepare(topic)
        lim = limit(end)
        ours_pg = case("pg")
        ours_kafka = case("kafka", topic=topic)
        peer = debezium(topic_prefix=f"{topic}-dbz")
        lag_figures = lag()
    finally:
        for name in ("pg", "kafka", "lag"):
            case(name, release=True, topic=topic)
        time.sleep(2)  # a slot a consumer just left is released a moment later
        sql(SOURCE_DB, DROP_SLOTS, check=False)
        asyncio.run(dataplane._drop_topics([*topics, f"{topic}-dbz.public.{TABLE}"]))
    limit_s = lim["wall_s"]
    results = [
        entry("cdc_limit", rows=CHANGES, wall_s=limit_s, peak_rss_mb=lim["peak_rss_mb"], limit_s=limit_s),
        entry("cdc_pg", rows=ours_pg["changes"], wall_s=ours_pg["wall_s"], peak_rss_mb=ours_pg["peak_rss_mb"],
              limit_s=limit_s, speed_vs_limit=limit_s / ours_pg["wall_s"]),
        entry("cdc_kafka", rows=ours_kafka["changes"], wall_s=ours_kafka["wall_s"],
              peak_rss_mb=ours_kafka["peak_rss_mb"], limit_s=limit_s, speed_vs_limit=limit_s / ours_kafka["wall_s"]),
    ]  # fmt: skip
    if peer is not None:
        results.append(
            entry("cdc_debezium", rows=peer.get("messages", CHANGES), wall_s=peer["wall_s"],
                  peak_rss_mb=peer.get("peak_rss_mb"), limit_s=limit_s,
                  cdc_kafka_speedup=peer["wall_s"] / ours_kafka["wall_s"],
                  first_message_s=peer.get("first_message_s"), version=peer.get("debezium_version"))
        )  # fmt: skip
    results.append(
        {"name": "cdc_lag", "rows": lag_figures["landed"], "written": lag_figures["written"],
         "rate_rows_per_s": LAG_RATE, "seconds": LAG_SECONDS, "p50_s": round(lag_figures["p50_s"], 3),
         "p99_s": round(lag_figures["p99_s"], 3)}
    )  # fmt: skip
    return results


def main() -> None:
    dataplane.cli(run_case, measure)


if __name__ == "__main__":
    main()
