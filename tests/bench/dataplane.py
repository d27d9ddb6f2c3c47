"""The data plane against the physical limit and other tools, side by side on one PostgreSQL server.

Loads `../shared/bench/events.sql` (1,000,000 rows) once into database `syncline_bench`, then measures:
the limit (`psql COPY … TO STDOUT (FORMAT binary) | psql COPY … FROM STDIN (FORMAT binary)`), Syncline's
snapshot PostgreSQL → PostgreSQL (the executor's pipeline), Sling and dlt (from the `bench` dependency group),
replicate with 10% of the rows changed, PostgreSQL → Parquet and → JSON lines, PostgreSQL → Kafka against plain
aiokafka and confluent-kafka producers, the per-table overhead (100 one-row tables) and the snapshot of 4,000,000
rows (memory must not grow with the table). Every case runs in its own process; its peak RSS is that process's
`ru_maxrss`.
"""

import argparse
import asyncio
import importlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from syncline_platform.kafka import confluent_options  # noqa: E402
from tests.support.infra import (  # noqa: E402
    database_url,
    kafka_destination,
    kafka_options,
    kafka_settings,
    with_database,
)

DATASET = ROOT.parent / "shared" / "bench" / "events.sql"
SOURCE_DB = "syncline_bench"
TARGET_DB = "syncline_bench_dst"
STATE_DB = "syncline_bench_state"
TABLES_DB = "syncline_bench_tables"
FILES = ROOT / ".local" / "bench" / "files"
ROWS = 1_000_000
BIG_ROWS = 4_000_000
PY = sys.executable
EVENTS_DDL = (
    "CREATE TABLE public.events_limit (id bigint PRIMARY KEY, uuid uuid NOT NULL, created_at timestamptz NOT NULL,"
    " updated_at timestamptz NOT NULL, user_id int NOT NULL, kind text NOT NULL, amount numeric(12,2), payload jsonb,"
    " note text)"
)


def dsn(database: str) -> str:
    """A DSN on the benchmark server."""
    return with_database(database_url(), database)


def psql(database: str, *args: str) -> list[str]:
    """A psql command line for `database` (its DSN, password included, as psql takes a URI for `-d`)."""
    return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn(database), *args]


# preparation ----------------------------------------------------------------------------------------------------


async def _ensure_database(name: str) -> None:
    conn = await asyncpg.connect(dsn("postgres"))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _count(database: str, table: str) -> int:
    conn = await asyncpg.connect(dsn(database))
    try:
        exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table)
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}")) if exists else 0
    finally:
        await conn.close()


async def prepare(*, everything: bool = True) -> None:
    """The source (1M and 4M rows, 100 one-row tables), an empty target and the executor's state database; the
    1M-row source and the state database only unless `everything`."""
    for name in (SOURCE_DB, TARGET_DB, STATE_DB, TABLES_DB) if everything else (SOURCE_DB, TARGET_DB, STATE_DB):
        await _ensure_database(name)
    if await _count(SOURCE_DB, "public.events") != ROWS:
        subprocess.run(psql(SOURCE_DB, "-f", str(DATASET)), check=True, stdout=subprocess.DEVNULL)
    if everything:
        await _prepare_more()
    from pydantic import SecretStr

    from syncline_platform.migrations import apply_migrations

    await apply_migrations(
        dsn=SecretStr(dsn(STATE_DB)),
        schema="executor",
        directory=ROOT / "services/executor/src/syncline_executor/migrations",
    )


async def _prepare_more() -> None:
    if await _count(SOURCE_DB, "public.events_4m") != BIG_ROWS:
        load = (
            "DROP TABLE IF EXISTS events_4m; CREATE TABLE events_4m (LIKE events INCLUDING ALL);"
            "INSERT INTO events_4m SELECT k * 1000000 + id, uuid, created_at, updated_at, user_id, kind, amount,"
            " payload, note FROM events, generate_series(0, 3) k"
        )
        vacuum = "VACUUM (FREEZE, ANALYZE) events_4m"
        subprocess.run(psql(SOURCE_DB, "-c", load, "-c", vacuum), check=True, stdout=subprocess.DEVNULL)
    if await _count(TABLES_DB, "public.t099") != 1:
        statements = "".join(
            f"DROP TABLE IF EXISTS t{i:03d}; CREATE TABLE t{i:03d} (id int PRIMARY KEY, v text);"
            f"INSERT INTO t{i:03d} VALUES (1, 'one');"
            for i in range(100)
        )
        subprocess.run(psql(TABLES_DB, "-c", statements), check=True, stdout=subprocess.DEVNULL)


