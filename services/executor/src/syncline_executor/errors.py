"""Errors of the executor."""

from syncline_platform.errors import RedeliverError, SynclineError, TerminalError, UnavailableError


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


class RunEndedElsewhereError(SynclineError):
    """A check-in found the run ended, or claimed by another executor, while this one still moved it."""

    def __init__(self, *, run_id: str, status: str, worker: str | None) -> None:
        self.run_id = run_id
        self.status = status
        self.worker = worker
        super().__init__(f"run [{run_id}] is {status} (worker {worker}) elsewhere")


class DrainingError(RedeliverError):
    """The executor is stopping: a run request waiting for a slot is left to another replica (not committed)."""

    def __init__(self) -> None:
        super().__init__("the executor is stopping; another replica takes the run")


class StreamBusyError(UnavailableError):
    """A deleted sync's stream is still in use (its last run is stopping): release it again later. Waited out like
    an unavailable dependency, never dead-lettered: a slot left behind keeps WAL on the customer's server."""

    def __init__(self, *, sync_id: str, slot: str | None = None) -> None:
        self.sync_id = sync_id
        self.slot = slot
        what = f"replication slot [{slot}]" if slot else "the stream"
        super().__init__(dependency=what, detail=f"the stream of sync [{sync_id}] is still in use")


def failures_summary(failures: dict[str, str]) -> str:
    """Objects that failed, each with its error, in one line."""
    return "; ".join(f"{key}: {error}" for key, error in sorted(failures.items()))


class ObjectsFailedError(TerminalError):
    """Every object of a run that isolates failures failed."""

    def __init__(self, failures: dict[str, str]) -> None:
        self.failures = failures
        super().__init__(f"every object failed: {failures_summary(failures)}")
