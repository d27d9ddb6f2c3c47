"""Settings pieces shared by every service (env prefix `SYNCLINE_`, nesting with `__`)."""

import ipaddress
import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import BaseModel, BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from syncline_platform.retention import RetentionSettings

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:55432/syncline"
LOCAL_PASSWORD_FILE = Path("pg") / "superuser.password"
"""Where `deploy/local/postgres/pg.sh` keeps the local cluster's superuser password, below the state folder."""


def project_of(path: Path) -> Path | None:
    """The uv workspace `path` lies in (its `pyproject.toml` names one), where `make` keeps `.local/`; None for an
    install outside a checkout (a wheel in site-packages, an image)."""
    for folder in path.resolve().parents:
        manifest = folder / "pyproject.toml"
        if manifest.is_file() and "[tool.uv.workspace]" in manifest.read_text(errors="replace"):
            return folder
    return None


PROJECT = project_of(Path(__file__))
"""The checkout this library is installed from (an editable install), if it is."""
LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost", ""})


def local_password_files(*, environ: Mapping[str, str], cwd: Path) -> list[Path]:
    """Where the local cluster's superuser password may be, first match wins: `$SYNCLINE_HOME/pg/`, else
    `.local/pg/` in the working directory or in the project."""
    home = environ.get("SYNCLINE_HOME")
    if home:
        return [Path(home) / LOCAL_PASSWORD_FILE]
    return [cwd / ".local" / LOCAL_PASSWORD_FILE, *([PROJECT / ".local" / LOCAL_PASSWORD_FILE] if PROJECT else [])]


def read_password(files: list[Path]) -> str | None:
    """The first existing file's content (stripped), if any."""
    for path in files:
        if path.is_file() and (password := path.read_text().strip()):
            return password
    return None


def with_password(dsn: str, password: str) -> str:
    """`dsn` with `password` for its role, unless it names one already."""
    parts = urlsplit(dsn)
    if parts.password is not None:
        return dsn
    user, _, hostport = parts.netloc.rpartition("@")
    netloc = f"{user}:{quote(password, safe='')}@{hostport}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def with_local_password(dsn: str, *, environ: Mapping[str, str] = os.environ, cwd: Path | None = None) -> str:
    """`dsn` with the local cluster's superuser password when it names none, points at this machine and
    `deploy/local/postgres/pg.sh` wrote one (tests and scripts build their DSNs with it)."""
    if urlsplit(dsn).password is not None or (urlsplit(dsn).hostname or "") not in LOCAL_HOSTS:
        return dsn
    password = read_password(local_password_files(environ=environ, cwd=cwd or Path.cwd()))
    return dsn if password is None else with_password(dsn, password)


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
    dead_letter_retention_days: float = 14.0
    """How long the broker keeps a message on a dead-letter topic (`<topic>.dlq`'s `retention.ms`, set at every
    start); time to look at it and replay it, not forever."""
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] | None = None
    """`PLAINTEXT`, `SASL_PLAINTEXT`, `SASL_SSL` or `SSL`; unset: `SASL_PLAINTEXT` when a SASL username is set,
    else what the local broker's credentials file says, else `PLAINTEXT`."""
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    """`SCRAM-SHA-512` (the local broker's), `SCRAM-SHA-256` or `PLAIN`."""
    sasl_username: str | None = None
    """The services' own principal: the only one allowed on the internal topics and consumer groups (and the one
    that writes organisations' credentials and ACLs)."""
    sasl_password: SecretStr | None = None
    """Its password."""
    ssl_cafile: Path | None = None
    """CA bundle verifying the broker with `SASL_SSL` or `SSL`; the system's otherwise."""
    credentials_file: Path | None = None
    """Where the local broker script (`deploy/local/kafka/kafka.sh`) wrote the services' credentials; by default
    `$SYNCLINE_HOME/kafka/credentials.json`, else `.local/kafka/credentials.json` in the working directory. It is
    used only when no username is set and it names the same `bootstrap_servers`."""


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
    """Which addresses Syncline may connect to on a tenant's behalf (webhook endpoints, the hosts of PostgreSQL
    and Kafka connections).

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
    """PostgreSQL DSN (`SYNCLINE_DATABASE_URL`). With no password in it, the password comes from
    `database_password_file`, else (for a server on this machine) from the local cluster's
    `.local/pg/superuser.password` (see `local_password_files`)."""
    database_password_file: Path | None = None
    """A file holding the password of `database_url`'s role when the DSN names none
    (`SYNCLINE_DATABASE_PASSWORD_FILE`, e.g. a mounted secret); it applies to the document store's DSN too."""
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
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    """How long old rows are kept before the service purges them (`SYNCLINE_RETENTION__INBOX_DAYS`, …)."""
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    """Where tenants' webhooks and connections may point (`SYNCLINE_NETWORK__HOSTED`, `__ALLOW`, `__DENY`); every
    service that connects for tenants applies it (gateway, policy, executor)."""

    @model_validator(mode="after")
    def _password_from_file(self) -> Self:
        """Fill the DSNs' missing password from the password file (the secret never has to sit in the DSN)."""
        self.database_url = SecretStr(self._with_password(self.database_url.get_secret_value()))
        if self.docstore_url is not None:
            self.docstore_url = SecretStr(self._with_password(self.docstore_url.get_secret_value()))
        return self

    def _with_password(self, dsn: str) -> str:
        if self.database_password_file is None:
            return with_local_password(dsn)
        password = read_password([self.database_password_file])
        return dsn if password is None else with_password(dsn, password)

    def docstore_dsn(self) -> str:
        """The document store's DSN."""
        if self.docstore_url is not None:
            return self.docstore_url.get_secret_value()
        parts = urlsplit(self.database_url.get_secret_value())
        return urlunsplit((parts.scheme, parts.netloc, "/syncline_data", parts.query, ""))

    def own_dsns(self) -> tuple[str, str]:
        """Syncline's own databases (the services' and the document store), which no tenant connection reaches."""
        return self.database_url.get_secret_value(), self.docstore_dsn()
