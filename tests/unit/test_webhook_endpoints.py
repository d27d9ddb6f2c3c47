"""Webhook endpoints: read by httpx's own parser, refused when they point at link-local, metadata or (hosted)
loopback and private addresses, and checked again by the transport that delivers to them."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from syncline_gateway.dialects.polytomic.endpoints import GuardedTransport, check_endpoint, parse_endpoint
from syncline_gateway.settings import GatewaySettings
from syncline_platform.errors import InvalidError
from syncline_platform.network import NetworkPolicy
from syncline_platform.settings import NetworkSettings


def network(**values: object) -> NetworkSettings:
    """Settings as the environment gives them: networks as text."""
    return NetworkSettings.model_validate(values)


DEFAULT = NetworkPolicy(NetworkSettings())
HOSTED = NetworkPolicy(NetworkSettings(hosted=True))


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://exa\tmple.com/",  # urlsplit drops the tab; httpx refuses it (and used to, in the delivery loop)
        "http://exa\nmple.com/",
        "http://exa mple.com/",
        "http://[::1/",
        "ftp://example.test/",
        "example.test/hooks",
        "http:///hooks",
        "https://",
    ],
)
def test_unusable_urls_are_refused(endpoint: str) -> None:
    with pytest.raises(InvalidError):
        parse_endpoint(endpoint, policy=DEFAULT)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.170.2/v2/credentials",
        "http://[fe80::1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fd00:ec2::254]/",
        "http://100.100.100.200/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.google.internal./",
    ],
)
def test_link_local_and_metadata_are_refused_by_default(endpoint: str) -> None:
    with pytest.raises(InvalidError, match="Syncline does not connect there"):
        parse_endpoint(endpoint, policy=DEFAULT)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://172.16.5.4/",
        "http://100.64.0.1/",
        "http://0.0.0.0:8080/",
        "http://[::1]:9000/",
        "http://[fd12::1]/",
    ],
)
def test_loopback_and_private_are_refused_only_when_hosted(endpoint: str) -> None:
    assert parse_endpoint(endpoint, policy=DEFAULT).host
    with pytest.raises(InvalidError):
        parse_endpoint(endpoint, policy=HOSTED)


def test_public_names_and_addresses_pass() -> None:
    for policy in (DEFAULT, HOSTED):
        assert parse_endpoint("https://example.test/hooks", policy=policy).host == "example.test"
        assert parse_endpoint("https://93.184.215.14:8443/x?y=1", policy=policy).port == 8443


def test_allow_makes_exceptions_and_deny_wins() -> None:
    policy = NetworkPolicy(network(hosted=True, allow=("10.20.0.0/16", "169.254.169.254/32"), deny=("10.20.30.0/24",)))
    assert parse_endpoint("http://10.20.1.1/", policy=policy)
    assert parse_endpoint("http://169.254.169.254/", policy=policy)
    with pytest.raises(InvalidError, match="denied network"):
        parse_endpoint("http://10.20.30.40/", policy=policy)
    with pytest.raises(InvalidError):
        parse_endpoint("http://10.21.0.1/", policy=policy)
    public_denied = NetworkPolicy(network(deny=("93.184.0.0/16",)))
    with pytest.raises(InvalidError, match="denied network"):
        parse_endpoint("http://93.184.215.14/", policy=public_denied)


def test_network_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCLINE_NETWORK__HOSTED", "true")
    monkeypatch.setenv("SYNCLINE_NETWORK__ALLOW", "10.0.0.0/8, fd00::/8")
    monkeypatch.setenv("SYNCLINE_NETWORK__DENY", '["192.0.2.0/24"]')
    network = GatewaySettings().network
    assert network.hosted is True
    assert [str(n) for n in network.allow] == ["10.0.0.0/8", "fd00::/8"]
    assert [str(n) for n in network.deny] == ["192.0.2.0/24"]


def test_defaults_refuse_neither_loopback_nor_private() -> None:
    network = GatewaySettings().network
    assert (network.hosted, network.allow, network.deny) == (False, (), ())


async def test_a_name_resolving_to_a_refused_address_is_refused_when_set() -> None:
    denied = NetworkPolicy(network(deny=("127.0.0.0/8", "::1/128")))
    with pytest.raises(InvalidError, match="denied network"):
        await check_endpoint(httpx.URL("http://localhost/hook"), policy=denied)
    with pytest.raises(InvalidError, match="loopback name"):
        await check_endpoint(httpx.URL("http://localhost/hook"), policy=HOSTED)
    await check_endpoint(httpx.URL("http://localhost/hook"), policy=DEFAULT)


async def test_a_name_that_does_not_resolve_is_let_through_when_set() -> None:
    await check_endpoint(httpx.URL("http://no-such-host.invalid/hook"), policy=HOSTED)


@pytest.fixture
async def local_server() -> AsyncIterator[int]:
    """An HTTP server on 127.0.0.1 answering 204 to anything: its port."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_transport_connects_to_allowed_addresses(local_server: int) -> None:
    async with httpx.AsyncClient(transport=GuardedTransport(DEFAULT)) as http:
        response = await http.post(f"http://localhost:{local_server}/hook", content=b"{}")
    assert response.status_code == 204


async def test_transport_checks_what_the_name_resolves_to_at_delivery(local_server: int) -> None:
    """A name accepted earlier that now resolves to a refused address fails the delivery, before connecting."""
    denied = NetworkPolicy(network(deny=("127.0.0.0/8", "::1/128")))
    async with httpx.AsyncClient(transport=GuardedTransport(denied)) as http:
        with pytest.raises(httpx.ConnectError, match="denied network"):
            await http.post(f"http://localhost:{local_server}/hook", content=b"{}")
    async with httpx.AsyncClient(transport=GuardedTransport(HOSTED)) as http:
        with pytest.raises(httpx.ConnectError, match="loopback or private"):
            await http.post(f"http://127.0.0.1:{local_server}/hook", content=b"{}")
