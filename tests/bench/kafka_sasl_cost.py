"""What SASL/SCRAM and ACLs cost the 1M-row snapshot PostgreSQL → Kafka (the data plane's Kafka case).

The same snapshot, interleaved (A B A B …, medians): (A) into the shared secured broker as the customer principal
of `kafka_destination()` (SASL/SCRAM-SHA-512, the StandardAuthorizer's ACLs), (B) into a private PLAINTEXT broker
started for the purpose (same jars, same JVM options, one warm-up run discarded) and stopped afterwards. Beside
wall time: the CPU of the process moving the rows (the pipeline's own CPU seconds) and the broker JVM's (utime +
stime from /proc, which on the shared broker also counts whatever else uses it meanwhile).
"""

import asyncio
import os
import socket
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from syncline_platform.kafka import resolve_auth  # noqa: E402
from tests.bench import dataplane  # noqa: E402
from tests.support.infra import kafka_destination, kafka_settings  # noqa: E402

SCRIPT = ROOT / "deploy/local/kafka/kafka.sh"
HOME = ROOT / ".local" / "bench" / "kafka_plaintext"
SHARED_PID = ROOT / ".local" / "kafka" / "kafka.pid"
RUNS = int(os.environ.get("SYNCLINE_BENCH_KAFKA_RUNS", "4"))
TICK = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _jvm_cpu_s(pid: int) -> float:
    """A process's user + system CPU seconds so far (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class PlaintextBroker:
    """A private PLAINTEXT broker on free ports (the fetched jars reused), stopped on exit."""

    def __init__(self) -> None:
        port, ctrl = _free_port(), _free_port()
        self.bootstrap = f"127.0.0.1:{port}"
        self.env = os.environ | {
            "SYNCLINE_HOME": str(HOME),
            "KAFKA_SECURITY": "plaintext",
            "KAFKA_PORT": str(port),
            "KAFKA_CTRL_PORT": str(ctrl),
            "KAFKA_LIBS": str(ROOT / ".local" / "kafka" / "libs"),
        }

    def __enter__(self) -> "PlaintextBroker":
        subprocess.run(["bash", str(SCRIPT), "reset"], env=self.env, check=True, capture_output=True)
        subprocess.run(["bash", str(SCRIPT), "start"], env=self.env, check=True, capture_output=True)
        try:
            wait = [sys.executable, str(ROOT / "deploy/local/wait_kafka.py"), self.bootstrap, "120"]
            subprocess.run(wait, env=self.env, check=True, capture_output=True)
            self.pid = int((HOME / "kafka" / "kafka.pid").read_text())
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        subprocess.run(["bash", str(SCRIPT), "reset"], env=self.env, check=True, capture_output=True)


def _once(*, env: dict[str, str] | None, broker_pid: int, topic: str) -> dict[str, Any]:
    before = _jvm_cpu_s(broker_pid)
    run = dataplane.syncline("kafka", env=env, topic=topic)
    return run | {"broker_cpu_s": _jvm_cpu_s(broker_pid) - before}


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def measure() -> list[dict[str, Any]]:
    """The secured and the plaintext snapshot, `RUNS` of each, interleaved; one results.json entry."""
    asyncio.run(dataplane.prepare(everything=False))
    secured = kafka_destination()
    if not resolve_auth(kafka_settings()).sasl:
        raise RuntimeError(f"the shared broker {secured['bootstrap_servers']} is not secured: nothing to compare")
    shared_pid = int(SHARED_PID.read_text())
    runs: dict[str, list[dict[str, Any]]] = {"secured": [], "plaintext": []}
    with PlaintextBroker() as plain:
        # the child finds the private broker through the test settings; no SASL settings of the shared one
        plain_env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCLINE_KAFKA__")}
        plain_env["SYNCLINE_KAFKA__BOOTSTRAP_SERVERS"] = plain.bootstrap
        topics: dict[str, list[str]] = {"secured": [], "plaintext": []}
        try:
            # a fresh JVM compiles its hot paths during its first runs: one run discarded, the shared one is warm
            topics["plaintext"].append(asyncio.run(dataplane._topic(bootstrap_servers=plain.bootstrap)))
            _once(env=plain_env, broker_pid=plain.pid, topic=topics["plaintext"][-1])
            for _ in range(RUNS):
                topics["secured"].append(asyncio.run(dataplane._topic()))
                runs["secured"].append(_once(env=None, broker_pid=shared_pid, topic=topics["secured"][-1]))
                topics["plaintext"].append(asyncio.run(dataplane._topic(bootstrap_servers=plain.bootstrap)))
                runs["plaintext"].append(_once(env=plain_env, broker_pid=plain.pid, topic=topics["plaintext"][-1]))
        finally:
            if topics["secured"]:
                asyncio.run(dataplane._drop_topics(topics["secured"]))
    rows = {kind: {r["rows"] for r in found} for kind, found in runs.items()}
    if rows != {"secured": {dataplane.ROWS}, "plaintext": {dataplane.ROWS}}:
        raise RuntimeError(f"rows written differ from {dataplane.ROWS}: {rows}")
    figures: dict[str, Any] = {"name": "kafka_sasl_cost", "rows": dataplane.ROWS, "runs_each": RUNS}
    for kind, found in runs.items():
        wall = _median(found, "wall_s")
        figures |= {
            f"{kind}_rows_per_s": round(dataplane.ROWS / wall),
            f"{kind}_wall_s": round(wall, 2),
            f"{kind}_walls_s": [round(r["wall_s"], 2) for r in found],
            f"{kind}_pipeline_cpu_s": round(_median(found, "pipeline_cpu_s"), 2),
            f"{kind}_process_cpu_s": round(_median(found, "cpu_s"), 2),
            f"{kind}_broker_cpu_s": round(_median(found, "broker_cpu_s"), 2),
        }
    figures |= {
        "rate_ratio_secured_to_plaintext": round(figures["secured_rows_per_s"] / figures["plaintext_rows_per_s"], 3),
        "pipeline_cpu_ratio_secured_to_plaintext": round(
            figures["secured_pipeline_cpu_s"] / figures["plaintext_pipeline_cpu_s"], 3
        ),
        "broker_cpu_ratio_secured_to_plaintext": round(
            figures["secured_broker_cpu_s"] / figures["plaintext_broker_cpu_s"], 3
        ),
        "secured_protocol": f"{secured.get('security_protocol', 'PLAINTEXT')} as {secured.get('sasl_username')}",
    }
    return [figures]


if __name__ == "__main__":
    for line in measure():
        sys.stdout.write(f"{line}\n")
