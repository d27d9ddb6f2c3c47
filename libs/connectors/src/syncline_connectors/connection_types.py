"""Connection types (`postgresql`, `file`, `kafka`): what a connection of each is made of, and the one way to check
it and to discover what it offers.

- `CONNECTION_TYPES`: each type's configuration keys (which are secret, required, typed, and which say where the
  secrets go), the keys a sync may set for its source and destination side, and the modes a destination takes;
  `validate_configuration` types and defaults values against them, `check_secrets_given` refuses a change of
  where a connection points that would keep its stored secrets.
- `endpoint_of`: a connection as the data plane's `Endpoint`, the one its syncs' specs carry.
- `check` and `discover`: the endpoint's connector (`registry.endpoint_for`), opened and asked `check()` or
  `discover()`, the same connector and discovery the executor plans a run with, within the organisation's `Reach`.
  A folder outside the organisation's folder, or a PostgreSQL database that is Syncline's own, is not a failed
  check but a broken rule (InvalidError), whether checked or not.

Policy checks connections and builds a sync's selection with these; the gateway renders the types and offers
discovery through them.
"""

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from syncline_connectors.capabilities import ObjectInfo, SchemaDiscoverer
from syncline_connectors.reach import Reach
from syncline_connectors.registry import endpoint_for
from syncline_connectors.spec import Endpoint, FileFormat, Mode
from syncline_platform.errors import InvalidError, UnavailableError

CHECK_TIMEOUT_S = 3.0
"""How long a check may wait for the other side to answer."""
DISCOVERY_TIMEOUT_S = 12.0
"""How long a discovery may take once the other side answered."""

ValueKind = Literal["string", "integer", "boolean"]


@dataclass(frozen=True)
class ConfigKey:
    """One configuration key of a connection type (or of a sync's source or destination side)."""

    name: str
    kind: ValueKind
    title: str
    required: bool = False
    secret: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()

    def schema(self) -> dict[str, Any]:
        """The key as a JSON Schema property."""
        prop: dict[str, Any] = {"type": self.kind, "title": self.title}
        if self.default is not None:
            prop["default"] = self.default
        if self.choices:
            prop["enum"] = list(self.choices)
        if self.secret:
            prop["format"] = "password"
        return prop


@dataclass(frozen=True)
class ConnectionType:
    """What a connection of one type is made of, and what syncs may do with it."""

    id: str
    name: str
    keys: tuple[ConfigKey, ...]
    source: bool
    destination: bool
    source_configuration: tuple[ConfigKey, ...] = ()
    destination_configuration: tuple[ConfigKey, ...] = ()
    modes: tuple[Mode, ...] = ()
    """How a destination of this type can follow its source."""
    identity: tuple[str, ...] = ()
    """Keys that say where the secrets go (host, port, user, database): changing one needs the secrets again."""

    @property
    def secret_keys(self) -> frozenset[str]:
        """Keys whose values are sealed at rest and never echoed."""
        return frozenset(k.name for k in self.keys if k.secret)


def json_schema(keys: tuple[ConfigKey, ...]) -> dict[str, Any]:
    """A JSON Schema object for a set of keys."""
    return {
        "type": "object",
        "properties": {k.name: k.schema() for k in keys},
        "required": [k.name for k in keys if k.required],
    }


MODES = (Mode.SNAPSHOT, Mode.REPLICATE)
FILE_FORMATS = tuple(f.value for f in FileFormat)

