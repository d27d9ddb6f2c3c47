"""Policy settings."""

from pydantic import Field

from syncline_platform.settings import FilesSettings, OpsSettings, ServiceSettings


class PolicySettings(ServiceSettings):
    """Everything the policy service reads from the environment."""

    files: FilesSettings = Field(default_factory=FilesSettings)
    """Where file connections may point (`SYNCLINE_FILES__ROOT`)."""
    ops: OpsSettings = Field(default_factory=lambda: OpsSettings(port=9181))
    """`/metrics`, `/healthz`, `/readyz`: 127.0.0.1:9181 by default (`SYNCLINE_OPS__PORT`, `__HOST`; port 0: off)."""