def _reset_target(tables: list[str]) -> None:
    drops = "".join(f"DROP TABLE IF EXISTS {t};" for t in tables)
    subprocess.run(psql(TARGET_DB, "-c", drops), check=True, stdout=subprocess.DEVNULL)


# measuring ------------------------------------------------------------------------------------------------------


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def _high_water_mb(pid: int) -> float:
    """A process's peak RSS since its exec (VmHWM), in MB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def timed(command: list[str] | str, *, env: dict[str, str] | None = None, shell: bool = False) -> dict[str, Any]:
    """Run a command; its wall time, CPU time and peak RSS (of its largest process, sampled every 20 ms).

    `ru_maxrss` of a child would include this process's size at the fork, so the peak is read from each
    process's own VmHWM instead.
    """
    # start every case from a clean slate: dirty buffers of the previous one written out first
    subprocess.run(psql("postgres", "-c", "CHECKPOINT"), check=True, stdout=subprocess.DEVNULL)
    peaks: dict[int, float] = {}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, env=env, shell=shell, stdout=out, stderr=err)
        while proc.poll() is None:
            for pid in _descendants(proc.pid):
                peaks[pid] = max(peaks.get(pid, 0.0), _high_water_mb(pid))
            time.sleep(0.02)
        wall = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{command!r} failed ({proc.returncode}): {stderr[-3000:]}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime - _CHILD_CPU.swap(usage.ru_utime + usage.ru_stime),
        "peak_rss_mb": max(peaks.values(), default=0.0),
        "stdout": stdout,
        "stderr": stderr,
    }


class _Counter:
    """The children's CPU seconds seen so far (RUSAGE_CHILDREN only grows)."""

    def __init__(self) -> None:
        self.value = 0.0

    def swap(self, new: float) -> float:
        old, self.value = self.value, new
        return old


_CHILD_CPU = _Counter()


def syncline(case: str, *, env: dict[str, str] | None = None, script: str = __file__, **params: Any) -> dict[str, Any]:
    """One Syncline case in a fresh process (`script`, this file by default, `--case`; `env`, its environment,
    this one's if None)."""
    result = timed([PY, str(Path(script).resolve()), "--case", case, "--params", json.dumps(params)], env=env)
    if not result["stdout"].strip():
        raise RuntimeError(f"case {case} printed nothing: {result['stderr'][-3000:]}")
    inner: dict[str, Any] = json.loads(result["stdout"].strip().splitlines()[-1])
    peak = max(result["peak_rss_mb"], inner.pop("vm_hwm_mb", 0.0))
    return inner | {"peak_rss_mb": peak, "cpu_s": result["cpu_s"]}


def entry(
    name: str, *, rows: int, wall_s: float, peak_rss_mb: float | None, limit_s: float | None, **extra: Any
) -> dict[str, Any]:
    """A results.json entry."""
    return {
        "name": name,
        "rows": rows,
        "wall_s": round(wall_s, 3),
        "rows_per_s": round(rows / wall_s) if wall_s else None,
        "peak_rss_mb": None if peak_rss_mb is None else round(peak_rss_mb, 1),
        "ratio_to_limit": round(wall_s / limit_s, 2) if limit_s else None,
        **{k: round(v, 3) if isinstance(v, float) else v for k, v in extra.items()},
    }


def best(runs: int, measure: Any) -> dict[str, Any]:
    """The fastest of `runs` measurements (the server's background work adds noise)."""
    results = [measure() for _ in range(runs)]
    return min(results, key=lambda r: r["wall_s"])


