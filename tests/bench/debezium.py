"""Debezium's PostgreSQL connector on Kafka Connect standalone, as a benchmark peer of Syncline's change capture.

`measure_debezium` streams the changes that a caller-prepared `pgoutput` slot holds into Kafka and times it: from
the start of the Connect JVM until the topic `<topic_prefix>.public.<table>` holds `expected` messages. The jars
come from Maven Central through `deploy/local/connect/pom.xml` (Connect on the worker classpath in
`.local/connect/libs`, Debezium isolated in `.local/connect/plugins/debezium`); Connect logs to
`.local/bench/connect.log`.

By hand (a scratch database, 100,000 rows, then 100,000 changes): `uv run python tests/bench/debezium.py`.
"""

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient  # noqa: E402

from syncline_platform.kafka import resolve_auth  # noqa: E402
from tests.support.infra import bootstrap_servers, database_url, kafka_options, kafka_settings, with_database  # noqa: E402

HERE = ROOT / "deploy" / "local" / "connect"
POM = HERE / "pom.xml"
LOG4J = HERE / "log4j2.properties"
STATE = ROOT / ".local" / "connect"
LIBS = STATE / "libs"
PLUGINS = STATE / "plugins"
DEBEZIUM = PLUGINS / "debezium"
LOG = ROOT / ".local" / "bench" / "connect.log"
CONNECTOR = "syncline-bench-debezium"
POLL_S = 0.5
TIMEOUT_S = 15 * 60
STOP_GRACE_S = 30.0
JVM_OPTS = ["-Xmx1g", "-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true"]


# jars -----------------------------------------------------------------------------------------------------------


def _fetch(profile: str, target: Path, *extra: str) -> None:
    """Copy one profile's runtime dependencies into `target`, unless the same pom already filled it."""
    stamp = hashlib.sha256(POM.read_bytes()).hexdigest()[:16]
    marker = target / ".complete"
    if marker.is_file() and marker.read_text() == stamp:
        return
    if shutil.which("mvn") is None:
        raise RuntimeError("mvn not found: `deploy/local/kafka/kafka.sh fetch` installs Java and Maven")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    command = ["mvn", "-q", "-B", "-Dstyle.color=never", "-f", str(POM), "-P", profile]
    command += ["dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={target}", *extra]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"mvn -P {profile} failed ({done.returncode}): {(done.stdout + done.stderr)[-3000:]}")
    marker.write_text(stamp)


def fetch_jars() -> None:
    """Kafka Connect into `libs`, Debezium's PostgreSQL connector (without Kafka's own jars) into its plugin dir."""
    _fetch("connect", LIBS)
    _fetch("debezium", DEBEZIUM, "-DexcludeGroupIds=org.apache.kafka")


def _version(directory: Path, artifact: str) -> str:
    """The version in the file name of `artifact`'s jar in `directory`."""
    jars = sorted(directory.glob(f"{artifact}-[0-9]*.jar"))
    return jars[-1].name.removeprefix(f"{artifact}-").removesuffix(".jar") if jars else "unknown"


# configuration --------------------------------------------------------------------------------------------------


def _properties(values: dict[str, str | int]) -> str:
    return "".join(f"{key}={value}\n" for key, value in values.items())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


JAVA_CLIENTS = ("", "producer.", "consumer.", "admin.")
"""The worker's own clients and those it makes for connectors: each takes the broker's security settings."""


def security_config() -> dict[str, str | int]:
    """The Java clients' settings for the test broker, authenticated as Syncline's services when it is secured
    (as `tests.support.infra.kafka_options` for Python clients); nothing on a PLAINTEXT broker."""
    auth = resolve_auth(kafka_settings())
    if not auth.sasl:
        return {}
    module = {"PLAIN": "plain.PlainLoginModule"}.get(auth.sasl_mechanism, "scram.ScramLoginModule")
    quoted = {k: json.dumps(v or "") for k, v in (("username", auth.username), ("password", auth.password))}
    jaas = f"org.apache.kafka.common.security.{module} required username={quoted['username']} "
    jaas += f"password={quoted['password']};"
    values = {"security.protocol": auth.security_protocol, "sasl.mechanism": auth.sasl_mechanism}
    values["sasl.jaas.config"] = jaas
    if auth.tls and auth.ssl_cafile:
        values |= {"ssl.truststore.type": "PEM", "ssl.truststore.location": str(auth.ssl_cafile)}
    return {f"{prefix}{key}": value for prefix in JAVA_CLIENTS for key, value in values.items()}


