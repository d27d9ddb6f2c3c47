"""Policy settings."""

from syncline_platform.settings import ServiceSettings


class PolicySettings(ServiceSettings):
    """Everything the policy service reads from the environment."""
