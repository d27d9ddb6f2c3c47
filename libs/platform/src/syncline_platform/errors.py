"""The error root. Errors carry their ids as attributes; dialects and consumers translate them at the edges."""


class SynclineError(Exception):
    """Root of every error Syncline raises on purpose."""


class RetryableError(SynclineError):
    """Mixin: trying again later may succeed (a broker or database hiccup)."""


class TerminalError(SynclineError):
    """Mixin: trying again cannot succeed; record the failure and move on."""


class NotFoundError(TerminalError):
    """An addressed resource does not exist."""

    def __init__(self, *, kind: str, resource_id: str) -> None:
        self.kind = kind
        self.resource_id = resource_id
        super().__init__(f"{kind} [{resource_id}] not found")


class InvalidError(TerminalError):
    """The input breaks a rule."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ConflictError(TerminalError):
    """The input collides with existing state."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class IllegalTransitionError(TerminalError):
    """A status change the transition table forbids."""

    def __init__(self, *, resource_id: str, current: str, target: str) -> None:
        self.resource_id = resource_id
        self.current = current
        self.target = target
        super().__init__(f"cannot move [{resource_id}] from [{current}] to [{target}]")


class UnavailableError(RetryableError):
    """A dependency (database, broker, source) is not answering."""

    def __init__(self, *, dependency: str, detail: str) -> None:
        self.dependency = dependency
        self.detail = detail
        super().__init__(f"{dependency} unavailable: {detail}")
