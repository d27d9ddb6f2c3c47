"""The README's `syncline-admin` commands work as written in a plain new shell: run by `bash` from the project's
folder with a bare `PATH` (no `uv`, no virtual environment) and no `SYNCLINE_SECRET_KEY`, the key `make run` keeps
in `$SYNCLINE_HOME/secret.key` is found, and the keys made are sealed with it."""

import json
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr
from tests.support.infra import create_database, drop_database, unique

from syncline_gateway.admin import KEY_FILE, secret_key_files, with_local_secret_key
from syncline_gateway.settings import GatewaySettings
from syncline_platform.secrets import Sealer, generate_key

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
PLAIN_PATH = "/usr/local/bin:/usr/bin:/bin"
"""What a new login shell has: no `uv` installed for one Python only, no activated virtual environment."""


def readme_admin_commands() -> list[str]:
    """The README's `syncline-admin` command lines, as written."""
    text = (ROOT / "README.md").read_text()
    return [line.strip() for line in text.splitlines() if re.match(r"\s*\S*syncline-admin ", line)]


@pytest.fixture
async def database() -> AsyncIterator[str]:
    name = unique("readme")
    dsn = await create_database(name)
    try:
        yield dsn
    finally:
        await drop_database(name)


def shell(command: str, *, env: dict[str, str]) -> dict[str, object]:
    """Run one README line in a new bash with only `env`; its JSON output."""
    done = subprocess.run(
        ["bash", "-c", command], check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"{command}\n{done.stderr}"
    parsed: dict[str, object] = json.loads(done.stdout)
    return parsed


async def test_the_readme_admin_commands_work_in_a_plain_shell(database: str, tmp_path: Path) -> None:
    key = generate_key()
    (tmp_path / KEY_FILE).write_text(key + "\n")  # as `make run` keeps it
    env = {"PATH": PLAIN_PATH, "HOME": str(tmp_path), "SYNCLINE_HOME": str(tmp_path), "SYNCLINE_DATABASE_URL": database}
    commands = readme_admin_commands()
    assert len(commands) == 5
    assert all(c.startswith(".venv/bin/syncline-admin ") for c in commands)
    org = shell(commands[0], env=env)
    results = [shell(c.replace("<ORG_ID>", str(org["id"])), env=env) for c in commands[1:]]
    made, partner, listed, project = results
    assert partner["partner"] is True
    assert len(listed["projects"]) == 1  # type: ignore[arg-type]
    assert project["name"] == "eu"

    conn = await asyncpg.connect(database)
    try:
        sealed = await conn.fetchval("SELECT sealed_secret FROM gateway.api_keys WHERE id = $1", made["id"])
    finally:
        await conn.close()
    assert Sealer(SecretStr(key)).open(sealed) == made["secret"]  # sealed with the file's key


def test_the_environment_wins_then_syncline_home_then_the_working_directory(tmp_path: Path) -> None:
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    (cwd / ".local").mkdir(parents=True)
    home.mkdir()
    (cwd / ".local" / KEY_FILE).write_text("from-cwd\n")
    bare = GatewaySettings(secret_key=SecretStr(""))
    assert secret_key_files(environ={}, cwd=cwd)[0] == cwd / ".local" / KEY_FILE
    found = with_local_secret_key(bare, environ={"SYNCLINE_HOME": str(home)}, cwd=cwd)
    assert found.secret_key.get_secret_value() == "from-cwd"  # nothing in SYNCLINE_HOME yet
    (home / KEY_FILE).write_text("from-home\n")
    found = with_local_secret_key(bare, environ={"SYNCLINE_HOME": str(home)}, cwd=cwd)
    assert found.secret_key.get_secret_value() == "from-home"
    given = GatewaySettings(secret_key=SecretStr("from-env"))
    assert with_local_secret_key(given, environ={"SYNCLINE_HOME": str(home)}, cwd=cwd) is given
