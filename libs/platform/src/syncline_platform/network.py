"""Which addresses Syncline may connect to on a tenant's behalf.

A tenant chooses where some of Syncline's connections go (webhook endpoints, the hosts of PostgreSQL and Kafka
connections). Those must not reach the cloud's metadata service, link-local neighbours or, in a hosted deployment,
Syncline's own loopback and private networks. A name is checked by what it resolves to when the connection is made
(DNS can change between a check and a use); webhook deliveries then connect to the very addresses that were
checked, database and broker clients resolve the name again (their TLS checks the name).
"""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

from syncline_platform.errors import InvalidError
from syncline_platform.settings import Network, NetworkSettings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

LINK_LOCAL: tuple[Network, ...] = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
"""Always refused: the neighbours of a host's link, where clouds keep their metadata services (169.254.169.254)."""
METADATA: tuple[Network, ...] = (
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS's IPv6 instance metadata
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud's instance metadata
)
"""Always refused: metadata services outside the link-local ranges."""
METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "metadata.goog", "instance-data"})
"""Names of metadata services (refused without resolving them; some resolve only inside their cloud)."""
INTERNAL: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network": 0.0.0.0 reaches the host itself
        "10.0.0.0/8",
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::/128",
        "::1/128",
        "fc00::/7",
    )
)
"""Refused when hosted: loopback, private, shared and unspecified ranges."""


class ReachRefusedError(InvalidError):
    """A tenant's connection may not go there, whatever its credentials: refused, never a failed check."""


class AddressRefusedError(ReachRefusedError):
    """The host is, or resolves to, an address Syncline does not connect to for tenants."""

    def __init__(self, *, host: str, address: str, why: str) -> None:
        self.host = host
        self.address = address
        shown = host if host == address else f"{host} ({address})"
        super().__init__(f"{shown} is {why}: Syncline does not connect there")


class NetworkPolicy:
    """The settings' refusals, as a check of one address."""

    def __init__(self, settings: NetworkSettings) -> None:
        self.settings = settings
        internal = INTERNAL if settings.hosted else ()
        self._refused: tuple[tuple[Network, str], ...] = (
            *((n, "a link-local address") for n in LINK_LOCAL),
            *((n, "a metadata address") for n in METADATA),
            *((n, "a loopback or private address") for n in internal),
        )

    def refusal(self, address: Address) -> str | None:
        """Why `address` is refused; None when it may be reached."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
        if _within(address, self.settings.deny):
            return "in a denied network"
        if _within(address, self.settings.allow):
            return None
        return next((why for network, why in self._refused if address in network), None)

    def check_address(self, *, host: str, address: str) -> None:
        """Raise `AddressRefusedError` when `address` (what `host` resolved to) is refused."""
        why = self.refusal(ipaddress.ip_address(address.split("%", 1)[0]))
        if why is not None:
            raise AddressRefusedError(host=host, address=address, why=why)

    def check_host(self, host: str) -> None:
        """What can be refused without resolving: an address literal, a metadata service's name, or (hosted)
        `localhost`."""
        name = host.lower().rstrip(".")
        if name in METADATA_NAMES:
            raise AddressRefusedError(host=host, address=host, why="a metadata service")
        if self.settings.hosted and (name == "localhost" or name.endswith(".localhost")):
            raise AddressRefusedError(host=host, address=host, why="a loopback name")
        literal = _literal(name)
        if literal is not None:
            self.check_address(host=host, address=str(literal))

    async def refuse(self, host: str, port: int) -> None:
        """Raise `AddressRefusedError` when a tenant connection's `host` is refused: a Unix socket folder counts as
        loopback; a name that does not resolve is left to the client, which fails to reach it anyway."""
        if host.startswith(("/", "@")):
            self.check_address(host=host, address="127.0.0.1")
            return
        if _literal(host.lower()) is not None:  # an address needs no resolving
            self.check_host(host)
            return
        try:
            await self.resolve(host, port)
        except (socket.gaierror, UnicodeError):
            return

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of `host`, every one of them allowed (else `AddressRefusedError`)."""
        self.check_host(host)
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            self.check_address(host=host, address=address)
        return addresses


def _within(address: Address, networks: Iterable[Network]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
