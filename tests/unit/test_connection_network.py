"""Which hosts a tenant's PostgreSQL and Kafka connections may name (`NetworkPolicy.refuse`), decided before any
client connects; the refusals are `ReachRefusedError`s, like Syncline's own databases."""

import pytest

from syncline_connectors.kafka import KafkaConfig, KafkaDestination
from syncline_connectors.postgres import PostgresConfig, connect
from syncline_connectors.reach import OwnDatabaseError
from syncline_connectors.spec import KafkaPolicy
from syncline_platform.network import AddressRefusedError, NetworkPolicy, ReachRefusedError
from syncline_platform.settings import NetworkSettings

DEFAULT = NetworkPolicy(NetworkSettings())
HOSTED = NetworkPolicy(NetworkSettings(hosted=True))
LISTS = NetworkPolicy(
    NetworkSettings.model_validate({"hosted": True, "allow": "10.20.0.0/16", "deny": "10.20.30.0/24, 192.0.2.0/24"})
)


@pytest.mark.parametrize(
    ("policy", "host", "why"),
    [
        (DEFAULT, "169.254.169.254", "a link-local address"),
        (DEFAULT, "fe80::1", "a link-local address"),
        (DEFAULT, "::ffff:169.254.169.254", "a link-local address"),
        (DEFAULT, "metadata.google.internal", "a metadata service"),
        (DEFAULT, "100.100.100.200", "a metadata address"),
        (HOSTED, "127.0.0.1", "a loopback or private address"),
        (HOSTED, "localhost", "a loopback name"),
        (HOSTED, "/var/run/postgresql", "a loopback or private address"),  # a Unix socket is this machine
        (HOSTED, "10.1.2.3", "a loopback or private address"),
        (HOSTED, "0.0.0.0", "a loopback or private address"),  # noqa: S104 - connecting to it reaches this machine
        (LISTS, "10.20.30.4", "in a denied network"),  # deny wins over allow
        (LISTS, "192.0.2.1", "in a denied network"),
        (LISTS, "10.21.0.1", "a loopback or private address"),
    ],
)
async def test_refused_hosts(policy: NetworkPolicy, host: str, why: str) -> None:
    with pytest.raises(AddressRefusedError, match=why):
        await policy.refuse(host, 5432)


@pytest.mark.parametrize(
    ("policy", "host"),
    [
        (DEFAULT, "127.0.0.1"),
        (DEFAULT, "10.1.2.3"),
        (DEFAULT, "/var/run/postgresql"),
        (DEFAULT, "::1"),
        (LISTS, "10.20.1.1"),  # allowed although private
        (HOSTED, "192.0.2.1"),
    ],
)
async def test_allowed_hosts(policy: NetworkPolicy, host: str) -> None:
    await policy.refuse(host, 5432)


def test_kafka_bootstrap_servers_are_read_as_hosts_and_ports() -> None:
    config = KafkaConfig(bootstrap_servers="a.example:9093, [fe80::1]:9092,PLAINTEXT://b.example, c.example:x")
    assert config.servers() == [("a.example", 9093), ("fe80::1", 9092), ("b.example", 9092), ("c.example", 9092)]


async def test_kafka_and_postgres_refuse_before_they_connect() -> None:
    kafka = KafkaConfig(bootstrap_servers="127.0.0.1:9, 169.254.169.254:9092", network=DEFAULT, timeout_s=0.1)
    with pytest.raises(AddressRefusedError, match=r"169\.254\.169\.254 is a link-local address"):
        async with KafkaDestination(kafka, policy=KafkaPolicy(topic_policy=1), database=""):
            pass
    postgres = PostgresConfig(host="169.254.169.254", network=DEFAULT, connect_timeout_s=0.1)
    with pytest.raises(AddressRefusedError, match="link-local"):
        await connect(postgres)


def test_own_databases_and_refused_addresses_are_both_reach_refusals() -> None:
    assert issubclass(OwnDatabaseError, ReachRefusedError)
    assert issubclass(AddressRefusedError, ReachRefusedError)
