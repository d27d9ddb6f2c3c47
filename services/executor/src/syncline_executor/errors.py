"""Errors of the executor."""

from syncline_platform.errors import InvalidError, SynclineError


class RunCanceledError(SynclineError):
    """Raised inside a run when its status became `canceling`."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"run [{run_id}] was canceled")


class UnsupportedSourceError(InvalidError):
    """The connector's service type has no source here."""

    def __init__(self, service_type: str | None) -> None:
        self.service_type = service_type
        super().__init__(f"no source connector for service type [{service_type}]")
