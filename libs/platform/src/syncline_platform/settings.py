"""Settings pieces shared by every service (env prefix `SYNCLINE_`, nesting with `__`)."""

import ipaddress
import json
import socket
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:55432/syncline"


class KafkaSettings(BaseModel):
    """How to reach the broker and name things on it."""

    bootstrap_servers: str = "127.0.0.1:19092"
    """Comma-separated host:port list (`SYNCLINE_KAFKA__BOOTSTRAP_SERVERS`)."""
    topic_prefix: str = ""
    """Prepended to every topic and consumer group; isolates test runs sharing one broker."""
    max_partitions: int | None = None
    """Caps every topic's partition count (the registry's counts otherwise); test runs sharing a broker use a
    small cap so thousands of throwaway partitions do not pile up."""
    retry_attempts: int = 5
    """How often a handler failing with a retryable error is tried before its message goes to the DLQ."""
    retry_backoff_s: float = 0.2
    """First retry delay; doubles each attempt."""
    retry_cap_s: float = 30.0
    """The longest wait between two tries while the database or the broker is down (jittered)."""
    transient_hold_s: float = 120.0
    """How long one delivery waits for the infrastructure in place before the subscriber rewinds to the message
    (below the consumer's `max_poll_interval`, so the replica keeps its partitions meanwhile)."""


class LogSettings(BaseModel):
    """Logging."""

    level: str = "INFO"
    """Minimum level."""
    json_output: bool | None = None
    """JSON lines when true, console when false; by default JSON unless stderr is a TTY."""


class FilesSettings(BaseModel):
    """Where file connections may read and write."""

    root: Path = Field(default=Path(".local/files"), validate_default=True)
    """Every file connection's folder lies at or below it (`SYNCLINE_FILES__ROOT`); a connection's `path` is
    relative to it, or an absolute path inside it. A relative root is taken from the working directory at start-up
    (the project's root under `make run`, which sets it from `SYNCLINE_HOME`); it is resolved once, symlinks
    followed, and created on first use."""

    @field_validator("root")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()


def _networks(value: Any) -> Any:
    """A JSON list, or networks separated by commas or spaces (`10.0.0.0/8, fd00::/8`)."""
    if not isinstance(value, str):
        return value
    if value.lstrip().startswith("["):
        return json.loads(value)
    return [part for part in value.replace(",", " ").split() if part]


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Networks = Annotated[tuple[Network, ...], NoDecode, BeforeValidator(_networks)]


class NetworkSettings(BaseModel):
    """Which addresses Syncline may connect to on a tenant's behalf (webhook endpoints).

    Link-local (`169.254.0.0/16`, `fe80::/10`) and cloud metadata addresses are always refused; `hosted` refuses
    loopback and private ranges too, as hosted peers do. `allow` makes exceptions to those refusals; `deny`
    refuses more, and wins over `allow`."""

    hosted: bool = False
    """Refuse loopback, private, shared (CGNAT) and unspecified addresses too (`SYNCLINE_NETWORK__HOSTED`)."""
    allow: Networks = ()
    """Networks exempt from the built-in refusals (`SYNCLINE_NETWORK__ALLOW`: CIDRs separated by commas, or a JSON
    list)."""
    deny: Networks = ()
    """Networks refused besides the built-in ones, whatever `allow` says (`SYNCLINE_NETWORK__DENY`)."""


class OpsSettings(BaseModel):
    """The operations endpoint of a service process: `/metrics` (Prometheus), `/healthz`, `/readyz`."""

    host: str = "127.0.0.1"
    """Listen address (`SYNCLINE_OPS__HOST`)."""
    port: int = Field(default=0, ge=0, le=65535)
    """Listen port (`SYNCLINE_OPS__PORT`); 0 serves no endpoint. Each service has its own default (gateway 9180,
    policy 9181, scheduler 9182, executor 9183), so the four started on one machine do not collide."""
    metrics: bool = True
    """Record metrics (HTTP, Kafka handling, runs); off, `/metrics` has only the scrape-time figures."""


class ServiceSettings(BaseSettings):
    """What every service needs; each service's settings extend it."""

    model_config = SettingsConfigDict(env_prefix="SYNCLINE_", env_nested_delimiter="__", extra="ignore")

    database_url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
    """PostgreSQL DSN (`SYNCLINE_DATABASE_URL`)."""
    docstore_url: SecretStr | None = None
    """Where indexes live (`SYNCLINE_DOCSTORE_URL`); by default database `syncline_data` on the main server. The
    executor writes there; every service keeps tenant connections away from it."""
    kafka: KafkaSettings = KafkaSettings()
    """Broker settings."""
    log: LogSettings = LogSettings()
    """Logging settings."""
    secret_key: SecretStr = SecretStr("")
    """Fernet key sealing secrets at rest (`SYNCLINE_SECRET_KEY`); required by the services that seal or open them."""
    instance_id: str = socket.gethostname()
    """This replica's name in logs and run claims."""
    pool_size: int = 10
    """Largest number of PostgreSQL connections this process holds."""
    ops: OpsSettings = Field(default_factory=OpsSettings)
    """The operations endpoint (`SYNCLINE_OPS__PORT`, `SYNCLINE_OPS__HOST`); off unless a service sets its port."""

    def docstore_dsn(self) -> str:
        """The document store's DSN."""
        if self.docstore_url is not None:
            return self.docstore_url.get_secret_value()
        parts = urlsplit(self.database_url.get_secret_value())
        return urlunsplit((parts.scheme, parts.netloc, "/syncline_data", parts.query, ""))

    def own_dsns(self) -> tuple[str, str]:
        """Syncline's own databases (the services' and the document store), which no tenant connection reaches."""
        return self.database_url.get_secret_value(), self.docstore_dsn()
