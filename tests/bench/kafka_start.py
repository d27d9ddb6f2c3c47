"""Broker start-to-ready time and resident memory of the local Kafka (a throwaway broker on other ports)."""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy/local/kafka/kafka.sh"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure() -> dict[str, Any]:
    """Start a fresh broker (new data directory), wait until it answers metadata, read its RSS, stop it."""
    with tempfile.TemporaryDirectory() as home:
        libs = Path(home) / "kafka" / "libs"
        libs.parent.mkdir(parents=True)
        libs.symlink_to(ROOT / ".local/kafka/libs")
        env = {"SYNCLINE_HOME": home, "KAFKA_PORT": "19192", "KAFKA_CTRL_PORT": "19193", "PATH": "/usr/bin:/bin"}
        started = time.perf_counter()
        subprocess.run(["bash", str(SCRIPT), "start"], env=env, check=True, capture_output=True)
        # it authenticates with the credentials the fresh broker wrote below its SYNCLINE_HOME
        wait = [sys.executable, str(ROOT / "deploy/local/wait_kafka.py"), "127.0.0.1:19192", "90"]
        subprocess.run(wait, env=os.environ | {"SYNCLINE_HOME": home}, check=True)
        ready = time.perf_counter() - started
        time.sleep(2)  # let start-up allocations settle
        pid = int((Path(home) / "kafka" / "kafka.pid").read_text())
        rss = _rss_mb(pid)
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, check=True, capture_output=True)
    return {"name": "kafka_broker", "start_to_ready_s": round(ready, 2), "rss_mb": round(rss, 1)}
