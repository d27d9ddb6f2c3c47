"""The fault suite: a workload over every dialect on two replicas of each service, faults injected at random
moments (a replica of a service SIGKILLed, the broker restarted, PostgreSQL restarted or stopped for a while), and
after each trial the checks: every acknowledged command took effect exactly once, no run duplicated or stuck,
every destination equal to its source, one terminal event per run. Writes a JSON file and prints a table.

    uv run --frozen python -m tests.chaos.suite            # the full form (`make chaos`)
    CHAOS_TRIALS=1 CHAOS_ROWS=20000 ... python -m tests.chaos.suite   # smaller (see `Config.from_env`)
"""

import asyncio
import contextlib
import functools
import json
import os
import random
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from polytomic import Polytomic

from syncline_contracts.topics import RUN_EVENTS
from syncline_platform.kafka import client_options
from syncline_platform.settings import KafkaSettings
from tests.chaos.cluster import Cluster, Infra, pointed_at
from tests.chaos.workload import (
    TERMINAL,
    ChangeStream,
    Clients,
    Command,
    CommandStream,
    bulk_sync,
    make_fixtures,
    patiently,
    progress_probe,
    query,
    seed_source,
)
from tests.e2e.polytomic_support import NO_RETRY, wait_for_policy
from tests.support.infra import bootstrap_servers, create_database
from tests.support.system import ROOT

KINDS = (
    "kill_gateway",
    "kill_policy",
    "kill_scheduler",
    "kill_executor",
    "kafka_restart",
    "postgres_restart",
    "postgres_stop",
)
REJECTED = "syncline.command.rejected"
TERMINAL_TYPES = {"syncline.run.completed", "syncline.run.failed", "syncline.run.canceled"}
OUT = ROOT / ".local" / "chaos"


def say(*parts: object) -> None:
    sys.stderr.write(f"[chaos {datetime.now(UTC):%H:%M:%S}] {' '.join(str(p) for p in parts)}\n")
    sys.stderr.flush()


@dataclass(frozen=True)
class Config:
    """How big the suite is."""

    form: str
    trials: int
    """Trials per fault kind."""
    rows: int
    """Rows of the table each trial snapshots."""
    rate: int
    """Changes a second written to the replicated table."""
    outage_s: float
    """How long PostgreSQL stays stopped in a `postgres_stop` trial."""
    fault_window_s: float
    """The fault comes at a random moment within this many seconds of the trial's start."""
    recovery_bound_s: float
    """Within this, the system must make progress again and every run must end."""
    command_pause_s: float
    seed: int
    kinds: tuple[str, ...] = KINDS
    results: Path = OUT / "results.json"

    @classmethod
    def full(cls) -> "Config":
        return cls(
            form="full",
            trials=int(os.environ.get("CHAOS_TRIALS", "20")),
            rows=int(os.environ.get("CHAOS_ROWS", "1000000")),
            rate=int(os.environ.get("CHAOS_RATE", "2000")),
            outage_s=float(os.environ.get("CHAOS_OUTAGE_S", "30")),
            fault_window_s=float(os.environ.get("CHAOS_FAULT_WINDOW_S", "8")),
            recovery_bound_s=float(os.environ.get("CHAOS_RECOVERY_BOUND_S", "180")),
            command_pause_s=0.1,
            seed=int(os.environ.get("CHAOS_SEED", str(int(time.time())))),
            kinds=tuple(os.environ.get("CHAOS_KINDS", ",".join(KINDS)).split(",")),
            results=Path(os.environ.get("CHAOS_RESULTS", str(OUT / "results.json"))),
        )

    @classmethod
    def short(cls, *, seed: int) -> "Config":
        """One trial per fault kind over small data: what `make test` runs."""
        return cls(
            form="short",
            trials=1,
            rows=20_000,
            rate=200,
            outage_s=5,
            fault_window_s=3,
            recovery_bound_s=90,
            command_pause_s=0.2,
            seed=seed,
            results=OUT / "results-short.json",
        )


@dataclass
class Tally:
    """One fault kind's figures."""

    trials: int = 0
    faults: int = 0
    commands: int = 0
    """Acknowledged commands checked."""
    unacknowledged: int = 0
    lost: int = 0
    duplicated: int = 0
    stuck: int = 0
    runs: int = 0
    runs_failed: int = 0
    """Runs that ended in error (a fault may fail a run; its retry or the next run must repair the data)."""
    rows_compared: int = 0
    mismatches: int = 0
    recovery_s: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        figures = {k: v for k, v in asdict(self).items() if k != "recovery_s"}
        figures["recovery_p50_s"] = percentile(self.recovery_s, 50)
        figures["recovery_p99_s"] = percentile(self.recovery_s, 99)
        figures["recovery_s"] = [round(r, 2) for r in self.recovery_s]
        return figures


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return round(ordered[int(rank) - 1], 2)