def limit() -> dict[str, Any]:
    """psql COPY out | psql COPY in, binary, into a table like the source (primary key included)."""

    def once() -> dict[str, Any]:
        _reset_target(["public.events_limit"])
        subprocess.run(psql(TARGET_DB, "-c", EVENTS_DDL), check=True, stdout=subprocess.DEVNULL)
        out = " ".join(psql(SOURCE_DB, "-c", "'COPY public.events TO STDOUT (FORMAT binary)'"))
        into = " ".join(psql(TARGET_DB, "-c", "'COPY public.events_limit FROM STDIN (FORMAT binary)'"))
        return timed(f"{out} | {into}", shell=True)  # noqa: S604 - the limit is a shell pipe by definition

    return best(3, once)


def sling() -> dict[str, Any] | None:
    """Sling full refresh (the binary of the `sling-linux-amd64` wheel)."""
    try:
        binary = str(importlib.import_module("sling_linux_amd64").SLING_BIN)  # the bench group only
    except ImportError:
        return None
    env = os.environ | {"SRC": dsn(SOURCE_DB) + "?sslmode=disable", "TGT": dsn(TARGET_DB) + "?sslmode=disable"}
    env |= {"SLING_DISABLE_TELEMETRY": "true", "SLING_LOGGING": "NONE"}
    _reset_target(["public.events_sling"])
    return timed(
        [
            binary,
            "run",
            "--src-conn",
            "SRC",
            "--src-stream",
            "public.events",
            "--tgt-conn",
            "TGT",
            "--tgt-object",
            "public.events_sling",
            "--mode",
            "full-refresh",
        ],
        env=env,
    )


DLT_SCRIPT = """
import dlt, sys
from dlt.sources.sql_database import sql_table
source = sql_table(credentials=sys.argv[1], table="events", backend="pyarrow", chunk_size=100000)
pipeline = dlt.pipeline(pipeline_name="bench", destination=dlt.destinations.postgres(sys.argv[2]),
                        dataset_name="dlt_bench", pipelines_dir=sys.argv[3])
pipeline.run(source, write_disposition="replace")
"""


def dlt() -> dict[str, Any] | None:
    """dlt's sql_database source with the pyarrow backend into PostgreSQL."""
    check = subprocess.run([PY, "-c", "import dlt, sqlalchemy, psycopg2"], capture_output=True, check=False)
    if check.returncode != 0:
        return None
    home = ROOT / ".local" / "bench" / "dlt"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    script = home / "run_dlt.py"
    script.write_text(DLT_SCRIPT)
    src = dsn(SOURCE_DB).replace("postgresql://", "postgresql+psycopg2://")
    env = os.environ | {"RUNTIME__LOG_LEVEL": "WARNING", "DLT_DATA_DIR": str(home), "DLT_TELEMETRY_DISABLED": "1"}
    env |= {"RUNTIME__DLTHUB_TELEMETRY": "false"}
    subprocess.run(psql(TARGET_DB, "-c", "DROP SCHEMA IF EXISTS dlt_bench CASCADE"), check=True, capture_output=True)
    target = dsn(TARGET_DB)
    parts = urlsplit(target)
    if not parts.password:  # dlt insists on a password; a trust-authenticated server ignores it
        target = target.replace(f"{parts.username}@", f"{parts.username}:unused@", 1)
    return timed([PY, str(script), src, target, str(home / "pipelines")], env=env)


# Syncline cases (run in a child process) -------------------------------------------------------------------------


def _spec(
    *, sync_id: str, destination: dict[str, Any], tables: list[str], database: str = SOURCE_DB, **extra: Any
) -> Any:
    from syncline_connectors.spec import Endpoint, ObjectSpec, SyncSpec

    return SyncSpec(
        sync_id=sync_id,
        source=Endpoint(type="postgresql", config={"dsn": dsn(database), "database": database, "schema": "public"}),
        destination=Endpoint(**destination),
        objects=tuple(ObjectSpec(name=t, schema_name="public") for t in tables),
        **extra,
    )