CONNECTION_TYPES: dict[str, ConnectionType] = {
    "postgresql": ConnectionType(
        id="postgresql",
        name="PostgreSQL",
        keys=(
            ConfigKey("hostname", "string", "Host", required=True),
            ConfigKey("port", "integer", "Port", default=5432),
            ConfigKey("username", "string", "Username", required=True),
            ConfigKey("password", "string", "Password", secret=True),
            ConfigKey("database", "string", "Database", required=True),
            ConfigKey("ssl", "boolean", "Use SSL", default=False),
            ConfigKey("change_detection", "boolean", "Use logical replication for change detection", default=False),
            ConfigKey("publication", "string", "Publication (change detection)"),
        ),
        source=True,
        destination=True,
        source_configuration=(
            ConfigKey("replication_slot", "string", "Replication slot (replicate mode)"),
            ConfigKey("sync_lookback", "integer", "Sync lookback (minutes)"),
        ),
        destination_configuration=(ConfigKey("schema", "string", "Output schema", default="public"),),
        modes=MODES,
        identity=("hostname", "port", "username", "database"),
    ),
    "file": ConnectionType(
        id="file",
        name="Local folder",
        keys=(ConfigKey("path", "string", "Folder", required=True),),
        source=True,
        destination=True,
        destination_configuration=(
            ConfigKey("format", "string", "File format", default="jsonl", choices=FILE_FORMATS),
            ConfigKey("path", "string", "Sub-folder for this sync's files"),
        ),
        modes=MODES,
    ),
    "kafka": ConnectionType(
        id="kafka",
        name="Apache Kafka",
        keys=(
            ConfigKey("bootstrap_servers", "string", "Bootstrap servers", required=True),
            ConfigKey(
                "security_protocol",
                "string",
                "Security protocol (SASL_SSL when a SASL user name is given)",
                choices=("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"),
            ),
            ConfigKey(
                "sasl_mechanism",
                "string",
                "SASL mechanism",
                default="SCRAM-SHA-512",
                choices=("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"),
            ),
            ConfigKey("sasl_username", "string", "SASL user name"),
            ConfigKey("sasl_password", "string", "SASL password", secret=True),
        ),
        source=False,
        destination=True,
        destination_configuration=(
            ConfigKey("topic_prefix", "string", "Topic prefix (one topic per object)", default=""),
            ConfigKey("format", "string", "Message format", default="json", choices=("json",)),
        ),
        modes=MODES,
    ),
}
"""Every connection type Syncline connects to."""

_ENDPOINT_TYPES = {"postgresql": "postgresql", "file": "files", "kafka": "kafka"}


def _coerce(key: ConfigKey, value: Any) -> Any:
    if key.kind == "integer":
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"[{key.name}] must be an integer")
        return value
    if key.kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"[{key.name}] must be a boolean")
        return value
    if not isinstance(value, str):
        raise ValueError(f"[{key.name}] must be a string")
    if key.choices and value not in key.choices:
        raise ValueError(f"[{key.name}] must be one of {', '.join(key.choices)}")
    return value


def validate_configuration(
    keys: tuple[ConfigKey, ...], values: dict[str, Any], *, skip: frozenset[str] = frozenset()
) -> tuple[dict[str, Any], list[str]]:
    """The values typed and defaulted, and what is wrong with them; `skip` names keys checked elsewhere."""
    by_name = {k.name: k for k in keys}
    problems = [f"unknown configuration key [{name}]" for name in sorted(set(values) - set(by_name))]
    result: dict[str, Any] = {}
    for key in keys:
        if key.name in skip:
            continue
        value = values.get(key.name)
        if value is None or value == "":
            if key.required:
                problems.append(f"[{key.name}] is required")
            elif key.default is not None:
                result[key.name] = key.default
            continue
        try:
            result[key.name] = _coerce(key, value)
        except ValueError as exc:
            problems.append(str(exc))
    return result, problems


