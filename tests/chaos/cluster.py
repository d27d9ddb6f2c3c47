"""The fault suite's own system: a private PostgreSQL and Kafka (started with `deploy/local`'s scripts under a
state folder of their own, so the suite may stop and restart them without touching the servers other tests use)
and two replicas of each service as processes, which the suite kills and starts again."""

import contextlib
import os
import random
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.system import ROOT, SERVICES, System, free_port, make_system

REPLICAS = 2
SHARED_JARS = ROOT / ".local" / "kafka" / "libs"
SCRIPTS = {"postgres": ROOT / "deploy/local/postgres/pg.sh", "kafka": ROOT / "deploy/local/kafka/kafka.sh"}
FAST_SWEEP = {"SYNCLINE_REAPER_AFTER_S": "10", "SYNCLINE_REPUBLISH_AFTER_S": "15", "SYNCLINE_REAPER_INTERVAL_S": "2"}
"""A killed executor's runs are swept after 10 s instead of 5 minutes, so a trial's recovery bound stays short."""


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_port(port: int, *, timeout_s: float = 90.0) -> None:
    """Return once something accepts connections on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout_s
    while not _listening(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on {port} after {timeout_s}s")
        time.sleep(0.2)


@dataclass
class Infra:
    """A PostgreSQL cluster and a Kafka broker of the suite's own, under `home`."""

    home: Path
    pg_port: int = field(default_factory=free_port)
    kafka_port: int = field(default_factory=free_port)
    kafka_ctrl_port: int = field(default_factory=free_port)

    def _script(self, what: str, action: str) -> None:
        env = os.environ | {
            "SYNCLINE_HOME": str(self.home),
            "PG_PORT": str(self.pg_port),
            "KAFKA_PORT": str(self.kafka_port),
            "KAFKA_CTRL_PORT": str(self.kafka_ctrl_port),
        }
        if (SHARED_JARS / ".complete").exists():  # the jars `make up` fetched: no second download
            env["KAFKA_LIBS"] = str(SHARED_JARS)
        subprocess.run(["bash", str(SCRIPTS[what]), action], env=env, check=True, capture_output=True)

    def start(self, what: str) -> None:
        """Start one of them (`postgres`, `kafka`) and wait until it accepts connections."""
        self._script(what, "start")
        wait_port(self.pg_port if what == "postgres" else self.kafka_port)

    def stop(self, what: str) -> None:
        """Stop one of them (PostgreSQL: fast shutdown; Kafka: SIGTERM, then SIGKILL after 30 s)."""
        self._script(what, "stop")

    def up(self) -> None:
        """Both, from empty data folders (Kafka's jars are kept), side by side."""
        self.home.mkdir(parents=True, exist_ok=True)

        def fresh(what: str) -> None:
            self._script(what, "reset")
            self.start(what)

        with ThreadPoolExecutor(max_workers=2) as pool:
            for done in [pool.submit(fresh, what) for what in SCRIPTS]:
                done.result()

    def down(self) -> None:
        for what in SCRIPTS:
            with contextlib.suppress(subprocess.CalledProcessError):
                self.stop(what)

    @property
    def environ(self) -> dict[str, str]:
        """What points the test helpers (`tests.support.infra`) and the services at these servers."""
        return {
            "SYNCLINE_HOME": str(self.home),
            "SYNCLINE_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{self.pg_port}/syncline",
            "SYNCLINE_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{self.kafka_port}",
        }


@contextlib.contextmanager
def pointed_at(infra: Infra) -> Iterator[None]:
    """`os.environ` names `infra`'s servers while the block runs (the test helpers read it), restored after."""
    saved = {key: os.environ.get(key) for key in infra.environ}
    os.environ.update(infra.environ)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass
class Cluster:
    """Two replicas of each service over one system (one database, topic prefix and organisation)."""

    system: System
    env: dict[str, str] = field(default_factory=lambda: dict(FAST_SWEEP))

    @classmethod
    def make(cls, *, database: str, log_dir: Path) -> "Cluster":
        system = make_system(database=database, docstore=f"{database}_data", prefix="chaos.", log_dir=log_dir)
        system.env.pop("SYNCLINE_INSTANCE_ID", None)
        return cls(system=system)

    def start(self) -> None:
        """Every replica of every service; returns once each gateway answers."""
        for name in SERVICES:
            for replica in range(1, REPLICAS + 1):
                self.system.start_replica(name, replica=replica, env=self.env)
        for url in self.gateways:
            wait_port(int(url.rsplit(":", 1)[1]), timeout_s=120)

    @property
    def gateways(self) -> list[str]:
        return list(self.system.replica_urls.values())

    def replicas(self, name: str) -> list[str]:
        return [f"{name}-{replica}" for replica in range(1, REPLICAS + 1)]

    def kill_one(self, name: str, rng: random.Random) -> str:
        """SIGKILL a random replica of service `name`; its key."""
        key = rng.choice(self.replicas(name))
        self.system.kill(key)
        return key

    def restart(self, key: str) -> None:
        """Start a killed replica again (as a supervisor would)."""
        name, replica = key.rsplit("-", 1)
        self.system.start_replica(name, replica=int(replica), env=self.env)

    def alive(self) -> dict[str, bool]:
        return {key: proc.poll() is None for key, proc in self.system.processes.items()}

    def stop(self) -> None:
        self.system.stop()
