"""Executor settings."""

from urllib.parse import urlsplit, urlunsplit

from pydantic import Field

from syncline_platform.settings import FilesSettings, OpsSettings, ServiceSettings


class ExecutorSettings(ServiceSettings):
    """Everything the executor reads from the environment."""

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

    ops: OpsSettings = Field(default_factory=lambda: OpsSettings(port=9183))
    """`/metrics`, `/healthz`, `/readyz`: 127.0.0.1:9183 by default (`SYNCLINE_OPS__PORT`, `__HOST`; port 0: off)."""

    def admin_dsn(self) -> str:
        """A DSN on the document store's server that can create its database."""
        parts = urlsplit(self.docstore_dsn())
        return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
