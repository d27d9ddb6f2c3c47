"""Organisations of the cross-tenant tests: one made through `syncline-admin` with its key pair and first project,
the check that an answer to one organisation carries nothing of another's, and the matrix of the probes that
ran (`.local/cross-tenant.json`: each dialect's resources by operations, with their results)."""

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.system import ROOT, System

MATRIX_FILE = ROOT / ".local" / "cross-tenant.json"


@dataclass(frozen=True)
class Tenant:
    """An organisation, its key pair and its first project (Huawei DRS)."""

    org_id: str
    encoded: str
    """The key as one bearer token (`<id>:<secret>`, base64)."""
    key_id: str
    secret: str
    project_id: str


def tenant(system: System, label: str) -> Tenant:
    """A new organisation with one key pair."""
    org = system.admin("create-org", label)
    key = system.admin("create-key", "--org", org["id"])
    return Tenant(
        org_id=org["id"],
        encoded=key["encoded"],
        key_id=key["id"],
        secret=key["secret"],
        project_id=org["project_id"],
    )


def leaks(secret_words: tuple[str, ...], answer: str, *, asked: str) -> list[str]:
    """The words of another organisation an answer carries; one the caller sent itself (`asked`) is no leak when
    the answer repeats it (an error naming the id asked for tells the caller nothing)."""
    return [word for word in secret_words if word and word in answer and word not in asked]


@dataclass
class Matrix:
    """The probes a module ran: dialect, resource, operation, what B got, and whether the probe passed."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def record(self, *, dialect: str, resource: str, operation: str, result: str, passed: bool) -> None:
        self.rows.append(
            {"dialect": dialect, "resource": resource, "operation": operation, "result": result, "passed": passed}
        )

    def write(self, path: Path = MATRIX_FILE) -> None:
        """Merge these rows into the file: its rows of other dialects are kept (each module writes its own), and
        a summary per dialect and resource is made again from all of them."""
        mine = {row["dialect"] for row in self.rows}
        kept: list[dict[str, Any]] = []
        if path.exists():
            kept = [row for row in json.loads(path.read_text())["probes"] if row["dialect"] not in mine]
        rows = kept + self.rows
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"summary": summary(rows), "probes": rows}, indent=2) + "\n")


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per dialect: per resource its operations and results; the probes run and passed."""
    dialects: dict[str, Any] = defaultdict(lambda: {"resources": defaultdict(dict), "probes": 0, "passed": 0})
    for row in rows:
        entry = dialects[row["dialect"]]
        entry["resources"][row["resource"]][row["operation"]] = row["result"] if row["passed"] else "FAILED"
        entry["probes"] += 1
        entry["passed"] += int(row["passed"])
    return {name: entry | {"resources": dict(entry["resources"])} for name, entry in sorted(dialects.items())}
