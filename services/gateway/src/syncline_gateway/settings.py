"""Gateway settings."""

from pydantic import Field

from syncline_platform.settings import FilesSettings, OpsSettings, ServiceSettings


class GatewaySettings(ServiceSettings):
    """Everything the gateway reads from the environment."""

    host: str = "127.0.0.1"
    """Listen address (`SYNCLINE_HOST`)."""
    port: int = 8080
    """Listen port (`SYNCLINE_PORT`)."""
    outcome_timeout_s: float = 5.0
    """How long a create waits for its command's outcome before answering 202 with the id to poll."""
    key_cache_s: float = 5.0
    """How long an opened credential is kept in memory: also how long a revoked key may still authenticate on a
    replica other than the one that revoked it (which forgets it at once)."""
    webhook_retries: int = 5
    """Retries of a webhook delivery answered with an error (after the first attempt)."""
    webhook_backoff_s: float = 1.0
    """Wait before the first retry of a delivery; doubles with each retry."""
    webhook_timeout_s: float = 10.0
    """How long one delivery attempt may take."""
    event_retention_h: float = 48.0
    """How long Polytomic events are kept (`GET /api/events`)."""
    kafka_interface: bool = True
    """Run the tenant Kafka interface (`SYNCLINE_KAFKA_INTERFACE`): organisations' commands topics bridged to the
    internal ones, their run events forwarded to their events topics, broker credentials made with their keys."""
    tenant_discovery_s: float = 2.0
    """How soon the command bridge finds a new organisation's commands topic (its metadata refresh)."""
    files: FilesSettings = Field(default_factory=FilesSettings)
    """Where file connections may point, for tests and discovery (`SYNCLINE_FILES__ROOT`)."""
    ops: OpsSettings = Field(default_factory=lambda: OpsSettings(port=9180))
    """`/metrics`, `/healthz`, `/readyz`: 127.0.0.1:9180 by default (`SYNCLINE_OPS__PORT`, `__HOST`; port 0: off)."""
