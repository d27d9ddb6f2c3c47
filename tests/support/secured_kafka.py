"""A private secured broker for the tests and benchmarks of the Kafka interface, and the whole system on it.

The broker is the project's own (`deploy/local/kafka/kafka.sh start` with `KAFKA_SECURITY=sasl`), on free ports,
in a folder of its own, with the jars the shared broker was started from: SASL/SCRAM-SHA-512 listeners,
KRaft's StandardAuthorizer, and the services' principal bootstrapped when its storage is formatted (its
credentials file is what the services and the tests' own clients authenticate with). It is stopped afterwards, so
a fresh machine runs these tests in `make test` with nothing set up by hand.
"""

import asyncio
import contextlib
import os
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from syncline_contracts.tenant import TenantTopics
from syncline_platform.kafka import client_options, delete_topics
from syncline_platform.settings import KafkaSettings
from tests.support.infra import create_database, drop_database, unique
from tests.support.system import ROOT, System, free_port, make_system

SCRIPT = ROOT / "deploy" / "local" / "kafka" / "kafka.sh"


@dataclass(frozen=True)
class SecuredBroker:
    """A running secured broker."""

    bootstrap: str
    credentials_file: Path

    def settings(self, **update: Any) -> KafkaSettings:
        """The services' settings for it."""
        return KafkaSettings(bootstrap_servers=self.bootstrap, credentials_file=self.credentials_file, **update)

    def service_options(self) -> dict[str, Any]:
        """aiokafka options of the services' own principal."""
        return client_options(self.settings())

    def tenant_options(self, key: dict[str, str]) -> dict[str, Any]:
        """aiokafka options of a key pair's principal, as an organisation writes them."""
        return {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": key["id"],
            "sasl_plain_password": key["secret"],
        }


def _shared_libs() -> dict[str, str]:
    """Reuse the jars `make up` fetched, when it did."""
    libs = Path(os.environ.get("SYNCLINE_HOME", ROOT / ".local")) / "kafka" / "libs"
    return {"KAFKA_LIBS": str(libs)} if (libs / ".complete").is_file() else {}


async def _wait(broker: SecuredBroker, timeout_s: float = 90.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            admin = AIOKafkaAdminClient(**broker.service_options(), request_timeout_ms=3000)
            try:
                await admin.start()
                if (await admin.describe_cluster()).get("brokers"):
                    return
            except Exception:  # noqa: S110 - not up yet
                pass
            finally:
                with contextlib.suppress(Exception):
                    await admin.close()
            await asyncio.sleep(0.3)


@contextlib.asynccontextmanager
async def secured_broker(home: Path) -> AsyncIterator[SecuredBroker]:
    """Start a secured broker under `home`, and stop it afterwards."""
    port, controller = free_port(), free_port()
    env = os.environ | _shared_libs()
    env |= {"SYNCLINE_HOME": str(home), "KAFKA_PORT": str(port), "KAFKA_CTRL_PORT": str(controller)}
    env |= {"KAFKA_SECURITY": "sasl"}
    await asyncio.to_thread(subprocess.run, [str(SCRIPT), "start"], env=env, check=True, capture_output=True)
    broker = SecuredBroker(bootstrap=f"127.0.0.1:{port}", credentials_file=home / "kafka" / "credentials.json")
    try:
        await _wait(broker)
        yield broker
    finally:
        await asyncio.to_thread(subprocess.run, [str(SCRIPT), "stop"], env=env, check=False, capture_output=True)


@contextlib.asynccontextmanager
async def secured_system(broker: SecuredBroker, *, log_dir: Path, files_root: Path) -> AsyncIterator[System]:
    """The four services on `broker`, with their own databases and topic prefix, not yet started."""
    name = unique("syncline_kafka")
    await create_database(name)
    await create_database(f"{name}_data")
    system = make_system(
        database=name, docstore=f"{name}_data", prefix=f"{name}.", log_dir=log_dir / name, files_root=files_root
    )
    system.env |= {
        "SYNCLINE_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap,
        "SYNCLINE_KAFKA__CREDENTIALS_FILE": str(broker.credentials_file),
        "SYNCLINE_KAFKA_INTERFACE": "true",
    }
    try:
        yield system
    finally:
        system.stop()
        await delete_topics(broker.settings(topic_prefix=system.topic_prefix))
        await drop_database(f"{name}_data")
        await drop_database(name)


def tenant_topics(system: System, org_id: str) -> TenantTopics:
    """An organisation's topics on `system`'s broker."""
    return TenantTopics(org_id=org_id, prefix=system.topic_prefix)
