"""Errors of the executor."""

from syncline_platform.errors import SynclineError


class RunCanceledError(SynclineError):
    """Raised inside a run when its status became `canceling`."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"run [{run_id}] was canceled")


class RunGoneError(SynclineError):
    """The run's record disappeared while it ran (deleted)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"run [{run_id}] no longer exists")
