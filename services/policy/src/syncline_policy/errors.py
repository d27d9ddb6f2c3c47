"""Errors of the policy service; each becomes a `CommandRejected` event."""

from syncline_platform.errors import InvalidError, NotFoundError


class ConnectorNotFoundError(NotFoundError):
    """The command names a connector that does not exist."""

    def __init__(self, connector_id: str) -> None:
        super().__init__(kind="connector", resource_id=connector_id)
        self.args = (f"Connector with id '{connector_id}' does not exist.",)


class InvalidConfigurationError(InvalidError):
    """The configuration breaks the connector's schema."""

    def __init__(self, *, connector_id: str, problems: list[str]) -> None:
        self.connector_id = connector_id
        self.problems = problems
        super().__init__(f"Invalid configuration for connector [{connector_id}]: {'; '.join(problems)}")
