"""The process shell every consuming service shares: start-up order, background tasks, signal handling, and the
operations endpoint (`/healthz`, `/readyz`, `/metrics` on `SYNCLINE_OPS__PORT`, served by `serve()`)."""

import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from syncline_platform.consumer import ConsumerPolicy
from syncline_platform.db import create_pool
from syncline_platform.kafka import build_broker, ensure_topics
from syncline_platform.metrics import ConsumerLagProbe, Metrics, OutboxProbe
from syncline_platform.migrations import apply_migrations
from syncline_platform.ops import (
    OpsServer,
    Readiness,
    consumers_check,
    kafka_check,
    migrations_check,
    postgres_check,
)
from syncline_platform.outbox import OutboxRelay
from syncline_platform.retention import Retention
from syncline_platform.settings import ServiceSettings
from syncline_platform.tasklog import log_tasks_on_sigusr1

log = structlog.get_logger(__name__)

Hook = Callable[["ServiceApp"], Awaitable[None]]


class ServiceApp:
    """One service process: its pool, broker, outbox relay, extra background loops, metrics and ops endpoint."""

    def __init__(self, *, name: str, settings: ServiceSettings, migrations: Path | None) -> None:
        self.name = name
        self.settings = settings
        self.migrations = migrations
        self.metrics = Metrics(service=name, enabled=settings.ops.metrics)
        self.policy = ConsumerPolicy(settings.kafka, metrics=self.metrics)
        middlewares = [self.metrics.kafka_middleware()] if settings.ops.metrics else []
        self.broker: KafkaBroker = build_broker(settings.kafka, service=name, middlewares=[*middlewares, self.policy])
        self.policy.broker = self.broker
        self._pool: asyncpg.Pool | None = None
        self._relay: OutboxRelay | None = None
        self.retention = Retention(settings.retention)
        """The service's purges of old rows (its own tables add theirs before it starts)."""
        self._starting_hooks: list[Hook] = []
        self._started_hooks: list[Hook] = []
        self._stopping_hooks: list[Hook] = []
        self.readiness = self._readiness()
        self.metrics.add_probe(OutboxProbe(pool=lambda: self.pool, schema=name))
        self.metrics.add_probe(ConsumerLagProbe(broker=self.broker))
        self.ops = OpsServer(settings=settings.ops, metrics=self.metrics, readiness=self.readiness)

    def _readiness(self) -> Readiness:
        """What `/readyz` checks: PostgreSQL and Kafka answer, the migrations are applied, the consumers assigned."""
        readiness = Readiness()
        readiness.add("postgres", postgres_check(lambda: self.pool))
        readiness.add("kafka", kafka_check(self.broker))
        readiness.add("migrations", migrations_check(lambda: self.pool, schema=self.name, directory=self.migrations))
        readiness.add("consumers", consumers_check(self.broker))
        return readiness

    @property
    def pool(self) -> asyncpg.Pool:
        """The service's PostgreSQL pool (available once started)."""
        assert self._pool is not None, "service not started"  # noqa: S101
        return self._pool

    def on_starting(self, hook: Hook) -> None:
        """Run `hook` before consumers start (after migrations and the pool)."""
        self._starting_hooks.append(hook)

    def on_started(self, hook: Hook) -> None:
        """Run `hook` once the pool and broker are up."""
        self._started_hooks.append(hook)

    def on_stopping(self, hook: Hook) -> None:
        """Run `hook` before the broker and pool close."""
        self._stopping_hooks.append(hook)

    async def start(self) -> None:
        """Migrate, connect, create topics, start consumers and the relay."""
        ran = await apply_migrations(dsn=self.settings.database_url, schema=self.name, directory=self.migrations)
        log.info("service.migrated", applied=ran)
        self._pool = await create_pool(
            dsn=self.settings.database_url,
            schema=self.name,
            application=f"syncline-{self.name}",
            max_size=self.settings.pool_size,
        )
        await ensure_topics(self.settings.kafka)
        for hook in self._starting_hooks:
            await hook(self)
        await self.broker.start()
        self._relay = OutboxRelay(
            pool=self._pool, broker=self.broker, schema=self.name, prefix=self.settings.kafka.topic_prefix
        )
        self._relay.start()
        self.retention.start(self._pool)
        for hook in self._started_hooks:
            await hook(self)
        self.readiness.started = True
        log.info("service.started", instance=self.settings.instance_id)

    async def stop(self) -> None:
        """Stop in reverse order."""
        self.readiness.started = False
        for hook in self._stopping_hooks:
            await hook(self)
        await self.retention.stop()
        if self._relay:
            await self._relay.stop()
        await self.broker.stop()
        if self._pool:
            await self._pool.close()
        log.info("service.stopped")

    async def serve(self) -> None:
        """Start, run until SIGTERM or SIGINT, stop."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log_tasks_on_sigusr1()
        await self.ops.start()  # alive (and not ready) while starting
        try:
            await self.start()
            try:
                await stop.wait()
            finally:
                try:
                    await self.stop()
                except Exception:  # the process ends either way; say why the stop was not clean
                    log.exception("service.stop_failed")
        finally:
            await self.ops.stop()
