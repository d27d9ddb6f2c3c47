"""Settings pieces shared by every service (env prefix `SYNCLINE_`, nesting with `__`)."""

import socket
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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


class ServiceSettings(BaseSettings):
    """What every service needs; each service's settings extend it."""

    model_config = SettingsConfigDict(env_prefix="SYNCLINE_", env_nested_delimiter="__", extra="ignore")

    database_url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
    """PostgreSQL DSN (`SYNCLINE_DATABASE_URL`)."""
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
