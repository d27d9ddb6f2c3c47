"""Commands and events of the connection aggregate: where a sync reads from or writes to (PostgreSQL, a local
folder, a Kafka cluster), with its secrets sealed by the gateway before they travel."""

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from syncline_contracts.base import Message
from syncline_contracts.connectors import CommandRejected


class CreateConnection(Message):
    """Create a connection; with `check`, only when it answers for real."""

    key_field: ClassVar[str] = "connection_id"
    type: Literal["syncline.connection.create"] = "syncline.connection.create"
    """Wire type."""
    connection_id: str
    """The new connection's id, chosen by the gateway so a retried command creates nothing twice."""
    name: str
    """Human-readable name, unique within the organisation."""
    connection_type: str
    """`postgresql`, `file` or `kafka`."""
    configuration: dict[str, Any]
    """Non-secret configuration values by the dialect's keys (`hostname`, `port`, `path`, ...)."""
    sealed_secrets: dict[str, str] = Field(default_factory=dict)
    """Secret values (e.g. `password`), each sealed by the gateway; never in clear on Kafka."""
    check: bool = False
    """Reject the command when the connection does not answer (Polytomic's `validate`)."""
    healthcheck_interval: str | None = None
    """How often the connection's health is checked, as the client wrote it (e.g. `1h`)."""
    policies: tuple[str, ...] = ()
    """Permission-policy ids, kept for fidelity."""
    actor: str = ""
    """The API key that issued the command."""


class UpdateConnection(Message):
    """Replace a connection's name and configuration; secrets left out keep their stored value."""

    key_field: ClassVar[str] = "connection_id"
    type: Literal["syncline.connection.update"] = "syncline.connection.update"
    """Wire type."""
    connection_id: str
    """The connection to change."""
    name: str
    """Human-readable name, unique within the organisation."""
    configuration: dict[str, Any]
    """Non-secret configuration values (replace the stored ones)."""
    sealed_secrets: dict[str, str] = Field(default_factory=dict)
    """Secret values sent with this update, sealed; the others keep their value."""
    check: bool = False
    """Reject the command when the connection does not answer."""
    healthcheck_interval: str | None = None
    """How often the connection's health is checked."""
    policies: tuple[str, ...] = ()
    """Permission-policy ids."""
    actor: str = ""
    """The API key that issued the command."""


class DeleteConnection(Message):
    """Delete a connection; one used by syncs only with `force` (which deletes those syncs too)."""

    key_field: ClassVar[str] = "connection_id"
    type: Literal["syncline.connection.delete"] = "syncline.connection.delete"
    """Wire type."""
    connection_id: str
    """The connection to delete."""
    force: bool = False
    """Also delete the syncs that read from or write to it."""


class ConnectionConfigured(Message):
    """A connection was created or changed; its definition is in the policy store."""

    key_field: ClassVar[str] = "connection_id"
    type: Literal["syncline.connection.configured"] = "syncline.connection.configured"
    """Wire type."""
    connection_id: str
    """The connection."""
    result: Literal["created", "updated"]
    """Whether the command created the connection or changed it."""
    status: Literal["healthy", "unhealthy"]
    """The outcome of the connection check made with the change."""
    status_error: str = ""
    """Why the check failed, when it did."""


class ConnectionDeleted(Message):
    """A connection is gone (with the syncs that used it, when forced)."""

    key_field: ClassVar[str] = "connection_id"
    type: Literal["syncline.connection.deleted"] = "syncline.connection.deleted"
    """Wire type."""
    connection_id: str
    """The connection."""
    deleted_sync_ids: tuple[str, ...] = ()
    """Syncs deleted with it (`force`)."""


ConnectionCommand = Annotated[CreateConnection | UpdateConnection | DeleteConnection, Field(discriminator="type")]
"""Everything on the connection commands topic."""

ConnectionEvent = Annotated[ConnectionConfigured | ConnectionDeleted | CommandRejected, Field(discriminator="type")]
"""Everything on the connection events topic."""
