"""The whole system as separate processes: the four console scripts against real Kafka and PostgreSQL."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from syncline_gateway import admin
from syncline_gateway.settings import GatewaySettings
from syncline_platform.secrets import generate_key
from tests.support.infra import bootstrap_servers, with_database
from tests.support.infra import database_url as infra_database_url

SERVICES = ("policy", "scheduler", "executor", "gateway")
TEST_PARTITIONS = 3
"""Partitions per topic in tests: enough for several consumers of a group, few enough to clean up quickly."""
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


_ENVIRON = threading.Lock()


def admin_in_process(env: dict[str, str], argv: list[str]) -> dict[str, str]:
    """`syncline-admin argv` as its entry point runs it, with `env` as the environment its settings read."""
    args = admin.parse(argv)
    with _ENVIRON:  # the settings read os.environ: `env` stands in for it while they are made
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            settings = admin.with_local_secret_key(GatewaySettings(), environ=env)
        finally:
            os.environ.clear()
            os.environ.update(saved)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="admin") as pool:
        answer: dict[str, str] = pool.submit(asyncio.run, admin.run_command(settings, args)).result()
    printed: dict[str, str] = json.loads(json.dumps(answer))  # as the command prints it
    return printed


def free_port() -> int:
    """A TCP port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class System:
    """Running services plus the credentials of one organisation."""

    env: dict[str, str]
    url: str
    database_url: str
    docstore_url: str
    topic_prefix: str
    log_dir: Path
    files_root: Path
    """The services' files root (`SYNCLINE_FILES__ROOT`): every file connection's folder lies inside it."""
    key: dict[str, str] = field(default_factory=dict)
    ops_ports: dict[str, int] = field(default_factory=dict)
    """Each service's ops port (`/metrics`, `/healthz`, `/readyz`), free ports chosen when it starts."""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    replica_urls: dict[str, str] = field(default_factory=dict)
    """Each gateway replica's API address (`start_replica`), by its key."""
    _logs: list[IO[bytes]] = field(default_factory=list)

    def admin(self, *args: str) -> dict[str, str]:
        """What `syncline-admin … --json` answers, with the system's environment: its code run in this process
        (on a thread of its own, so sync and async tests alike may call it), which spares the suite an
        interpreter start per organisation and key. The command line itself is tested as a user runs it
        (`test_readme_commands`, `test_cli`)."""
        return admin_in_process(self.env, [*args, "--json"])

    def start(self, *names: str) -> None:
        """Start services (all by default) and wait for the gateway to answer."""
        for name in names or SERVICES:
            log = (self.log_dir / f"{name}.log").open("ab")
            self._logs.append(log)
            self.ops_ports[name] = free_port()
            self.processes[name] = subprocess.Popen(
                [str(BIN / f"syncline-{name}")],
                env=self.env | {"SYNCLINE_OPS__PORT": str(self.ops_ports[name])},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if "gateway" in (names or SERVICES):
            self._wait_healthy()

    def start_replica(self, name: str, *, replica: int, env: dict[str, str] | None = None) -> str:
        """Start one more process of service `name`, as replica `replica`: its own instance id and ops port (a
        gateway replica also its own API port, in `replica_urls`), and `env` on top of the system's. Its key in
        `processes` (`<name>-<replica>`) is returned; starting a key again (after `kill`) replaces the process."""
        key = f"{name}-{replica}"
        log = (self.log_dir / f"{key}.log").open("ab")
        self._logs.append(log)
        self.ops_ports[key] = free_port()
        own = {"SYNCLINE_OPS__PORT": str(self.ops_ports[key]), "SYNCLINE_INSTANCE_ID": key}
        if name == "gateway":
            port = int(urlsplit(self.replica_urls[key]).port or 0) if key in self.replica_urls else free_port()
            self.replica_urls[key] = f"http://127.0.0.1:{port}"
            own["SYNCLINE_PORT"] = str(port)
        self.processes[key] = subprocess.Popen(
            [str(BIN / f"syncline-{name}")], env=self.env | own | (env or {}), stdout=log, stderr=subprocess.STDOUT
        )
        return key

    def _wait_healthy(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}: see {self.log_dir / name}.log")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1):  # noqa: S310 - loopback
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gateway not healthy after {timeout_s}s: see {self.log_dir}/gateway.log")

    def ops_url(self, name: str) -> str:
        """Where service `name` serves `/metrics`, `/healthz` and `/readyz`."""
        return f"http://127.0.0.1:{self.ops_ports[name]}"

    def kill(self, name: str) -> None:
        """SIGKILL one service."""
        self.processes[name].kill()
        self.processes[name].wait()

    def stop(self) -> None:
        """SIGTERM everything, then SIGKILL stragglers."""
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in self._logs:
            log.close()

    def topic(self, name: str) -> str:
        """A registry topic's name for this system."""
        return f"{self.topic_prefix}{name}"

    def org_root(self, org_id: str | None = None) -> Path:
        """An organisation's own folder of the files root (the session organisation's by default): its file
        connections' paths are relative to it."""
        return self.files_root / (org_id or self.key["org_id"])


DENIED_NETWORK = "203.0.113.0/24"
"""A documentation network (TEST-NET-3) every test system denies, so tests can prove the deny list."""


def make_system(*, database: str, docstore: str, prefix: str, log_dir: Path, files_root: Path | None = None) -> System:
    """A system wired to its own databases, topic prefix and files root (by default
    `.local/test-files/<database>`), not yet started."""
    base = infra_database_url()
    database_url = with_database(base, database)
    docstore_url = with_database(base, docstore)
    port = free_port()
    files_root = files_root or ROOT / ".local" / "test-files" / database
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("SYNCLINE_") or key in ("SYNCLINE_HOME",)
    }
    env |= {
        "SYNCLINE_DATABASE_URL": database_url,
        "SYNCLINE_DOCSTORE_URL": docstore_url,
        "SYNCLINE_KAFKA__BOOTSTRAP_SERVERS": bootstrap_servers(),
        "SYNCLINE_KAFKA__TOPIC_PREFIX": prefix,
        "SYNCLINE_KAFKA__MAX_PARTITIONS": str(TEST_PARTITIONS),
        "SYNCLINE_SECRET_KEY": generate_key(),
        "SYNCLINE_PORT": str(port),
        "SYNCLINE_LOG__JSON_OUTPUT": "true",
        "SYNCLINE_INSTANCE_ID": "test-worker",
        "SYNCLINE_FILES__ROOT": str(files_root),
        "SYNCLINE_NETWORK__DENY": DENIED_NETWORK,
    }
    log_dir.mkdir(parents=True, exist_ok=True)
    return System(
        env=env,
        url=f"http://127.0.0.1:{port}",
        database_url=database_url,
        docstore_url=docstore_url,
        topic_prefix=prefix,
        log_dir=log_dir,
        files_root=files_root,
    )
