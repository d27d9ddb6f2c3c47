"""Gateway settings."""

from syncline_platform.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    """Everything the gateway reads from the environment."""

    host: str = "127.0.0.1"
    """Listen address (`SYNCLINE_HOST`)."""
    port: int = 8080
    """Listen port (`SYNCLINE_PORT`)."""
    outcome_timeout_s: float = 5.0
    """How long a create waits for its command's outcome before answering 202 with the id to poll."""
    key_cache_s: float = 60.0
    """How long an opened credential is kept in memory."""
