"""Errors of the executor."""

from syncline_platform.errors import RetryableError, SynclineError, TerminalError


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
    """A deleted sync's stream is still in use (its last run is stopping): release it again later."""

    def __init__(self, *, sync_id: str, slot: str | None = None) -> None:
        self.sync_id = sync_id
        self.slot = slot
        what = f"replication slot [{slot}]" if slot else "the stream"
        super().__init__(f"{what} of sync [{sync_id}] is still in use")


def failures_summary(failures: dict[str, str]) -> str:
    """Objects that failed, each with its error, in one line."""
    return "; ".join(f"{key}: {error}" for key, error in sorted(failures.items()))


class ObjectsFailedError(TerminalError):
    """Every object of a run that isolates failures failed."""

    def __init__(self, failures: dict[str, str]) -> None:
        self.failures = failures
        super().__init__(f"every object failed: {failures_summary(failures)}")