async def _pipeline(spec: Any, run_id: str, batch_rows: int = 100_000, tally: Any = None) -> dict[str, Any]:
    """Run `spec` through the executor's pipeline here (`tally`: the counters it keeps, a fresh one if None)."""
    from pydantic import SecretStr

    from syncline_executor.pipeline import Pipeline, PipelineSettings, Tally
    from syncline_platform.db import create_pool

    pool = await create_pool(dsn=SecretStr(dsn(STATE_DB)), schema="executor", application="bench", max_size=2)
    tally = Tally() if tally is None else tally
    try:
        started, cpu = time.perf_counter(), time.process_time()
        settings = PipelineSettings(batch_rows=batch_rows, files_root=FILES)
        await Pipeline(pool=pool, sealer=None, settings=settings, run_id=run_id, tally=tally).run(spec)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await pool.close()
    counters = tally.counters()
    return {
        "wall_s": wall,
        "pipeline_cpu_s": cpu,
        "rows": counters.indexed_document_count,
        "deleted": counters.deleted_document_count,
    }


async def _release(spec: Any) -> None:
    from pydantic import SecretStr

    from syncline_executor.pipeline import release_stream
    from syncline_platform.db import create_pool

    pool = await create_pool(dsn=SecretStr(dsn(STATE_DB)), schema="executor", application="bench", max_size=2)
    try:
        await release_stream(pool=pool, sealer=None, sync_id=spec.sync_id)
    finally:
        await pool.close()


def _pg_target(schema: str = "public") -> dict[str, Any]:
    return {"type": "postgresql", "config": {"dsn": dsn(TARGET_DB), "schema": schema}}


async def run_case(case: str, params: dict[str, Any]) -> dict[str, Any]:
    """One Syncline case, in this process."""
    from syncline_connectors.spec import FileFormat, KafkaPolicy, Mode

    run_id = f"bench-{case}-{time.time_ns()}"
    match case:
        case "snapshot":
            spec = _spec(
                sync_id="bench-snapshot",
                destination=_pg_target(),
                tables=[params.get("table", "events")],
                record_timestamps=bool(params.get("record_timestamps")),
            )
        case "tables":
            spec = _spec(
                sync_id="bench-tables",
                destination=_pg_target("tables"),
                tables=[f"t{i:03d}" for i in range(100)],
                database=TABLES_DB,
            )
        case "replicate":
            spec = _spec(
                sync_id="bench-replicate", destination=_pg_target("replica"), tables=["events"], mode=Mode.REPLICATE
            )
        case "release":
            await _release(
                _spec(
                    sync_id="bench-replicate", destination=_pg_target("replica"), tables=["events"], mode=Mode.REPLICATE
                )
            )
            return {"wall_s": 0.0, "rows": 0}
        case "parquet" | "jsonl":
            destination = {"type": "files", "config": {"path": str(FILES)}}
            spec = _spec(
                sync_id=f"bench-{case}", destination=destination, tables=["events"], file_format=FileFormat(case)
            )
        case "kafka":
            destination = {"type": "kafka", "config": kafka_destination()}
            policy = KafkaPolicy(topic_policy=0, topic=params["topic"], partition_policy=2)
            spec = _spec(sync_id="bench-kafka", destination=destination, tables=["events"], kafka=policy)
        case "plain" | "plain_confluent":
            client = "confluent" if case == "plain_confluent" else "aiokafka"
            return await plain_producer(params["topic"], client=client, compression=params.get("compression", "none"))
        case _:
            raise ValueError(case)
    return await _pipeline(spec, run_id, batch_rows=int(params.get("batch_rows", 100_000)))


async def plain_producer(topic: str, *, client: str = "aiokafka", compression: str = "none") -> dict[str, Any]:
    """A plain producer, aiokafka's or confluent-kafka's, sending the same messages keyed by id (read into memory
    first; only sending is timed)."""
    conn = await asyncpg.connect(dsn(SOURCE_DB))
    try:
        rows = await conn.fetch(
            "SELECT id::text AS k, json_build_object('database', 'syncline_bench', 'schema', 'public', 'table',"
            " 'events', 'type', 'INSERT', 'isDdl', false, 'pkNames', json_build_array('id'), 'data',"
            " json_build_array(row_to_json(e)), 'old', NULL, 'ts', 0)::text AS v FROM events e"
        )
    finally:
        await conn.close()
    messages = [(r["k"].encode(), r["v"].encode()) for r in rows]
    del rows
    if client == "confluent":
        wall = await _plain_confluent(topic, messages, compression=compression)
    else:
        wall = await _plain_aiokafka(topic, messages)
    return {"wall_s": wall, "rows": len(messages)}


