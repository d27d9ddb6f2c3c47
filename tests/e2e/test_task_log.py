"""`kill -USR1` on any of the four services, the gateway too: it logs where each of its tasks waits (one
`service.tasks` line, each task's chain of awaits) and goes on."""

import json
import signal
import time
from typing import Any

import pytest
from tests.support.system import System

pytestmark = pytest.mark.e2e

SERVICES = ("gateway", "policy", "scheduler", "executor")


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_logs_its_tasks_on_sigusr1_and_goes_on(system: System, service: str) -> None:
    log = system.log_dir / f"{service}.log"
    before = log.stat().st_size
    process = system.processes[service]
    process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 10
    lines: list[dict[str, Any]] = []
    while not lines and time.monotonic() < deadline:
        time.sleep(0.1)
        with log.open("rb") as f:
            f.seek(before)
            lines = [json.loads(raw) for raw in f.read().splitlines() if b'"service.tasks"' in raw]
    assert lines, f"no service.tasks line in {service}'s log"
    stacks = lines[0]["stacks"]
    assert isinstance(stacks, list)
    assert len(stacks) == lines[0]["count"] > 0
    # each one: file and line in a coroutine, then the future it waits on
    assert any(" in " in stack and "waits on" in stack for stack in stacks)
    assert process.poll() is None, f"{service} ended on SIGUSR1"
