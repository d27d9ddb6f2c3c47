"""Errors of the executor."""

from syncline_platform.errors import RetryableError, SynclineError


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


class StreamBusyError(RetryableError):
    """A deleted sync's replication slot is still in use (its last run is stopping): drop it again later."""

    def __init__(self, *, sync_id: str, slot: str) -> None:
        self.sync_id = sync_id
        self.slot = slot
        super().__init__(f"replication slot [{slot}] of sync [{sync_id}] is still in use")