async def _plain_aiokafka(topic: str, messages: list[tuple[bytes, bytes]]) -> float:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        **kafka_options(), acks="all", enable_idempotence=True, linger_ms=5, max_batch_size=1 << 20
    )
    await producer.start()
    try:
        started = time.perf_counter()
        pending = []
        for key, value in messages:
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 10_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def _plain_confluent(topic: str, messages: list[tuple[bytes, bytes]], *, compression: str) -> float:
    """librdkafka partitions by key (murmur2, as aiokafka's default partitioner) and reports failures only."""
    from confluent_kafka import KafkaError, Message, Producer

    failures: list[KafkaError] = []

    def failed(error: KafkaError | None, _: Message) -> None:
        if error is not None:
            failures.append(error)

    producer = Producer(
        confluent_options(kafka_settings())
        | {
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 20,
            "batch.size": 1 << 20,
            "compression.type": compression,
            "partitioner": "murmur2",
            "queue.buffering.max.messages": 100_000,
            "delivery.report.only.error": True,
            "on_delivery": failed,
        }
    )
    producer.list_topics(topic, 10)  # connected before the clock starts, as aiokafka's start() is
    started = time.perf_counter()
    for i, (key, value) in enumerate(messages):
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:  # the queue is full: serve reports while librdkafka sends
                producer.poll(0.005)
        if not i % 1000:
            producer.poll(0)
    left = await asyncio.to_thread(producer.flush, 60)
    wall = time.perf_counter() - started
    if left or failures:
        raise RuntimeError(f"{left} records unsent, failures: {failures[:3]}")
    return wall


