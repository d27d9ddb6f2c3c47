"""Where a tenant's connections may reach: their organisation's own folder under the files root, and any PostgreSQL
database but Syncline's own.

- `OwnDatabases`: the services' database and the document store (`ServiceSettings.own_dsns`). `refuse` raises
  `OwnDatabaseError` for an endpoint that is one of them: the same database name on a server whose resolved
  addresses and port are Syncline's (loopback, unspecified addresses, this machine's own addresses and Unix
  sockets all count as this machine), whatever the credentials. `postgres.connect` asks it before every tenant
  connection opens, so checks, discovery and runs are refused alike.
- `org_folder`: an organisation's folder below the files root (`<root>/<org id>`), made on first use.
- `Reach`: those and the network policy (`syncline_platform.network`: which addresses a connection's host may
  resolve to), as the services hand them to the registry and `connection_types`.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from syncline_platform.errors import InvalidError
from syncline_platform.network import NetworkPolicy, ReachRefusedError

DEFAULT_PORT = 5432
LOCAL = "local"
"""What every address of this machine resolves to when servers are compared."""


class OwnDatabaseError(ReachRefusedError):
    """A tenant connection points at one of Syncline's own databases."""

    def __init__(self, where: str) -> None:
        self.where = where
        super().__init__(f"{where} is Syncline's own database: a connection may not reach it, whatever its credentials")


@dataclass(frozen=True)
class Server:
    """A PostgreSQL database as a connection names it."""

    host: str
    port: int
    database: str

    @classmethod
    def of_dsn(cls, dsn: str) -> "Server":
        """From a `postgresql://` DSN (a `host` query parameter, as libpq takes for sockets, wins)."""
        parts = urlsplit(dsn)
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        host = unquote(query.get("host") or parts.hostname or "localhost")
        return cls(host=host, port=int(query.get("port") or parts.port or DEFAULT_PORT), database=_database(parts.path))

    @property
    def where(self) -> str:
        """The database for errors (no credentials)."""
        return f"postgresql://{self.host}:{self.port}/{self.database}"


def _database(path: str) -> str:
    return unquote(path.lstrip("/")) or "postgres"


async def addresses(host: str, port: int) -> frozenset[str]:
    """The addresses `host` resolves to, this machine's own (loopback, unspecified, its interfaces', a Unix socket
    folder) as `LOCAL`; an unresolvable name has none."""
    if host.startswith("/") or host.startswith("@"):
        return frozenset({LOCAL})
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return frozenset()
    found = {_address(str(info[4][0])) for info in infos}
    mine = await _machine()
    return frozenset(LOCAL if a == LOCAL or a in mine else a for a in found)


def _address(text: str) -> str:
    ip = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return LOCAL if ip.is_loopback or ip.is_unspecified else str(ip)


async def _machine() -> frozenset[str]:
    """This machine's own addresses, as its name resolves."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(socket.gethostname(), None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return frozenset()
    return frozenset(_address(str(info[4][0])) for info in infos)


@dataclass
class OwnDatabases:
    """Syncline's own databases, which no tenant connection may reach."""

    servers: tuple[Server, ...] = ()
    _resolved: list[tuple[Server, frozenset[str]]] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, dsns: Iterable[str]) -> "OwnDatabases":
        """From the services' DSNs (`ServiceSettings.own_dsns()`)."""
        return cls(servers=tuple(Server.of_dsn(d) for d in dsns))

    async def _own(self) -> list[tuple[Server, frozenset[str]]]:
        if self._resolved is None:  # resolved once: these are the services' own, fixed for the process
            self._resolved = [(s, await addresses(s.host, s.port)) for s in self.servers]
        return self._resolved

    async def refuse(self, target: Server) -> None:
        """Raise OwnDatabaseError when `target` is one of Syncline's own databases."""
        own = [(s, found) for s, found in await self._own() if s.database == target.database and s.port == target.port]
        if not own:
            return
        theirs = await addresses(target.host, target.port)
        for server, found in own:
            if found & theirs or server.host.lower() == target.host.lower():
                raise OwnDatabaseError(target.where)


@dataclass(frozen=True)
class Reach:
    """Where one organisation's connections may go: `files` is the folder its file connections lie in (see
    `for_org`), `own` Syncline's databases, which none may reach, `network` the addresses their hosts may resolve
    to (`SYNCLINE_NETWORK__*`; None: any)."""

    files: Path | None = None
    own: OwnDatabases = field(default_factory=OwnDatabases)
    network: NetworkPolicy | None = None

    def for_org(self, org_id: str) -> "Reach":
        """This reach with the organisation's own folder below the files root."""
        return replace(self, files=None if self.files is None else org_folder(self.files, org_id))


def org_folder(root: Path, org_id: str) -> Path:
    """The organisation's folder below the files root (`<root>/<org id>`), made when missing."""
    name = Path(org_id).name
    if not name or name != org_id or name in {".", ".."}:
        raise InvalidError(f"[{org_id}] cannot name an organisation's folder")
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder
