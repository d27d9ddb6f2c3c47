"""Migrations at start-up: replicas starting together apply each file once, and a killed one leaves no lock behind."""

import asyncio

import asyncpg
import pytest
from pydantic import SecretStr
from tests.support.infra import create_database, drop_database, unique

from syncline_platform.migrations import apply_migrations

pytestmark = pytest.mark.integration


async def test_replicas_starting_together_apply_each_file_once() -> None:
    name = unique("migrate")
    dsn = await create_database(name)
    try:
        ran = await asyncio.gather(
            *(apply_migrations(dsn=SecretStr(dsn), schema="svc", directory=None) for _ in range(4))
        )
        assert sorted(ran)[:3] == [0, 0, 0]  # one replica applied them all, the others found nothing to do
        assert max(ran) > 0
    finally:
        await drop_database(name)


async def test_a_lock_left_by_a_killed_replica_does_not_stop_the_next_start() -> None:
    name = unique("migrate")
    dsn = await create_database(name)
    try:
        await apply_migrations(dsn=SecretStr(dsn), schema="svc", directory=None)
        conn = await asyncpg.connect(dsn)
        try:  # what a replica SIGKILLed inside yoyo's lock leaves: its row
            await conn.execute("INSERT INTO svc.yoyo_lock (locked, ctime, pid) VALUES (1, now(), 4242)")
        finally:
            await conn.close()
        # yoyo alone would wait 10 s for that row, then refuse with LockTimeout
        assert await apply_migrations(dsn=SecretStr(dsn), schema="svc", directory=None) == 0
    finally:
        await drop_database(name)
