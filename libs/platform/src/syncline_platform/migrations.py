"""Schema migrations, applied at service start-up by yoyo from plain append-only SQL files.

Each service keeps its files in `<package>/migrations/`; the platform's own files (inbox, outbox) are applied
to every service schema first. Replicas starting together queue on one PostgreSQL advisory lock per schema, so
each file is applied once. The lock goes with its connection, so a replica killed mid-migration never leaves one
behind (yoyo's own lock is a row, which would; one found while the advisory lock is held is stale and is broken).
"""

import asyncio
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import psycopg
from pydantic import SecretStr
from yoyo import get_backend, read_migrations

PLATFORM_MIGRATIONS = Path(__file__).parent / "migrations"


def _yoyo_url(dsn: str, schema: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(("postgresql+psycopg", parts.netloc, parts.path, urlencode({"schema": schema}), ""))


def _apply(dsn: str, schema: str, directories: list[Path]) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"syncline.migrations.{schema}",))
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        backend = get_backend(_yoyo_url(dsn, schema))
        try:
            backend.break_lock()  # only a killed replica's row can be there: this one holds the advisory lock
            migrations = read_migrations(*(str(d) for d in directories))
            with backend.lock():
                pending = backend.to_apply(migrations)
                backend.apply_migrations(pending)
            return len(pending)
        finally:
            backend.connection.close()


async def apply_migrations(*, dsn: SecretStr, schema: str, directory: Path | None) -> int:
    """Apply the platform's and the service's pending migrations to `schema`; returns how many ran."""
    directories = [PLATFORM_MIGRATIONS] + ([directory] if directory else [])
    return await asyncio.to_thread(_apply, dsn.get_secret_value(), schema, directories)
