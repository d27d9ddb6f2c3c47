"""Executor settings."""

from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr

from syncline_platform.settings import FilesSettings, ServiceSettings


class ExecutorSettings(ServiceSettings):
    """Everything the executor reads from the environment."""

    docstore_url: SecretStr | None = None
    """Where indexes live (`SYNCLINE_DOCSTORE_URL`); by default database `syncline_data` on the main server."""
    max_concurrent_runs: int = 4
    """Runs one executor process moves at once; more wait in Kafka for this or another replica."""
    checkin_interval_s: float = 1.0
    """How often a running run checks in (and notices a cancel request)."""
    batch_rows: int = 100_000
    """Rows per source batch; a checkpoint follows every batch the destination made durable."""
    queue_pieces: int = 16
    """Pieces (driver reads of a few hundred kB at most) buffered between a run's reader and writer."""

    files: FilesSettings = Field(default_factory=FilesSettings)
    """Where file connections read and write (`SYNCLINE_FILES__ROOT`)."""

    def docstore_dsn(self) -> str:
        """The document store's DSN."""
        if self.docstore_url is not None:
            return self.docstore_url.get_secret_value()
        parts = urlsplit(self.database_url.get_secret_value())
        return urlunsplit((parts.scheme, parts.netloc, "/syncline_data", parts.query, ""))

    def admin_dsn(self) -> str:
        """A DSN on the document store's server that can create its database."""
        parts = urlsplit(self.docstore_dsn())
        return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
