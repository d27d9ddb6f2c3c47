"""One owner per table: no service's SQL names another service's private tables.

Each service owns the tables of its schema (`gateway`, `policy`, `scheduler`, `executor`). Another service reads
them only through the read models the owner publishes and migrates as a contract (`<owner>_read.<name>` views);
run status changes only through the run ledger (`syncline_platform.run_ledger`), the one module outside the
scheduler that may write `scheduler.runs`. This test reads every string literal of the services' and libraries'
code (docstrings aside) and fails on any other cross-schema name.
"""

import ast
import itertools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ("gateway", "policy", "scheduler", "executor")
_NAME = re.compile(r"\b(" + "|".join(SCHEMAS) + r")\.([a-z_][a-z0-9_]*)\b")
LEDGER = ROOT / "libs/platform/src/syncline_platform/run_ledger.py"
"""The shared transition function: its writes of `scheduler.runs` are the design (see its docstring)."""


def _docstrings(tree: ast.AST) -> set[int]:
    owners = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, owners) and node.body and isinstance(node.body[0], ast.Expr):
            found.add(id(node.body[0].value))
        # attribute docstrings: a string right after an assignment
        body = getattr(node, "body", None)
        if isinstance(body, list):
            for before, after in itertools.pairwise(body):
                if isinstance(before, ast.Assign | ast.AnnAssign) and isinstance(after, ast.Expr):
                    found.add(id(after.value))
    return found


def sql_names(source: str) -> set[tuple[str, str]]:
    """(schema, table) pairs named in the string literals of `source`, docstrings aside."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    names: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            names |= set(_NAME.findall(node.value))
    return names


def owner_of(path: Path) -> str | None:
    """The service whose code `path` is (None for a library)."""
    parts = path.relative_to(ROOT).parts
    return parts[1] if parts[0] == "services" else None


def violations(path: Path, source: str) -> list[str]:
    """What `path` names of other services' private tables."""
    owner = owner_of(path)
    found = []
    for schema, table in sorted(sql_names(source)):
        if schema == owner or (path == LEDGER and (schema, table) == ("scheduler", "runs")):
            continue
        found.append(f"{path.relative_to(ROOT)} names {schema}.{table}")
    return found


def _code() -> list[Path]:
    return sorted(p for base in ("services", "libs") for p in (ROOT / base).glob("*/src/**/*.py"))


def test_no_service_names_another_services_private_tables() -> None:
    problems = [v for path in _code() for v in violations(path, path.read_text())]
    assert problems == [], "read through <owner>_read views or the run ledger:\n" + "\n".join(problems)


def test_the_code_it_reads_is_the_code_that_moves_runs() -> None:
    executor = ROOT / "services/executor/src/syncline_executor/repository.py"
    assert executor in _code()
    assert ("scheduler_read", "runs") not in sql_names(executor.read_text())  # the regex is for private names
    assert "scheduler_read.runs" in executor.read_text()
    assert ("scheduler", "runs") in sql_names(LEDGER.read_text())


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("services/gateway/src/x.py", 'Q = "SELECT * FROM scheduler.runs WHERE id = $1"', ["scheduler.runs"]),
        ("services/executor/src/x.py", 'Q = f"UPDATE scheduler.runs SET {c} = 1"', ["scheduler.runs"]),
        ("services/gateway/src/x.py", 'Q = "SELECT * FROM scheduler_read.runs"', []),
        ("services/policy/src/x.py", 'Q = "SELECT * FROM policy.syncs"', []),
        ("services/gateway/src/x.py", '"""Reads `policy.syncs` through its view."""\nQ = "SELECT 1"', []),
        ("libs/connectors/src/x.py", 'Q = "SELECT * FROM executor.checkpoints"', ["executor.checkpoints"]),
    ],
)
def test_the_check_finds_private_names(path: str, source: str, expected: list[str]) -> None:
    found = violations(ROOT / path, source)
    assert [v.rsplit(" ", 1)[-1] for v in found] == expected