def worker_config(*, offsets: Path, rest_port: int) -> dict[str, str | int]:
    """A standalone worker: JSON without schemas, file offsets, a producer tuned like Syncline's; on a secured
    broker, every client of the worker authenticates (`security_config`)."""
    return security_config() | {
        "bootstrap.servers": bootstrap_servers(),
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter.schemas.enable": "false",
        "offset.storage.file.filename": str(offsets),
        "offset.flush.interval.ms": 5000,
        "plugin.path": str(PLUGINS),
        # Debezium and Connect ship ServiceLoader manifests: skip the reflective scan of every jar (~15 s)
        "plugin.discovery": "service_load",
        "listeners": f"http://127.0.0.1:{rest_port}",
        "producer.acks": "all",
        "producer.linger.ms": 5,
        "producer.batch.size": 256 << 10,
        "producer.max.request.size": 4 << 20,
        "producer.buffer.memory": 64 << 20,
    }


def connector_config(
    *, database: str, table: str, slot: str, publication: str, topic_prefix: str
) -> dict[str, str | int]:
    """Debezium streaming an existing slot/publication (no snapshot, nothing created or dropped)."""
    server = urlsplit(database_url())
    return {
        "name": CONNECTOR,
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": 1,
        "database.hostname": server.hostname or "127.0.0.1",
        "database.port": server.port or 5432,
        "database.user": server.username or "postgres",
        "database.password": server.password or "",
        "database.dbname": database,
        "plugin.name": "pgoutput",
        "slot.name": slot,
        "slot.drop.on.stop": "false",
        "publication.name": publication,
        "publication.autocreate.mode": "disabled",
        "snapshot.mode": "no_data",
        "topic.prefix": topic_prefix,
        "table.include.list": f"public.{table}",
        "tombstones.on.delete": "false",
        # Connect creates the topic itself (one partition), whatever the broker's auto.create.topics.enable says
        "topic.creation.default.partitions": 1,
        "topic.creation.default.replication.factor": 1,
        "max.batch.size": 20480,
        "max.queue.size": 81920,
        "poll.interval.ms": 100,
        "status.update.interval.ms": 1000,
    }


# running Connect ------------------------------------------------------------------------------------------------


def _peak_rss_mb(pid: int) -> float:
    """A process's peak RSS since its exec (VmHWM), in MB; 0 once it is gone."""
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _stop(proc: "subprocess.Popen[bytes]") -> None:
    """SIGTERM (Connect shuts down cleanly), SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def connect_standalone(worker: Path, connector: Path) -> Iterator["subprocess.Popen[bytes]"]:
    """A running `ConnectStandalone` JVM, stopped on exit; its output goes to `LOG`."""
    LOG.parent.mkdir(parents=True, exist_ok=True)
    command = ["java", *JVM_OPTS, f"-Dlog4j2.configurationFile=file:{LOG4J}", "-cp", f"{LIBS}/*"]
    command += ["org.apache.kafka.connect.cli.ConnectStandalone", str(worker), str(connector)]
    with LOG.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc
        finally:
            _stop(proc)


def _failed_task(rest_port: int) -> str | None:
    """The trace of a failed connector or task, if the worker's REST API reports one."""
    url = f"http://127.0.0.1:{rest_port}/connectors/{CONNECTOR}/status"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            status = json.load(response)
    except (OSError, ValueError):
        return None  # REST server not up yet, or the connector not yet registered
    for unit in [status.get("connector", {}), *status.get("tasks", [])]:
        if unit.get("state") == "FAILED":
            lines = str(unit.get("trace", "failed")).splitlines()
            return "\n".join(lines[:1] + [line for line in lines if line.startswith("Caused by:")])
    return None


def _log_tail(chars: int = 3000) -> str:
    with suppress(OSError):
        return LOG.read_text(errors="replace")[-chars:]
    return ""


# Kafka ----------------------------------------------------------------------------------------------------------


async def _topics() -> set[str]:
    admin = AIOKafkaAdminClient(**kafka_options())
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def _delete_topics(names: set[str]) -> None:
    if not names:
        return
    admin = AIOKafkaAdminClient(**kafka_options())
    await admin.start()
    try:
        await admin.delete_topics(sorted(names))
    finally:
        await admin.close()


