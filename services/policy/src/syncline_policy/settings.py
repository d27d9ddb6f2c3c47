"""Policy settings."""

from pydantic import Field

from syncline_platform.settings import FilesSettings, ServiceSettings


class PolicySettings(ServiceSettings):
    """Everything the policy service reads from the environment."""

    files: FilesSettings = Field(default_factory=FilesSettings)
    """Where file connections may point (`SYNCLINE_FILES__ROOT`)."""
