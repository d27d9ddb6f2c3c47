"""What the fault suite keeps the system busy with, through the official SDKs of every dialect: a stream of
creates and starts (each recorded with whether the system acknowledged it), snapshots of a large table, and a
change stream written at a steady rate and replicated run after run. Plus the probe that tells when the system
makes progress again after a fault."""

import asyncio
import contextlib
import functools
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import boto3
import httpx
from botocore.config import Config
from elasticsearch import ApiError as EsApiError
from elasticsearch import Elasticsearch
from polytomic import BulkSyncDefaultScheduleRequest, Polytomic
from polytomic.core.api_error import ApiError

from tests.chaos.cluster import Cluster
from tests.e2e import drs_support
from tests.e2e.aws_support import EVENTS, REGION, seed_events
from tests.e2e.polytomic_support import NO_RETRY, pg_config
from tests.support.infra import database_url

TERMINAL = ("completed", "error", "canceled")
INSERT = "INSERT INTO stream VALUES ($1::bigint, $1::bigint, md5($1::bigint::text), now())"
SYNC_COMMIT = {"synchronous_commit": "on"}
"""The cluster commits asynchronously; change capture reads only flushed WAL."""


def query(dsn: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows of one statement, on a connection of its own (callable from any thread)."""

    async def run() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            return [dict(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    return asyncio.run(run())


def patiently(action: Callable[[], Any], *, what: str, timeout_s: float = 120.0) -> Any:
    """`action()` retried until it returns without raising (the system may still be recovering)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return action()
        except Exception as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: still failing after {timeout_s}s") from exc
            time.sleep(0.5)


def uid() -> str:
    return uuid.uuid4().hex[:10]


@dataclass
class Command:
    """One call of the stream: what it asked for, and whether the system acknowledged it."""

    kind: str
    key: str
    """What identifies its effect: a name or id it chose, or the run id it was given."""
    segment: int
    acked: bool
    status: int | None = None
    sync_id: str | None = None
    error: str = ""


def _status(exc: Exception) -> int | None:
    for attr in ("status_code", "status", "meta"):
        value = getattr(exc, attr, None)
        if attr == "meta" and value is not None:
            value = getattr(value, "status", None)
        if isinstance(value, int):
            return value
    response = getattr(exc, "response", None)
    if isinstance(response, httpx.Response):
        return response.status_code
    if isinstance(response, dict):
        code = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(code) if code else None
    return None


class Clients:
    """The official SDKs, pointed at one gateway replica with the organisation's key (each made when first used)."""

    def __init__(self, url: str, key: dict[str, str]) -> None:
        self.url = url
        self.key = key
        self.http = httpx.Client(timeout=20)
        self.polytomic = Polytomic(base_url=url, token=key["encoded"], httpx_client=self.http, timeout=20)

    @functools.cached_property
    def es(self) -> Elasticsearch:
        return Elasticsearch(self.url, api_key=self.key["encoded"], request_timeout=20, max_retries=0)

    @functools.cached_property
    def aws(self) -> Any:
        session = boto3.session.Session(
            aws_access_key_id=self.key["id"], aws_secret_access_key=self.key["secret"], region_name=REGION
        )
        return session.client(
            "appintegrations", endpoint_url=self.url, config=Config(retries={"total_max_attempts": 1})
        )

    @functools.cached_property
    def native(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key['encoded']}"}, timeout=20)

    @functools.cached_property
    def _drs(self) -> dict[str, Any]:
        return {}

    def drs(self, project: str) -> Any:
        if project not in self._drs:
            self._drs[project] = drs_support.drs(_KeyOnly(self.url, self.key), project_id=project)  # type: ignore[arg-type]
        return self._drs[project]

    def close(self) -> None:
        made = self.__dict__
        if "es" in made:
            self.es.close()
        if "aws" in made:
            self.aws.close()
        if "native" in made:
            self.native.close()
        self.http.close()


@dataclass
class _KeyOnly:
    """What `drs_support.drs` reads of a system."""

    url: str
    key: dict[str, str]


@dataclass
class Fixtures:
    """What the stream and the trials act on, made once through the SDKs."""

    source_db: str
    source_dsn: str
    target_db: str
    target_dsn: str
    source_connection: str
    target_connection: str
    start_sync: str
    """A small bulk sync started by the Polytomic and native calls of the stream."""
    connector: str
    """A small Elastic connector whose sync jobs the stream starts."""
    cdc_sync: str
    probe_sync: str
    """A small bulk sync only the progress probe starts."""
    project: str


def _pg(database: str) -> dict[str, Any]:
    return pg_config(database, password=urlsplit(database_url()).password or "")


def bulk_sync(api: Polytomic, *, source: str, target: str, table: str, schema: str, mode: str = "snapshot") -> str:
    created = api.bulk_sync.create(
        name=f"chaos {table} {uid()}",
        source_connection_id=source,
        destination_connection_id=target,
        destination_configuration={"schema": schema},
        default_schedule=BulkSyncDefaultScheduleRequest(frequency="manual"),
        mode=mode,
        active=True,
        schemas=[f"public.{table}"],
        request_options=NO_RETRY,
    ).data
    assert created is not None
    assert created.id
    return str(created.id)


async def seed_source(dsn: str, *, big_rows: int, stream_rows: int) -> None:
    """`big` (the snapshot), `stream` (changed while it replicates), `small` (the stream's runs), `events` (AWS)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            f"""
            CREATE TABLE big (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(12,2), at timestamptz,
                              flag boolean, doc jsonb);
            INSERT INTO big SELECT g, 'row ' || g, g * 0.25, timestamptz '2026-01-01' + g * interval '1 second',
                                   g % 3 = 0, jsonb_build_object('g', g, 'h', md5(g::text))
                            FROM generate_series(1, {big_rows}) g;
            CREATE TABLE stream (id bigint PRIMARY KEY, v bigint NOT NULL, note text, at timestamptz);
            INSERT INTO stream SELECT g, g, md5(g::text), now() FROM generate_series(1, {stream_rows}) g;
            CREATE TABLE small (id integer PRIMARY KEY, name text);
            INSERT INTO small SELECT g, 'small ' || g FROM generate_series(1, 20) g;
            """
        )
    finally:
        await conn.close()
    await seed_events(dsn, rows=range(1, 11))


def make_fixtures(cluster: Cluster, *, source: tuple[str, str], target: tuple[str, str]) -> Fixtures:
    """Connections, syncs and a connector over the source and target databases (the system is up and calm)."""
    system = cluster.system
    clients = Clients(cluster.gateways[0], system.key)
    api = clients.polytomic

    def connection(database: str, role: str) -> str:
        created = api.connections.create(
            name=f"chaos {role} {uid()}", type="postgresql", configuration=_pg(database), validate=True
        ).data
        assert created is not None
        assert created.id
        return str(created.id)

    src = patiently(lambda: connection(source[0], "source"), what="source connection")
    dst = patiently(lambda: connection(target[0], "target"), what="target connection")
    start_sync = bulk_sync(api, source=src, target=dst, table="small", schema="small")
    cdc = bulk_sync(api, source=src, target=dst, table="stream", schema="cdc", mode="replicate")
    probe = bulk_sync(api, source=src, target=dst, table="small", schema="probe")
    connector = f"chaos-{uid()}"
    es = clients.es
    server = urlsplit(database_url())
    es.connector.put(connector_id=connector, name=connector, index_name=f"{connector}-idx", service_type="postgresql")
    es.connector.update_configuration(
        connector_id=connector,
        values={
            "host": server.hostname,
            "port": server.port,
            "username": server.username,
            "password": server.password or "not-needed-on-trust",
            "database": source[0],
            "schema": "public",
            "tables": ["small"],
        },
    )
    project = str(system.admin("list-projects", "--org", system.key["org_id"])["projects"][0]["id"])  # type: ignore[index]
    clients.close()
    return Fixtures(
        source_db=source[0],
        source_dsn=source[1],
        target_db=target[0],
        target_dsn=target[1],
        source_connection=src,
        target_connection=dst,
        start_sync=start_sync,
        connector=connector,
        cdc_sync=cdc,
        probe_sync=probe,
        project=project,
    )


class CommandStream:
    """Creates and starts over every dialect, one after another on a thread, each on a random gateway replica."""

    def __init__(self, cluster: Cluster, fixtures: Fixtures, *, rng: random.Random, pause_s: float) -> None:
        self.cluster = cluster
        self.fx = fixtures
        self.rng = rng
        self.pause_s = pause_s
        self.segment = 0
        self.commands: list[Command] = []
        self.start_attempts: dict[str, int] = {}
        """Start calls per sync, acknowledged or not (a run of it beyond these is a duplicate)."""
        self._stop = threading.Event()
        self._idle = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="commands", daemon=True)
        self._clients = {url: Clients(url, cluster.system.key) for url in cluster.gateways}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        for clients in self._clients.values():
            clients.close()

    @contextlib.contextmanager
    def between_calls(self) -> Iterator[None]:
        """Hold the stream between two calls (none is in flight while the block runs)."""
        with self._idle:
            yield

    def next_segment(self) -> int:
        """Calls from now on belong to the next segment; the finished segment's number."""
        with self._idle:
            self.segment += 1
            return self.segment - 1

    def _loop(self) -> None:
        calls = (
            self.polytomic_connection,
            self.polytomic_start,
            self.elastic_connector,
            self.elastic_start,
            self.aws_integration,
            self.drs_job,
            self.native_start,
        )
        while not self._stop.is_set():
            for call in calls:
                if self._stop.is_set():
                    return
                with self._idle:
                    clients = self._clients[self.rng.choice(self.cluster.gateways)]
                    self.commands.append(call(clients))
                time.sleep(self.pause_s)

    def _record(self, kind: str, key: str, do: Callable[[], Any], *, sync_id: str | None = None) -> Command:
        """Run one call: acknowledged when it answered 2xx (its effect must exist), or 4xx (it must have none)."""
        try:
            result = do()
        except (ApiError, EsApiError, httpx.HTTPStatusError) as exc:
            status = _status(exc)
            acked = status is not None and 400 <= status < 500
            return Command(kind, key, self.segment, acked=acked, status=status, sync_id=sync_id, error=str(exc)[:200])
        except Exception as exc:  # connection refused/reset, timeouts, SDK errors on 5xx
            status = _status(exc)
            acked = status is not None and 400 <= status < 500
            return Command(kind, key, self.segment, acked=acked, status=status, sync_id=sync_id, error=repr(exc)[:200])
        if kind.endswith(".start"):  # the effect is the run it named
            return Command(kind, result, self.segment, acked=True, status=200, sync_id=sync_id)
        return Command(kind, key, self.segment, acked=True, status=200, sync_id=sync_id)

    def _started(self, sync_id: str) -> None:
        self.start_attempts[sync_id] = self.start_attempts.get(sync_id, 0) + 1

    def polytomic_connection(self, c: Clients) -> Command:
        name = f"chaos conn {uid()}"
        return self._record(
            "polytomic.connection",
            name,
            lambda: c.polytomic.connections.create(
                name=name, type="file", configuration={"path": "."}, request_options=NO_RETRY
            ),
        )

    def polytomic_start(self, c: Clients) -> Command:
        self._started(self.fx.start_sync)

        def do() -> str:
            started = c.polytomic.bulk_sync.start(self.fx.start_sync, request_options=NO_RETRY).data
            assert started is not None
            return str(started.id)

        return self._record("polytomic.start", "", do, sync_id=self.fx.start_sync)

    def elastic_connector(self, c: Clients) -> Command:
        connector = f"chaos-{uid()}"
        return self._record(
            "elastic.connector",
            connector,
            lambda: c.es.connector.put(
                connector_id=connector, name=connector, index_name=f"{connector}-idx", service_type="postgresql"
            ),
        )

    def elastic_start(self, c: Clients) -> Command:
        self._started(self.fx.connector)
        return self._record(
            "elastic.start",
            "",
            lambda: str(c.es.connector.sync_job_post(id=self.fx.connector)["id"]),
            sync_id=self.fx.connector,
        )

    def aws_integration(self, c: Clients) -> Command:
        name = f"chaos-{uid()}"
        return self._record(
            "aws.data_integration",
            name,
            lambda: c.aws.create_data_integration(
                Name=name,
                KmsKey="arn:aws:kms:eu-west-2:123456789012:key/chaos",
                SourceURI=f"postgresql://Syncline/{self.fx.source_connection}",
                ObjectConfiguration=EVENTS,
            ),
        )

    def drs_job(self, c: Clients) -> Command:
        name = drs_support.job_name("chaos")
        source = drs_support.postgres(self.fx.source_db, password=urlsplit(database_url()).password or "")
        target = drs_support.postgres(self.fx.target_db, password=urlsplit(database_url()).password or "")
        return self._record(
            "drs.job",
            name,
            lambda: drs_support.create(
                c.drs(self.fx.project), source=source, target=target, task_type="FULL_TRANS", name=name
            ),
        )

    def native_start(self, c: Clients) -> Command:
        self._started(self.fx.start_sync)

        def do() -> str:
            answer = c.native.post("/v1/runs", json={"sync_id": self.fx.start_sync}, headers={"Idempotency-Key": uid()})
            answer.raise_for_status()
            return str(answer.json()["id"])

        return self._record("native.start", "", do, sync_id=self.fx.start_sync)


class ChangeStream:
    """Changes written to `stream` at a steady rate (60% inserts, 30% updates, 10% deletes, ten transactions a
    second), and the replicating sync run again as soon as its last run ended."""

    def __init__(self, cluster: Cluster, fixtures: Fixtures, *, rate: int, rng: random.Random) -> None:
        self.cluster = cluster
        self.fx = fixtures
        self.rate = rate
        self.rng = rng
        self.written = 0
        self.writing_s = 0.0
        """Seconds spent writing (the stream is held while a trial is checked): `written / writing_s` is the rate."""
        self._stop = threading.Event()
        self._writing = threading.Event()
        self._running = threading.Event()
        self._idle = threading.Event()
        self._threads = [
            threading.Thread(target=lambda: asyncio.run(self._write()), name="writer", daemon=True),
            threading.Thread(target=self._replicate, name="replicator", daemon=True),
        ]

    def start(self) -> None:
        self._writing.set()
        self._running.set()
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._writing.set()
        self._running.set()
        for thread in self._threads:
            thread.join(timeout=60)

    async def _write(self) -> None:
        next_id = 10_000_000
        conn: asyncpg.Connection | None = None
        per_tx = max(1, self.rate // 10)
        while not self._stop.is_set():
            if not self._writing.is_set():
                await asyncio.sleep(0.05)
                continue
            began = time.monotonic()
            try:
                if conn is None or conn.is_closed():
                    conn = await asyncpg.connect(self.fx.source_dsn, server_settings=SYNC_COMMIT, timeout=5)
                inserts, updates, deletes = [], [], []
                for _ in range(per_tx):
                    draw = self.rng.random()
                    if draw < 0.6:
                        next_id += 1
                        inserts.append((next_id,))
                    elif draw < 0.9:
                        updates.append((self.rng.randint(next_id - 5000, next_id),))
                    else:
                        deletes.append((self.rng.randint(next_id - 5000, next_id),))
                async with conn.transaction():
                    await conn.executemany(INSERT, inserts)
                    await conn.executemany("UPDATE stream SET v = v + 1, at = now() WHERE id = $1::bigint", updates)
                    await conn.executemany("DELETE FROM stream WHERE id = $1::bigint", deletes)
                self.written += per_tx
            except Exception:  # the server went away (or the connection broke with it): a new one, a bit later
                if conn is not None:
                    conn.terminate()
                conn = None
                await asyncio.sleep(0.5)
            await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - began)))
            self.writing_s += time.monotonic() - began
        if conn is not None:
            conn.terminate()

    def _replicate(self) -> None:
        while not self._stop.is_set():
            if not self._running.is_set():
                self._idle.set()
                self._running.wait()
                continue
            self._idle.clear()
            with contextlib.suppress(Exception):
                self.run_once(timeout_s=120)
        self._idle.set()

    def run_once(self, *, timeout_s: float) -> str:
        """Start a run of the replicating sync (waiting out a run already going) and wait for its end; its
        status."""
        system = self.cluster.system
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            url = self.rng.choice(self.cluster.gateways)
            try:
                with httpx.Client(base_url=url, timeout=20) as http:
                    answer = http.post(
                        "/v1/runs",
                        json={"sync_id": self.fx.cdc_sync},
                        headers={"Authorization": f"Bearer {system.key['encoded']}"},
                    )
            except httpx.HTTPError:
                time.sleep(0.5)
                continue
            if answer.status_code in (201, 202):
                return wait_run(system.database_url, answer.json()["id"], timeout_s=deadline - time.monotonic())
            time.sleep(0.5)  # 409 while another run of it goes; 5xx while the system recovers
        return "timeout"

    def hold(self, *, timeout_s: float) -> None:
        """Stop writing, let the running run end, then run once more to apply every change written."""
        self._writing.clear()
        self._running.clear()
        self._idle.wait(timeout=timeout_s)
        time.sleep(0.3)

    def resume(self) -> None:
        self._writing.set()
        self._running.set()