class EventLog:
    """Every terminal run event on the run events topic, read from its beginning on a thread: distinct `ce_id`s by
    run (a redelivered copy of one event has the same id)."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.terminal: dict[str, set[str]] = {}
        self.rejected: set[str] = set()
        """Runs whose create command was refused (after a 202, a start may still be refused: no run then)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._read()), name="events", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    async def _read(self) -> None:
        options = client_options(KafkaSettings(bootstrap_servers=bootstrap_servers()))
        consumer = AIOKafkaConsumer(self.topic, auto_offset_reset="earliest", enable_auto_commit=False, **options)
        await consumer.start()
        try:
            while not self._stop.is_set():
                with contextlib.suppress(Exception):
                    batches = await consumer.getmany(timeout_ms=300)
                    for batch in batches.values():
                        for record in batch:
                            headers = {k: v.decode() for k, v in record.headers}
                            if headers.get("ce_type") in TERMINAL_TYPES and record.key:
                                self.terminal.setdefault(record.key.decode(), set()).add(headers["ce_id"])
                            elif headers.get("ce_type") == REJECTED and record.key:
                                self.rejected.add(record.key.decode())
        finally:
            await consumer.stop()


CREATED = {
    "polytomic.connection": "SELECT count(*) AS n FROM policy_read.connections WHERE org_id = $1 AND name = $2",
    "elastic.connector": "SELECT count(*) AS n FROM policy_read.connectors WHERE org_id = $1 AND id = $2",
    "aws.data_integration": "SELECT count(*) AS n FROM policy_read.data_integrations WHERE org_id = $1 AND name = $2",
    "drs.job": "SELECT count(*) AS n FROM policy_read.drs_jobs WHERE org_id = $1 AND name = $2",
}
RUN = "SELECT count(*) AS n FROM scheduler_read.runs WHERE org_id = $1 AND id = $2"
BIG = "concat_ws('|', id, name, amount, at, flag, doc)"
STREAM = "concat_ws('|', id, v, note, at)"


def checksum(dsn: str, table: str, columns: str) -> tuple[int, str | None]:
    """Rows and the md5 of every column of every row in key order."""
    [row] = query(dsn, f"SELECT count(*) AS n, md5(string_agg({columns}, ',' ORDER BY id)) AS sum FROM {table}")
    return int(row["n"]), row["sum"]