class _TopicSize:
    """The messages a topic holds (sum of its partitions' end offsets), 0 while it does not exist.

    Existence and partitions come from the admin client's metadata: `AIOKafkaConsumer.topics()` does not refresh
    the consumer's own metadata, which would hide a new topic for `metadata_max_age_ms` (5 minutes).
    """

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.partitions: list[TopicPartition] = []
        self.admin = AIOKafkaAdminClient(**kafka_options())
        self.consumer = AIOKafkaConsumer(**kafka_options(), enable_auto_commit=False)

    async def __aenter__(self) -> "_TopicSize":
        await self.admin.start()
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def count(self) -> int:
        if not self.partitions:
            if self.topic not in await self.admin.list_topics():
                return 0
            (described,) = await self.admin.describe_topics([self.topic])
            self.partitions = [TopicPartition(self.topic, p["partition"]) for p in described["partitions"]]
            if not self.partitions:
                return 0
        return int(sum((await self.consumer.end_offsets(self.partitions)).values()))


async def _wait_for(
    proc: "subprocess.Popen[bytes]", *, started: float, topic: str, target: int, rest_port: int
) -> dict[str, Any]:
    """Poll the topic until it holds `target` messages; seconds from `started` to the first and to the last."""
    first: float | None = None
    count = 0
    async with _TopicSize(topic) as size:
        while count < target:
            elapsed = time.perf_counter() - started
            if proc.poll() is not None:
                raise RuntimeError(f"Connect exited ({proc.returncode}) after {elapsed:.1f} s: {_log_tail()}")
            if elapsed > TIMEOUT_S:
                raise TimeoutError(f"{topic} holds {count} of {target} messages after {elapsed:.0f} s")
            if (trace := await asyncio.to_thread(_failed_task, rest_port)) is not None:
                raise RuntimeError(f"Debezium failed (see {LOG}): {trace[:3000]}")
            await asyncio.sleep(POLL_S)
            count = await size.count()
            if count and first is None:
                first = time.perf_counter() - started
    return {"wall_s": time.perf_counter() - started, "first_message_s": first, "messages": count}


# the measurement ------------------------------------------------------------------------------------------------


def measure_debezium(
    *, database: str, table: str, expected: int, slot: str, publication: str, topic_prefix: str
) -> dict[str, Any]:
    """Seconds Debezium needs to put the `expected` changes held by `slot` into `<topic_prefix>.public.<table>`.

    The caller owns (creates and drops) the table, the publication and the `pgoutput` slot; this drops neither.
    Topics under `topic_prefix` that appear during the run are deleted afterwards.
    """
    fetch_jars()
    topic = f"{topic_prefix}.public.{table}"
    before = asyncio.run(_topics())
    if topic in before:
        raise RuntimeError(f"topic {topic} already exists: use a fresh topic_prefix")
    rest_port = _free_port()
    connector = connector_config(
        database=database, table=table, slot=slot, publication=publication, topic_prefix=topic_prefix
    )
    try:
        with tempfile.TemporaryDirectory(prefix="syncline-connect-") as tmp:
            worker_file, connector_file = Path(tmp) / "worker.properties", Path(tmp) / "connector.properties"
            worker_file.write_text(_properties(worker_config(offsets=Path(tmp) / "offsets", rest_port=rest_port)))
            connector_file.write_text(_properties(connector))
            started = time.perf_counter()
            with connect_standalone(worker_file, connector_file) as proc:
                waiting = _wait_for(proc, started=started, topic=topic, target=expected, rest_port=rest_port)
                result = asyncio.run(waiting)
                result["peak_rss_mb"] = _peak_rss_mb(proc.pid)  # just before stopping it
    finally:
        created = {name for name in asyncio.run(_topics()) - before if name.startswith(f"{topic_prefix}.")}
        asyncio.run(_delete_topics(created))
    return {
        "wall_s": round(result["wall_s"], 2),
        "first_message_s": round(result["first_message_s"] or 0.0, 2),
        "messages": result["messages"],
        "peak_rss_mb": round(result["peak_rss_mb"], 1),
        "debezium_version": _version(DEBEZIUM, "debezium-connector-postgres"),
        "connect_version": _version(LIBS, "connect-runtime"),
    }


# by hand --------------------------------------------------------------------------------------------------------

