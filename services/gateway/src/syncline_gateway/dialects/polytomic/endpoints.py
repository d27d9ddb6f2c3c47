"""Webhook endpoints: read by httpx's own URL parser (the library that sends to them), refused when they point
where the network policy forbids, and an httpx transport that connects only to allowed addresses.

A webhook's name is checked when it is set (an address literal, a metadata name, or a name that resolves to a
refused address then) and again at every connection of a delivery, which goes to the address just checked: a name
that later resolves somewhere refused fails that delivery only.
"""

import asyncio
import ipaddress
import re
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from syncline_platform.errors import InvalidError
from syncline_platform.network import AddressRefusedError, NetworkPolicy

SCHEMES = ("http", "https")
HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?", re.IGNORECASE)
"""A DNS name as httpx leaves it (international names already in their `xn--` form)."""
RESOLVE_TIMEOUT_S = 2.0
"""How long setting a webhook waits for its name to resolve (a name that does not resolve yet is accepted)."""


def parse_endpoint(endpoint: str, *, policy: NetworkPolicy) -> httpx.URL:
    """`endpoint` as httpx reads it: an absolute http(s) URL whose host is not refused on its face; InvalidError
    otherwise."""
    try:
        url = httpx.URL(endpoint)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise InvalidError(f"endpoint [{endpoint}] is not a usable URL: {exc}") from exc
    if url.scheme not in SCHEMES or not url.host:
        raise InvalidError(f"endpoint [{endpoint}] is not an http(s) URL")
    if not HOST_NAME.fullmatch(url.host) and not _is_address(url.host):
        raise InvalidError(f"endpoint [{endpoint}] has no usable host name")
    try:
        policy.check_host(url.host)
    except AddressRefusedError as exc:
        raise InvalidError(f"endpoint [{endpoint}]: {exc}") from exc
    return url


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def check_endpoint(url: httpx.URL, *, policy: NetworkPolicy) -> None:
    """Refuse an endpoint whose name resolves, now, to a refused address. A name that does not resolve (yet) is
    let through: each delivery checks again when it connects."""
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            await policy.resolve(url.host, port)
    except AddressRefusedError as exc:
        raise InvalidError(f"endpoint [{url}]: {exc}") from exc
    except (OSError, TimeoutError, UnicodeError):
        return


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses the policy allows: the name is resolved here and
    the connection made to the checked address (TLS still verifies the name: httpcore passes it as SNI)."""

    def __init__(self, policy: NetworkPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self.policy.resolve(host, port)
        except AddressRefusedError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        for address in addresses[:-1]:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                continue
        return await self._inner.connect_tcp(addresses[-1], port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are not delivered to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over `GuardedBackend`. A client given a transport takes no proxy from the environment
    (a proxy would connect on our behalf, past the check)."""

    def __init__(self, policy: NetworkPolicy) -> None:
        super().__init__()
        # httpx takes no network backend: its pool is replaced by the same pool over the guarded one
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(policy),
        )
