"""Errors of the policy service; each becomes a `CommandRejected` event."""

from syncline_platform.errors import ConflictError, InvalidError, NotFoundError


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


class ConnectionNotFoundError(NotFoundError):
    """The command names a connection the organisation does not have."""

    def __init__(self, connection_id: str) -> None:
        super().__init__(kind="connection", resource_id=connection_id)
        self.args = (f"connection {connection_id} not found",)


class BulkSyncNotFoundError(NotFoundError):
    """The command names a bulk sync the organisation does not have."""

    def __init__(self, sync_id: str) -> None:
        super().__init__(kind="bulk sync", resource_id=sync_id)
        self.args = (f"bulk sync {sync_id} not found",)


class ScheduleNotFoundError(NotFoundError):
    """The command names a schedule the sync does not have."""

    def __init__(self, *, sync_id: str, schedule_id: str) -> None:
        super().__init__(kind="schedule", resource_id=schedule_id)
        self.sync_id = sync_id
        self.args = (f"schedule {schedule_id} of bulk sync {sync_id} not found",)


class SchemaNotFoundError(NotFoundError):
    """The command names an object (schema) the sync does not have."""

    def __init__(self, *, sync_id: str, schema_id: str) -> None:
        super().__init__(kind="schema", resource_id=schema_id)
        self.sync_id = sync_id
        self.args = (f"schema {schema_id} of bulk sync {sync_id} not found",)


class NameTakenError(ConflictError):
    """Another resource of the organisation has this name."""

    def __init__(self, *, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        super().__init__(f"a {kind} named [{name}] already exists")


class ConnectionInUseError(ConflictError):
    """A connection that syncs use cannot be deleted without `force`."""

    def __init__(self, *, connection_id: str, sync_ids: list[str]) -> None:
        self.connection_id = connection_id
        self.sync_ids = sync_ids
        super().__init__(f"connection {connection_id} is used by bulk syncs {', '.join(sync_ids)}; delete with force")


class ConnectionCheckFailedError(InvalidError):
    """`validate` was asked for and the connection does not answer."""

    def __init__(self, *, connection_id: str, problem: str) -> None:
        self.connection_id = connection_id
        self.problem = problem
        super().__init__(f"connection test failed: {problem}")