SCRATCH_DB = "syncline_bench_dbz"
TABLE = "dbz_events"
SLOT = "syncline_bench_dbz_slot"
PUBLICATION = "syncline_bench_dbz_pub"
ROWS = 100_000
CHANGES = 100_000


async def _admin_execute(sql: str) -> None:
    conn = await asyncpg.connect(with_database(database_url(), "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _split(changes: int) -> tuple[int, int, int]:
    """Inserts, updates and deletes: 60%, 30%, 10% of `changes`."""
    inserts, updates = changes * 6 // 10, changes * 3 // 10
    return inserts, updates, changes - inserts - updates


async def _prepare(rows: int, changes: int) -> None:
    """The table with `rows` rows, publication and slot, then 60% inserts, 30% updates, 10% deletes."""
    await _cleanup()  # what an interrupted run left behind
    await _admin_execute(f'CREATE DATABASE "{SCRATCH_DB}"')
    conn = await asyncpg.connect(with_database(database_url(), SCRATCH_DB))
    try:
        await conn.execute(
            f"CREATE TABLE public.{TABLE} (id bigint PRIMARY KEY, kind text NOT NULL, amount numeric(12,2),"
            " created_at timestamptz NOT NULL DEFAULT now(), note text)"
        )
        await conn.execute(
            f"INSERT INTO public.{TABLE} (id, kind, amount, note) SELECT g, 'kind_' || (g % 7), g * 0.01,"
            f" md5(g::text) FROM generate_series(1, {rows}) g"
        )
        await conn.execute(f"CREATE PUBLICATION {PUBLICATION} FOR TABLE public.{TABLE}")
        await conn.execute("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", SLOT)
        inserts, updates, deletes = _split(changes)
        await conn.execute(
            f"INSERT INTO public.{TABLE} (id, kind, amount, note) SELECT g, 'new', g * 0.01, md5(g::text)"
            f" FROM generate_series({rows + 1}, {rows + inserts}) g"
        )
        await conn.execute(f"UPDATE public.{TABLE} SET amount = amount + 1, note = 'updated' WHERE id <= {updates}")
        await conn.execute(f"DELETE FROM public.{TABLE} WHERE id > {rows - deletes} AND id <= {rows}")
    finally:
        await conn.close()


async def _drop_slot(conn: asyncpg.Connection, timeout_s: float = 30.0) -> None:
    """Drop the scratch slot, once the walsender of a just-stopped Connect has let go of it."""
    deadline = time.monotonic() + timeout_s
    while True:
        active = await conn.fetchval("SELECT active FROM pg_replication_slots WHERE slot_name = $1", SLOT)
        if active is None:
            return
        if not active or time.monotonic() > deadline:
            await conn.execute("SELECT pg_drop_replication_slot($1)", SLOT)
            return
        await asyncio.sleep(0.2)


async def _cleanup() -> None:
    """Drop the slot (a database holding one cannot be dropped), the publication and the scratch database."""
    try:
        conn = await asyncpg.connect(with_database(database_url(), SCRATCH_DB))
    except asyncpg.InvalidCatalogNameError:
        return
    try:
        await _drop_slot(conn)
        await conn.execute(f"DROP PUBLICATION IF EXISTS {PUBLICATION}")
    finally:
        await conn.close()
    await _admin_execute(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)')


def main() -> None:
    """Prepare a scratch database, measure Debezium on it, print the figures as JSON, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=ROWS, help="rows in the table before the slot is created")
    parser.add_argument("--changes", type=int, default=CHANGES, help="changes after it (60/30/10 ins/upd/del)")
    args = parser.parse_args()
    rows, changes = args.rows, args.changes
    if min(rows, changes) < 1 or rows < sum(_split(changes)[1:]):
        parser.error("need rows >= 40% of changes (the updated and the deleted rows are distinct)")
    try:
        asyncio.run(_prepare(rows, changes))
        result = measure_debezium(
            database=SCRATCH_DB,
            table=TABLE,
            expected=changes,
            slot=SLOT,
            publication=PUBLICATION,
            topic_prefix=f"syncline_bench_dbz_{os.getpid()}",
        )
    finally:
        asyncio.run(_cleanup())
    sys.stdout.write(json.dumps({"changes": changes, **result}, indent=2) + "\n")


if __name__ == "__main__":
    main()
