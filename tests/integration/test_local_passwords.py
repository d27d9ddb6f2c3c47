"""The local PostgreSQL cluster asks every role for its password (`deploy/local/postgres/pg.sh`):
- the test server (when it is a local cluster with a password file) refuses a login without a password or with a
  wrong one, takes the file's, and trusts no client in its `pg_hba.conf`;
- `pg.sh start` makes a new cluster with a generated superuser password (0600), and converts a cluster that still
  trusts its clients in place while it runs, its data kept."""

import os
import shutil
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from tests.support.infra import database_url, with_database

from syncline_platform.settings import local_password_files, read_password, with_password

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PG_SH = ROOT / "deploy" / "local" / "postgres" / "pg.sh"


def without_password(dsn: str) -> str:
    parts = urlsplit(dsn)
    netloc = f"{parts.username}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


async def refuses(dsn: str) -> bool:
    """Whether the server turns this login down for its credentials."""
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidPasswordError:
        return True
    await conn.close()
    return False


@pytest.fixture
def local_cluster() -> str:
    """The test server's DSN, when it is a local cluster made by pg.sh (its password file exists)."""
    if read_password(local_password_files(environ=os.environ, cwd=Path.cwd())) is None:
        pytest.skip("the test server is not a local cluster with a password file")
    return with_database(database_url(), "postgres")


async def test_the_test_server_wants_the_right_password(local_cluster: str) -> None:
    assert urlsplit(local_cluster).password, "the password file's password fills the DSN"
    bare = without_password(local_cluster)
    assert await refuses(bare)
    assert await refuses(with_password(bare, "not-the-password"))
    conn = await asyncpg.connect(local_cluster)
    try:
        methods = {r["auth_method"] for r in await conn.fetch("SELECT auth_method FROM pg_hba_file_rules")}
    finally:
        await conn.close()
    assert methods == {"scram-sha-256"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def private_cluster(tmp_path: Path) -> Iterator[tuple[dict[str, str], int]]:
    """pg.sh's environment for a cluster of this test's own, stopped at the end."""
    if shutil.which("psql") is None:
        pytest.skip("no PostgreSQL client")
    port = free_port()
    env = os.environ | {"SYNCLINE_HOME": str(tmp_path), "PG_PORT": str(port)}
    try:
        yield env, port
    finally:
        subprocess.run([PG_SH, "stop"], env=env, check=False, capture_output=True)


def pg_sh(env: dict[str, str]) -> str:
    done = subprocess.run([PG_SH, "start"], env=env, check=True, capture_output=True, text=True, timeout=120)
    return done.stdout


def trust_everyone(data: Path) -> None:
    """Turn the cluster back into one made before passwords (as its owner writes it), and reload it."""
    hba = data / "pg_hba.conf"
    owner = hba.stat()
    hba.write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
    os.chown(hba, owner.st_uid, owner.st_gid)
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*run_as, "/usr/lib/postgresql/15/bin/pg_ctl", "-D", data, "reload"], check=True)


async def test_pg_sh_generates_the_password_and_converts_a_trusting_cluster(
    private_cluster: tuple[dict[str, str], int], tmp_path: Path
) -> None:
    env, port = private_cluster
    pg_sh(env)
    password_file = tmp_path / "pg" / "superuser.password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    bare = f"postgresql://postgres@127.0.0.1:{port}/syncline"
    right = with_password(bare, password_file.read_text().strip())
    assert await refuses(with_password(bare, "wrong"))
    conn = await asyncpg.connect(right)
    await conn.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
    await conn.close()

    trust_everyone(tmp_path / "pg" / "data")
    password_file.unlink()
    assert not await refuses(with_password(bare, "anything"))  # trusting again, as before passwords
    assert "now requires passwords" in pg_sh(env)  # converted while it runs
    right = with_password(bare, password_file.read_text().strip())
    assert await refuses(with_password(bare, "anything"))
    conn = await asyncpg.connect(right)
    try:
        assert await conn.fetchval("SELECT v FROM kept") == 42
    finally:
        await conn.close()
    assert "now requires passwords" not in pg_sh(env)  # once only