async def _topic(partitions: int = 12, **kafka: object) -> str:
    """A fresh topic on the test broker (`kafka`: settings overriding its, e.g. another `bootstrap_servers`)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    name = f"bench.dataplane.{time.time_ns()}"
    admin = AIOKafkaAdminClient(**kafka_options(**kafka))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


async def _drop_topics(names: list[str], **kafka: object) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**kafka_options(**kafka))
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()


def _change_rows(fraction_mod: int = 10) -> None:
    statement = (
        f"UPDATE events SET note = md5(random()::text), updated_at = updated_at + interval '1 second'"
        f" WHERE id % {fraction_mod} = 0"
    )
    subprocess.run(psql(SOURCE_DB, "-c", statement), check=True, stdout=subprocess.DEVNULL)


# the table -------------------------------------------------------------------------------------------------------


def measure() -> list[dict[str, Any]]:
    """Every data-plane case; entries for results.json."""
    asyncio.run(prepare())
    results: list[dict[str, Any]] = []
    base = limit()
    lim = base["wall_s"]
    results.append(entry("dataplane_limit_psql", rows=ROWS, wall_s=lim, peak_rss_mb=base["peak_rss_mb"], limit_s=lim))

    def snapshot_once() -> dict[str, Any]:
        return syncline("snapshot")

    snap = best(3, snapshot_once)
    results.append(
        entry(
            "dataplane_snapshot_pg_pg",
            rows=snap["rows"],
            wall_s=snap["wall_s"],
            peak_rss_mb=snap["peak_rss_mb"],
            limit_s=lim,
            cpu_s_per_1m_rows=snap["pipeline_cpu_s"] * ROWS / max(snap["rows"], 1),
        )
    )
    big = syncline("snapshot", table="events_4m")
    results.append(
        entry(
            "dataplane_snapshot_pg_pg_4m",
            rows=big["rows"],
            wall_s=big["wall_s"],
            peak_rss_mb=big["peak_rss_mb"],
            limit_s=lim * BIG_ROWS / ROWS,
            cpu_s_per_1m_rows=big["pipeline_cpu_s"] * ROWS / max(big["rows"], 1),
        )
    )
    for name, tool in (("dataplane_sling", sling), ("dataplane_dlt", dlt)):
        measured = tool()
        if measured is None:
            results.append({"name": name, "rows": ROWS, "skipped": "not installed (uv sync --group bench)"})
        else:
            results.append(
                entry(name, rows=ROWS, wall_s=measured["wall_s"], peak_rss_mb=measured["peak_rss_mb"], limit_s=lim)
            )
    results.append(_replicate(lim))
    for fmt in ("parquet", "jsonl"):
        shutil.rmtree(FILES, ignore_errors=True)
        files = syncline(fmt)
        results.append(
            entry(
                f"dataplane_pg_{fmt}",
                rows=files["rows"],
                wall_s=files["wall_s"],
                peak_rss_mb=files["peak_rss_mb"],
                limit_s=lim,
            )
        )
    shutil.rmtree(FILES, ignore_errors=True)
    results.extend(_kafka(lim))
    tables = best(3, lambda: syncline("tables"))
    results.append(
        entry(
            "dataplane_100_tables",
            rows=tables["rows"],
            wall_s=tables["wall_s"],
            peak_rss_mb=tables["peak_rss_mb"],
            limit_s=None,
            overhead_s_per_table=tables["wall_s"] / 100,
        )
    )
    asyncio.run(_drop_database(TARGET_DB))  # a few GB of copies
    return results


async def _drop_database(name: str) -> None:
    conn = await asyncpg.connect(dsn("postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _replicate(lim: float) -> dict[str, Any]:
    syncline("release")
    syncline("replicate")  # the first run: slot, then the snapshot
    _change_rows()
    time.sleep(0.5)  # let the WAL writer flush (the local cluster commits asynchronously)
    try:
        run = syncline("replicate")
    finally:
        syncline("release")
    return entry(
        "dataplane_replicate_10pct", rows=run["rows"], wall_s=run["wall_s"], peak_rss_mb=run["peak_rss_mb"], limit_s=lim
    )


def _kafka(lim: float) -> list[dict[str, Any]]:
    """Ours (confluent-kafka's librdkafka producer) beside plain aiokafka and plain confluent-kafka producers."""
    topics = {case: asyncio.run(_topic()) for case in ("kafka", "plain", "plain_confluent")}
    try:  # the plain producers in their own processes too: they hold every message
        runs = {case: syncline(case, topic=topic) for case, topic in topics.items()}
    finally:
        asyncio.run(_drop_topics(list(topics.values())))
    rates = {case: run["rows"] / run["wall_s"] for case, run in runs.items()}
    ours = runs["kafka"]
    return [
        entry(
            "dataplane_pg_kafka",
            rows=ours["rows"],
            wall_s=ours["wall_s"],
            peak_rss_mb=ours["peak_rss_mb"],
            limit_s=lim,
            ratio_to_plain_producer=rates["kafka"] / rates["plain"],
            ratio_to_plain_confluent=rates["kafka"] / rates["plain_confluent"],
        ),
        *(
            entry(name, rows=runs[case]["rows"], wall_s=runs[case]["wall_s"], peak_rss_mb=None, limit_s=lim)
            for name, case in (("dataplane_plain_producer", "plain"), ("dataplane_plain_confluent", "plain_confluent"))
        ),
    ]


def cli(run: Any, everything: Any) -> None:
    """A bench module's command line: `--case NAME --params JSON` runs one case (in this process, printing its
    figures and peak RSS), no arguments measure everything."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--case")
    parser.add_argument("--params", default="{}")
    args = parser.parse_args()
    if args.case:
        result = asyncio.run(run(args.case, json.loads(args.params)))
        result["vm_hwm_mb"] = _high_water_mb(os.getpid())
        sys.stdout.write(json.dumps(result) + "\n")
        return
    for line in everything():
        sys.stdout.write(json.dumps(line) + "\n")


def main() -> None:
    cli(run_case, measure)


if __name__ == "__main__":
    main()
