"""Errors of the scheduler; each becomes a `CommandRejected` event."""

from syncline_platform.errors import ConflictError, InvalidError, NotFoundError


class ConnectorNotFoundError(NotFoundError):
    """A run was asked for a connector that does not exist."""

    def __init__(self, connector_id: str) -> None:
        super().__init__(kind="connector", resource_id=connector_id)
        self.args = (f"Connector with id '{connector_id}' does not exist.",)


class RunNotFoundError(NotFoundError):
    """The command names a run that does not exist."""

    def __init__(self, run_id: str) -> None:
        super().__init__(kind="connector sync job", resource_id=run_id)


class UnsupportedJobTypeError(InvalidError):
    """The connector cannot run this kind of job."""

    def __init__(self, *, connector_id: str, job_type: str) -> None:
        self.connector_id = connector_id
        self.job_type = job_type
        super().__init__(
            f"Connector [{connector_id}] does not support [{job_type}] sync jobs: "
            "document level security is not enabled for this connector"
        )


class RunAlreadyActiveError(ConflictError):
    """An exclusive run was asked for while another run of the sync is still going."""

    def __init__(self, *, sync_id: str, run_id: str) -> None:
        self.sync_id = sync_id
        self.run_id = run_id
        super().__init__(f"bulk sync {sync_id} already has a running execution ({run_id})")