class Suite:
    """One run of the suite over its own infrastructure."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.tallies = {kind: Tally() for kind in config.kinds}
        self.findings: list[dict[str, Any]] = []
        self.infra = Infra(home=OUT / f"infra-{config.form}")
        self.checked_starts: dict[str, int] = {}
        self.failed_runs: list[dict[str, Any]] = []
        self.complete = False
        self.began = time.monotonic()
        self.mark: datetime | None = None
        self.deadline = 0.0
        """The trial's checks all wait until this at most (one recovery bound after the system made progress)."""

    # -- the run -----------------------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """The whole suite; its results (also written, after every trial, with `complete` false until the end)."""
        self.began = time.monotonic()
        say("starting PostgreSQL and Kafka under", self.infra.home, "seed", self.config.seed)
        try:
            self.infra.up()
            with pointed_at(self.infra):
                self._with_infra()
            self.complete = True
        finally:
            self.infra.down()
            results = self.write()
        sys.stdout.write(table(results) + "\n")
        return results

    def write(self) -> dict[str, Any]:
        results = self.results(wall_s=time.monotonic() - self.began)
        self.config.results.parent.mkdir(parents=True, exist_ok=True)
        self.config.results.write_text(json.dumps(results, indent=2) + "\n")
        return results

    def _with_infra(self) -> None:
        for name in ("chaos", "chaos_data", "chaos_source", "chaos_target"):
            asyncio.run(create_database(name))
        cluster = Cluster.make(database="chaos", log_dir=OUT / f"logs-{self.config.form}")
        self.cluster = cluster
        system = cluster.system
        org = system.admin("create-org", "chaos")
        system.key = system.admin("create-key", "--org", org["id"])
        say("starting 2 replicas of each service")
        cluster.start()
        try:
            self._with_system()
        finally:
            cluster.stop()

    def _with_system(self) -> None:
        system = self.cluster.system
        clients = Clients(self.cluster.gateways[0], system.key)
        try:
            wait_for_policy(clients.polytomic, timeout_s=120)
        finally:
            clients.close()
        source = ("chaos_source", system.database_url.replace("/chaos", "/chaos_source"))
        target = ("chaos_target", system.database_url.replace("/chaos", "/chaos_target"))
        say("seeding", self.config.rows, "rows")
        asyncio.run(seed_source(source[1], big_rows=self.config.rows, stream_rows=1000))
        self.fx = make_fixtures(self.cluster, source=source, target=target)
        self.events = EventLog(f"{system.topic_prefix}{RUN_EVENTS.name}")
        self.events.start()
        self.commands = CommandStream(
            self.cluster, self.fx, rng=random.Random(self.rng.random()), pause_s=self.config.command_pause_s
        )
        self.changes = ChangeStream(self.cluster, self.fx, rate=self.config.rate, rng=random.Random(self.rng.random()))
        self.mark = self._now()
        self.commands.start()
        self.changes.start()
        try:
            for trial in range(self.config.trials):
                for kind in self.config.kinds:
                    self.trial(kind, trial)
        finally:
            self.commands.stop()
            self.changes.stop()
            self.events.stop()

    def _now(self) -> datetime:
        value: datetime = patiently(
            lambda: query(self.cluster.system.database_url, "SELECT now() AS t")[0]["t"], what="now"
        )
        return value

    # -- one trial ---------------------------------------------------------------------------------------------

    def trial(self, kind: str, number: int) -> None:
        tally = self.tallies[kind]
        label = f"{kind}#{number + 1}"
        schema = f"snap_{kind}_{number}"
        clients = Clients(self.rng.choice(self.cluster.gateways), self.cluster.system.key)
        try:
            api = clients.polytomic
            sync_id = patiently(
                lambda: bulk_sync(
                    api, source=self.fx.source_connection, target=self.fx.target_connection, table="big", schema=schema
                ),
                what="snapshot sync",
            )
            patiently(lambda: self._start(api, sync_id), what="snapshot start")
        finally:
            clients.close()
        time.sleep(self.rng.uniform(0.3, self.config.fault_window_s))
        say(label, "fault")
        fault_end = self.inject(kind)
        tally.faults += 1
        recovery = self.recover(fault_end)
        if recovery is None:
            self.finding(
                label, "no progress", f"no probe succeeded within {self.config.recovery_bound_s}s of the fault"
            )
        else:
            tally.recovery_s.append(recovery)
        say(label, "recovered in", recovery)
        time.sleep(1.0)
        self.deadline = time.monotonic() + self.config.recovery_bound_s
        segment = self.commands.next_segment()
        mark, self.mark = self.mark, self._now()
        self.check_snapshot(label, tally, sync_id=sync_id, schema=schema)
        say(label, "snapshot checked")
        self.check_changes(label, tally)
        say(label, "change stream checked")
        self.check_commands(label, tally, segment)
        self.check_runs(label, tally, since=mark, until=self.mark)
        self.check_starts(label, tally)
        tally.trials += 1
        say(label, "done", json.dumps({k: v for k, v in tally.summary().items() if k != "recovery_s"}))
        self.write()

    @staticmethod
    def _start(api: Polytomic, sync_id: str) -> str:
        started = api.bulk_sync.start(sync_id, request_options=NO_RETRY).data
        assert started is not None
        return str(started.id)

    def inject(self, kind: str) -> float:
        """Do the fault; when it ended (monotonic): the kill, or the server accepting connections again."""
        if kind.startswith("kill_"):
            key = self.cluster.kill_one(kind.removeprefix("kill_"), self.rng)
            ended = time.monotonic()
            time.sleep(2.0)  # a supervisor notices and starts it again
            self.cluster.restart(key)
            return ended
        if kind == "kafka_restart":
            self.infra.stop("kafka")
            self.infra.start("kafka")
        elif kind == "postgres_restart":
            self.infra.stop("postgres")
            self.infra.start("postgres")
        elif kind == "postgres_stop":
            self.infra.stop("postgres")
            time.sleep(self.config.outage_s)
            self.infra.start("postgres")
        return time.monotonic()

    def recover(self, fault_end: float) -> float | None:
        """Seconds from the fault's end to the first successful progress probe (None: not within the bound)."""
        deadline = fault_end + self.config.recovery_bound_s
        while time.monotonic() < deadline:
            if progress_probe(self.cluster, self.fx, rng=self.rng):
                return time.monotonic() - fault_end
            time.sleep(0.3)
        return None

    def _left(self) -> float:
        """What is left of the trial's bound (a little at least, for one more look)."""
        return max(5.0, self.deadline - time.monotonic())

    def finding(self, label: str, what: str, detail: str) -> None:
        say(label, "FINDING", what, detail)
        self.findings.append({"trial": label, "what": what, "detail": detail})

    # -- checks ------------------------------------------------------------------------------------------------

    def _runs(self, sync_id: str) -> list[dict[str, Any]]:
        return query(
            self.cluster.system.database_url,
            "SELECT id, status, error, attempt, retry_of, worker_hostname, started_at, last_seen, now() AS now"
            " FROM scheduler_read.runs WHERE sync_id = $1 ORDER BY created_at",
            sync_id,
        )

    def check_snapshot(self, label: str, tally: Tally, *, sync_id: str, schema: str) -> None:
        """The snapshot's runs end, one of them completed (retries included), and its copy equals the source."""
        deadline = self.deadline
        runs: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            runs = patiently(lambda: self._runs(sync_id), what="snapshot runs")
            if any(r["status"] == "completed" for r in runs):
                break
            time.sleep(0.5)
        if not any(r["status"] == "completed" for r in runs):
            self.finding(label, "snapshot never completed", json.dumps(runs, default=str))
        source = checksum(self.fx.source_dsn, "public.big", BIG)
        try:
            copy = checksum(self.fx.target_dsn, f"{schema}.big", BIG)
        except Exception as exc:
            copy = (0, repr(exc))
        tally.rows_compared += source[0]
        if copy != source:
            tally.mismatches += 1
            self.finding(label, "snapshot mismatch", f"source {source}, copy {copy}, runs {runs}")

    def check_changes(self, label: str, tally: Tally) -> None:
        """The change stream, held: one more run applies what is left, then the copy equals the source."""
        self.changes.hold(timeout_s=self._left())
        status = self.changes.run_once(timeout_s=self._left())
        try:
            if status != "completed":
                self.finding(label, "change stream run did not complete", status)
            source = checksum(self.fx.source_dsn, "public.stream", STREAM)
            copy = checksum(self.fx.target_dsn, "cdc.stream", STREAM)
            tally.rows_compared += source[0]
            if copy != source:
                tally.mismatches += 1
                diff = query(
                    self.fx.source_dsn,
                    "SELECT count(*) AS n FROM public.stream",
                )
                self.finding(label, "change stream mismatch", f"source {source}, copy {copy} ({diff})")
        finally:
            self.changes.resume()

    def _effects(self, command: Command) -> int:
        """How many times the command took effect; a start answered 202 and refused afterwards counts as done
        (its outcome came; a 201 is only answered once the run exists)."""
        org = self.cluster.system.key["org_id"]
        sql = CREATED.get(command.kind, RUN)
        found = int(query(self.cluster.system.database_url, sql, org, command.key)[0]["n"])
        if found == 0 and command.kind.endswith(".start") and command.key in self.events.rejected:
            return 1
        return found

    def check_commands(self, label: str, tally: Tally, segment: int) -> None:
        """Each acknowledged create or start has exactly one effect (a refused one none); an unacknowledged one
        at most one. An acknowledged 2xx may still be on its way (a 202): its effect is waited for a while."""
        mine = [c for c in self.commands.commands if c.segment == segment]
        tally.unacknowledged += sum(not c.acked for c in mine)
        named = [c for c in mine if c.key]  # a start that was not answered names no run: nothing to look up

        def expected(command: Command) -> int:
            return 1 if command.acked and command.status is not None and command.status < 300 else 0

        found = {id(c): patiently(functools.partial(self._effects, c), what="effects") for c in named}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(found[id(c)] < expected(c) for c in named):
            time.sleep(1.0)
            for c in named:
                if found[id(c)] < expected(c):
                    found[id(c)] = patiently(functools.partial(self._effects, c), what="effects")
        tally.commands += sum(c.acked for c in mine)
        for command in named:
            effects, wanted = found[id(command)], expected(command)
            if command.acked and effects < wanted:
                tally.lost += 1
                self.finding(label, "lost", f"{command} acknowledged, no effect")
            elif effects > 1 or (command.acked and effects > wanted):
                tally.duplicated += 1
                self.finding(label, "duplicated", f"{command} took effect {effects} times")

    def check_runs(self, label: str, tally: Tally, *, since: datetime | None, until: datetime) -> None:
        """Every run made in the trial ends within the bound, with exactly one terminal event."""
        dsn = self.cluster.system.database_url
        org = self.cluster.system.key["org_id"]
        deadline = self.deadline

        def runs() -> list[dict[str, Any]]:
            return query(
                dsn,
                "SELECT id, sync_id, status, error, worker_hostname FROM scheduler_read.runs"
                " WHERE org_id = $1 AND created_at > $2 AND created_at <= $3",
                org,
                since or datetime(2000, 1, 1, tzinfo=UTC),
                until,
            )

        found = patiently(runs, what="runs")
        while any(r["status"] not in TERMINAL for r in found) and time.monotonic() < deadline:
            time.sleep(1.0)
            found = patiently(runs, what="runs")
        tally.runs += len(found)
        tally.runs_failed += sum(r["status"] == "error" for r in found)
        self.failed_runs += [
            {"trial": label, "run": r["id"], "sync": r["sync_id"], "error": r["error"]}
            for r in found
            if r["status"] == "error"
        ]
        for run in found:
            if run["status"] not in TERMINAL:
                tally.stuck += 1
                self.finding(label, "stuck", f"run {run} not ended {self.config.recovery_bound_s}s after recovery")
        ended = [r for r in found if r["status"] in TERMINAL]
        deadline = time.monotonic() + 20
        while any(len(self.events.terminal.get(r["id"], ())) == 0 for r in ended) and time.monotonic() < deadline:
            time.sleep(0.5)
        for run in ended:
            events = len(self.events.terminal.get(run["id"], ()))
            if events == 0:
                tally.lost += 1
                self.finding(label, "no terminal event", f"run {run}")
            elif events > 1:
                tally.duplicated += 1
                self.finding(label, "terminal events", f"run {run} has {events} terminal events")

    def check_starts(self, label: str, tally: Tally) -> None:
        """No sync has more first attempts of on-demand runs than calls that asked for one."""
        for sync_id, attempts in dict(self.commands.start_attempts).items():
            [row] = query(
                self.cluster.system.database_url,
                "SELECT count(*) AS n FROM scheduler_read.runs WHERE sync_id = $1 AND retry_of IS NULL"
                " AND trigger_method = 'on_demand'",
                sync_id,
            )
            excess = int(row["n"]) - attempts - self.checked_starts.get(sync_id, 0)
            if excess > 0:
                self.checked_starts[sync_id] = self.checked_starts.get(sync_id, 0) + excess
                tally.duplicated += excess
                self.finding(label, "duplicated runs", f"sync {sync_id}: {row['n']} runs for {attempts} start calls")

    # -- output ------------------------------------------------------------------------------------------------

    def results(self, *, wall_s: float) -> dict[str, Any]:
        return {
            "form": self.config.form,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "wall_s": round(wall_s, 1),
            "config": {k: v for k, v in asdict(self.config).items() if k != "results"},
            "kinds": {kind: tally.summary() for kind, tally in self.tallies.items()},
            "complete": self.complete,
            "changes_written": self.changes.written if hasattr(self, "changes") else 0,
            "changes_per_s": round(self.changes.written / max(self.changes.writing_s, 1e-9))
            if hasattr(self, "changes")
            else 0,
            "findings": self.findings,
            "failed_runs": self.failed_runs,
            "unacknowledged": self.unacknowledged(),
        }

    def unacknowledged(self) -> list[dict[str, Any]]:
        """The calls the system did not acknowledge, grouped by kind, answer and error."""
        commands = getattr(self, "commands", None)
        groups = Counter(
            (c.kind, c.status, c.error.split("\n")[0][:120])
            for c in (commands.commands if commands else [])
            if not c.acked
        )
        return [{"kind": k, "status": st, "error": e, "count": n} for (k, st, e), n in groups.most_common()]


COLUMNS = ("trials", "faults", "commands", "lost", "duplicated", "stuck", "rows_compared", "mismatches")


def table(results: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    head = ["fault", *COLUMNS, "recovery p50 s", "recovery p99 s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for kind, figures in results["kinds"].items():
        cells = [kind, *(f"{figures[c]:,}" for c in COLUMNS)]
        cells += [str(figures["recovery_p50_s"]), str(figures["recovery_p99_s"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def totals(results: dict[str, Any], *names: str) -> dict[str, int]:
    """The sum over fault kinds of each named figure."""
    return {name: sum(int(f[name]) for f in results["kinds"].values()) for name in names}


def main(make: Callable[[], Config] = Config.full) -> int:
    warnings.filterwarnings("ignore", message=".*is in beta.*")  # the Elastic client's connector API
    warnings.filterwarnings("ignore", message="Method .* of DrsClient is deprecated", category=DeprecationWarning)
    results = Suite(make()).run()
    bad = totals(results, "lost", "duplicated", "stuck", "mismatches")
    return 1 if any(bad.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