def wait_run(dsn: str, run_id: str, *, timeout_s: float) -> str:
    """The run's status once it ended (`timeout` when it did not within the bound)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            rows = query(dsn, "SELECT status FROM scheduler_read.runs WHERE id = $1", run_id)
            if rows and rows[0]["status"] in TERMINAL:
                return str(rows[0]["status"])
        time.sleep(0.3)
    return "timeout"


def progress_probe(cluster: Cluster, fixtures: Fixtures, *, rng: random.Random) -> bool:
    """Does the system make progress? A create answered with its outcome (gateway → policy → gateway), then a
    run started with the scheduler's answer and moved to its end by an executor."""
    system = cluster.system
    clients = Clients(rng.choice(cluster.gateways), system.key)
    try:
        created = clients.polytomic.connections.create(
            name=f"chaos probe {uid()}", type="file", configuration={"path": "."}, request_options=NO_RETRY
        ).data
        if created is None or not created.saved:
            return False
        answer = clients.native.post("/v1/runs", json={"sync_id": fixtures.probe_sync})
        if answer.status_code != 201:  # 409 while the last probe's run still goes, 202/5xx while recovering
            return False
        return wait_run(system.database_url, answer.json()["id"], timeout_s=20) == "completed"
    except Exception:
        return False
    finally:
        clients.close()
