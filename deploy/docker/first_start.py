"""First start of the compose deployment (`docker-compose.yml`), the container's twin of what `make run` does on the
native path (`deploy/local/postgres/pg.sh`, `deploy/local/run.sh`), into the `state` volume (`SYNCLINE_HOME`):

  first_start.py secrets   (as root, before PostgreSQL and Kafka start) the sealing key `secret.key`, the superuser's
                           password `pg/superuser.password`, the demo role's `pg/demo.password` and the broker's
                           service principal (`syncline`, its SCRAM password `kafka/syncline.password`, read by the
                           broker, and `kafka/credentials.json`, where the services find it as natively), each
                           made once and readable only by who needs it (PostgreSQL's uid 999, Kafka's uid 1000,
                           the services' uid 10001)
  first_start.py demo      (as the services' user, once PostgreSQL is up) the demo source: database `demo_source`
                           owned by its own role `syncline_demo` (no superuser; REPLICATION for change capture),
                           filled by `deploy/local/demo.sql`; Syncline's own databases closed to other roles; and the
                           demo organisation with its key in `demo.json` (`syncline-admin`)

Nothing here is ever committed: the volume holds it. Each step does only what is missing, so it runs at every start.
"""

import asyncio
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import asyncpg

from syncline_platform.secrets import generate_key

STATE = Path(os.environ.get("SYNCLINE_HOME", "/var/lib/syncline/state"))
HERE = Path(__file__).resolve().parent
DEMO_SQL = HERE.parent / "local" / "demo.sql"
POSTGRES_UID = 999
"""The `postgres` user of the official PostgreSQL image."""
SYNCLINE_UID = 10001
"""The services' user (`deploy/docker/Dockerfile`)."""
KAFKA_UID = 1000
"""The `appuser` of the apache/kafka image."""
KAFKA_USER = "syncline"
"""The services' principal on the broker, its only super user (`docker-compose.yml`, `deploy/docker/kafka_start.sh`)."""
KAFKA_BOOTSTRAP = "kafka:9092"
DEMO_ROLE = "syncline_demo"
OWN_DATABASES = ("syncline", "syncline_data")


def _write_once(path: Path, make: str, *, owner: int, mode: int) -> None:
    if not path.exists():
        path.write_text(make + "\n")
    os.chown(path, owner, SYNCLINE_UID)
    path.chmod(mode)


def make_secrets() -> None:
    """The secrets, made once: the superuser's password is read by PostgreSQL and by the services (its group)."""
    for folder in (STATE, STATE / "pg", STATE / "kafka"):
        folder.mkdir(parents=True, exist_ok=True)
        os.chown(folder, SYNCLINE_UID, SYNCLINE_UID)
        folder.chmod(0o711)  # PostgreSQL's user may reach its one file, not list the folder
    _write_once(STATE / "secret.key", generate_key(), owner=SYNCLINE_UID, mode=0o400)
    _write_once(STATE / "pg" / "superuser.password", secrets.token_hex(16), owner=POSTGRES_UID, mode=0o440)
    _write_once(STATE / "pg" / "demo.password", secrets.token_hex(16), owner=SYNCLINE_UID, mode=0o400)
    _write_once(STATE / "kafka" / "syncline.password", secrets.token_hex(24), owner=KAFKA_UID, mode=0o400)
    password = (STATE / "kafka" / "syncline.password").read_text().strip()
    credentials = {
        "bootstrap_servers": KAFKA_BOOTSTRAP,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "username": KAFKA_USER,
        "password": password,
    }
    _write_once(STATE / "kafka" / "credentials.json", json.dumps(credentials), owner=SYNCLINE_UID, mode=0o400)


def _dsn(*, user: str, password_file: str, database: str) -> str:
    host = os.environ.get("SYNCLINE_DEMO_PGHOST", "postgres")
    password = (STATE / "pg" / password_file).read_text().strip()
    return f"postgresql://{user}:{password}@{host}:5432/{database}"


async def demo_source() -> None:
    """The demo role and database (as `run.sh`'s `demo_source`), and Syncline's own databases closed to others."""
    admin = await asyncpg.connect(_dsn(user="postgres", password_file="superuser.password", database="postgres"))
    try:
        password = (STATE / "pg" / "demo.password").read_text().strip()
        if not await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", DEMO_ROLE):
            await admin.execute(f'CREATE ROLE "{DEMO_ROLE}"')
        quoted = await admin.fetchval("SELECT quote_literal($1)", password)
        await admin.execute(
            f'ALTER ROLE "{DEMO_ROLE}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE REPLICATION PASSWORD {quoted}'
        )
        for database in ("demo_source", *OWN_DATABASES):
            if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
                await admin.execute(f'CREATE DATABASE "{database}"')
        await admin.execute(f'ALTER DATABASE demo_source OWNER TO "{DEMO_ROLE}"')
        for database in OWN_DATABASES:
            await admin.execute(f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC')
    finally:
        await admin.close()
    owner = await asyncpg.connect(_dsn(user="postgres", password_file="superuser.password", database="demo_source"))
    try:
        await owner.execute(f'ALTER SCHEMA public OWNER TO "{DEMO_ROLE}"')
    finally:
        await owner.close()
    demo = await asyncpg.connect(_dsn(user=DEMO_ROLE, password_file="demo.password", database="demo_source"))
    try:
        await demo.execute(DEMO_SQL.read_text())
    finally:
        await demo.close()


def demo_org() -> None:
    """The demo organisation and its key (as `run.sh`'s `demo_org`), once."""
    target = STATE / "demo.json"
    if target.exists() and target.stat().st_size:
        return
    admin = Path(sys.executable).parent / "syncline-admin"
    made = subprocess.run([admin, "create-org", "demo", "--json"], check=True, capture_output=True, text=True)
    key = subprocess.run(
        [admin, "create-key", "--org", json.loads(made.stdout)["id"], "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    target.write_text(key.stdout)
    target.chmod(0o600)


def main() -> None:
    """`secrets` or `demo`."""
    step = sys.argv[1] if len(sys.argv) > 1 else ""
    if step == "secrets":
        make_secrets()
    elif step == "demo":
        asyncio.run(demo_source())
        demo_org()
    else:
        sys.exit("usage: first_start.py secrets|demo")


if __name__ == "__main__":
    main()
