"""The README's table of every setting, generated from the services' settings models (`ServiceSettings` and the
four services' own), between the markers `<!-- settings:begin -->` and `<!-- settings:end -->`.

    uv run --frozen python -m tests.support.settings_table          # rewrite the README's table
    uv run --frozen python -m tests.support.settings_table --check   # exit 1 when the README differs

`tests/unit/test_readme_settings.py` fails when the README drifts from the models. A variable's meaning is its
field's attribute docstring; a nested model's fields become `SYNCLINE_<FIELD>__<SUBFIELD>`; defaults are those of
the models as written (a relative path stays relative, the host name is said, not printed)."""

import ast
import inspect
import itertools
import re
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from syncline_executor.settings import ExecutorSettings
from syncline_gateway.settings import GatewaySettings
from syncline_platform.settings import ServiceSettings
from syncline_policy.settings import PolicySettings
from syncline_scheduler.settings import SchedulerSettings

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"
SERVICES: dict[str, type[ServiceSettings]] = {
    "gateway": GatewaySettings,
    "policy": PolicySettings,
    "scheduler": SchedulerSettings,
    "executor": ExecutorSettings,
}
PREFIX = "SYNCLINE_"
WORDS = frozenset({"unset", "empty", "the host's name"})
"""Defaults said in words, not shown as values."""


@dataclass(frozen=True)
class Setting:
    """One variable of one service."""

    variable: str
    default: str
    meaning: str


def _documented(field: ast.stmt, after: ast.stmt) -> tuple[str, str] | None:
    """`(name, docstring)` when `field` is an annotated field and `after` the string that documents it."""
    if not (isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name)):
        return None
    if not (isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)):
        return None
    return field.target.id, " ".join(str(after.value.value).split())


@cache
def _docstrings(cls: type) -> dict[str, str]:
    """A class's attribute docstrings (the string right after an annotated field), its bases' first."""
    found: dict[str, str] = {}
    for base in reversed(cls.__mro__):
        if not (isinstance(base, type) and issubclass(base, BaseModel)) or base.__module__.startswith("pydantic"):
            continue
        body = ast.parse(inspect.getsource(base)).body[0]
        assert isinstance(body, ast.ClassDef)
        found.update(doc for pair in itertools.pairwise(body.body) if (doc := _documented(*pair)))
    return found


def _shown(value: Any) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None or value in ("", ()):
        return "unset" if value is None else "empty"
    if value == socket.gethostname():
        return "the host's name"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _code(default: str) -> str:
    return default if default in WORDS else f"`{default}`"


def _default(info: FieldInfo, given: BaseModel | None, name: str) -> Any:
    """A field's default: the value a parent's default instance sets, else the field's own (unvalidated)."""
    if given is not None and name in given.model_fields_set:
        return getattr(given, name)
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return info.default


def settings_of(model: type[BaseModel], *, prefix: str = PREFIX, given: BaseModel | None = None) -> Iterator[Setting]:
    """Every variable of a settings model, nested models flattened."""
    docs = _docstrings(model)
    for name, info in model.model_fields.items():
        value = _default(info, given, name)
        variable = f"{prefix}{name.upper()}"
        if isinstance(value, BaseModel):
            yield from settings_of(type(value), prefix=f"{variable}__", given=value)
        else:
            yield Setting(variable=variable, default=_shown(value), meaning=docs.get(name, ""))


def table() -> str:
    """The Markdown table: one row per variable, with the services that read it."""
    rows: dict[str, dict[str, Setting]] = {}
    for service, model in SERVICES.items():
        for setting in settings_of(model):
            rows.setdefault(setting.variable, {})[service] = setting
    lines = ["| variable | services | default | meaning |", "|---|---|---|---|"]
    for variable, by_service in rows.items():
        services = "all" if len(by_service) == len(SERVICES) else ", ".join(by_service)
        defaults = {s.default for s in by_service.values()}
        default = (
            _code(defaults.pop())
            if len(defaults) == 1
            else ", ".join(f"{service} {_code(s.default)}" for service, s in by_service.items())
        )
        meaning = next(iter(by_service.values())).meaning.replace("|", "\\|")
        lines.append(f"| `{variable}` | {services} | {default} | {meaning} |")
    return "\n".join(lines) + "\n"


def rewritten(readme: str) -> str:
    """The README with a fresh table between the markers."""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(readme):
        raise SystemExit(f"README.md has no {BEGIN} … {END} markers")
    return pattern.sub(lambda _: f"{BEGIN}\n{table()}{END}", readme)


def main() -> None:
    """Rewrite the README's table, or with `--check` say whether it is current."""
    current = README.read_text()
    fresh = rewritten(current)
    if "--check" in sys.argv[1:]:
        if fresh != current:
            sys.exit(
                "README.md's settings table is out of date: uv run --frozen python -m tests.support.settings_table"
            )
        return
    README.write_text(fresh)


if __name__ == "__main__":
    main()