def check_secrets_given(
    *,
    identity: Iterable[str],
    secret_keys: Iterable[str],
    before: dict[str, Any],
    after: dict[str, Any],
    stored: Iterable[str],
    given: Iterable[str],
) -> None:
    """Refuse (InvalidError) a change of where a connection points (its `identity` keys: a Polytomic connection
    type's `identity`, an Elastic schema's `identity_keys`) that would keep a stored secret rather than carry it
    again, as Airbyte and Fivetran do: otherwise any key of the organisation could send a stored password to a
    server of its choosing."""
    moved = [k for k in identity if _text(after.get(k)) != _text(before.get(k))]
    kept = sorted((set(secret_keys) & set(stored)) - set(given))
    if moved and kept:
        raise InvalidError(
            f"[{', '.join(kept)}] must be given again when [{', '.join(moved)}] changes: "
            "a stored secret never follows a connection elsewhere"
        )


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def endpoint_of(connection_type: str, values: dict[str, Any], *, extra: Mapping[str, Any] | None = None) -> Endpoint:
    """A connection (its public configuration values) as one side of a sync, `extra` (the sync's own keys for
    that side, such as a folder's `object_per`) added; secrets are left for the caller to seal or open in."""
    if connection_type == "postgresql":
        config: dict[str, Any] = {
            "host": values.get("hostname"),
            "port": values.get("port") or 5432,
            "username": values.get("username"),
            "database": values.get("database"),
            "ssl_enabled": bool(values.get("ssl")),
        }
        if values.get("publication"):
            config["publication"] = values["publication"]
    else:
        config = dict(values)
    endpoint_type = _ENDPOINT_TYPES.get(connection_type)
    if endpoint_type is None:
        raise InvalidError(
            f"unknown connection type [{connection_type}]; expected one of {', '.join(CONNECTION_TYPES)}"
        )
    return Endpoint(type=endpoint_type, config=config | dict(extra or {}))


class SourceUnavailableError(Exception):
    """The source could not be read."""


def _missing(kind: ConnectionType, values: dict[str, Any]) -> list[str]:
    return [k.name for k in kind.keys if k.required and not k.secret and values.get(k.name) in (None, "")]


async def check(
    connection_type: str, values: dict[str, Any], *, secrets: Mapping[str, str], reach: Reach
) -> str | None:
    """None when the connection answers for real (PostgreSQL accepts a login, the folder exists and is readable,
    the Kafka cluster answers); otherwise why not. InvalidError for a folder outside `reach.files` or one of
    Syncline's own databases (`reach.own`)."""
    kind = CONNECTION_TYPES.get(connection_type)
    if kind is None:
        return f"unknown connection type [{connection_type}]"
    missing = _missing(kind, values)
    if missing:
        return f"[{', '.join(missing)}] is required"
    endpoint = endpoint_of(connection_type, values)
    connector = endpoint_for(endpoint, endpoint.config | dict(secrets), reach=reach, timeout_s=CHECK_TIMEOUT_S)
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S * 2), connector:
            await connector.check()
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_S * 2:g} s"
    except (UnavailableError, OSError) as exc:
        return str(exc) or type(exc).__name__
    return None


async def discover(
    connection_type: str,
    values: dict[str, Any],
    *,
    secrets: Mapping[str, str],
    reach: Reach,
    extra: Mapping[str, Any] | None = None,
) -> list[ObjectInfo]:
    """The objects a source offers, read live by its connector's `discover()`, the one the executor plans runs
    with: PostgreSQL's tables of every user schema, a folder's sub-folders or files (`extra`: the sync's own
    keys for its source side, as its spec carries them). SourceUnavailableError when it does not answer;
    InvalidError for a folder outside `reach.files`, one of Syncline's own databases, or a file in the folder
    that cannot be read as its kind (a CSV header over the csv module's field limit, malformed JSON)."""
    kind = CONNECTION_TYPES.get(connection_type)
    if kind is None or not kind.source:
        raise SourceUnavailableError(f"a [{connection_type}] connection cannot be a bulk sync source")
    missing = _missing(kind, values)
    if missing:
        raise SourceUnavailableError(f"[{', '.join(missing)}] is required")
    endpoint = endpoint_of(connection_type, values, extra=extra)
    connector = endpoint_for(endpoint, endpoint.config | dict(secrets), reach=reach, timeout_s=CHECK_TIMEOUT_S)
    assert isinstance(connector, SchemaDiscoverer)  # noqa: S101 - every source type discovers
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S + DISCOVERY_TIMEOUT_S), connector:
            return await connector.discover()
    except TimeoutError as exc:
        raise SourceUnavailableError(f"no answer within {CHECK_TIMEOUT_S + DISCOVERY_TIMEOUT_S:g} s") from exc
    except (UnavailableError, OSError) as exc:
        raise SourceUnavailableError(str(exc) or type(exc).__name__) from exc
