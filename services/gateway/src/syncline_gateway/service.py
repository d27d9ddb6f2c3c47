"""The gateway's process-wide parts: start-up (migrations, pool, broker, outcome waiter) and shutdown."""

from dataclasses import dataclass
from pathlib import Path

import asyncpg
from faststream.kafka import KafkaBroker

from syncline_gateway.commands import CommandBus, OutcomeWaiter
from syncline_gateway.credentials import Credentials
from syncline_gateway.settings import GatewaySettings
from syncline_platform.db import create_pool
from syncline_platform.kafka import build_broker, ensure_topics
from syncline_platform.metrics import Metrics
from syncline_platform.migrations import apply_migrations
from syncline_platform.secrets import Sealer

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Gateway:
    """Everything the routes use, started together and stopped together."""

    pool: asyncpg.Pool
    broker: KafkaBroker
    waiter: OutcomeWaiter
    commands: CommandBus
    credentials: Credentials
    sealer: Sealer

    async def stop(self) -> None:
        """Release everything."""
        await self.waiter.stop()
        await self.broker.stop()
        await self.pool.close()


async def start_gateway(settings: GatewaySettings, *, metrics: Metrics | None = None) -> Gateway:
    """Migrate the gateway schema, connect, and start tailing outcomes; `metrics` records what the broker
    publishes."""
    await apply_migrations(dsn=settings.database_url, schema="gateway", directory=MIGRATIONS)
    pool = await create_pool(
        dsn=settings.database_url,
        schema="gateway",
        application="syncline-gateway",
        max_size=settings.pool_size,
    )
    await ensure_topics(settings.kafka)
    recording = [metrics.kafka_middleware()] if metrics is not None and metrics.enabled else []
    broker = build_broker(settings.kafka, service="gateway", middlewares=recording)
    await broker.start()
    waiter = OutcomeWaiter(settings.kafka, hold_s=settings.outcome_timeout_s)
    await waiter.start()
    sealer = Sealer(settings.secret_key)
    return Gateway(
        pool=pool,
        broker=broker,
        waiter=waiter,
        commands=CommandBus(
            broker=broker, waiter=waiter, settings=settings.kafka, timeout_s=settings.outcome_timeout_s
        ),
        credentials=Credentials(pool=pool, sealer=sealer, cache_s=settings.key_cache_s),
        sealer=sealer,
    )
