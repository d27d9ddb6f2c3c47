"""Errors raised at the gateway's edge; each dialect maps them to its own error body."""

from syncline_platform.errors import InvalidError, NotFoundError, SynclineError, UnavailableError


class AuthenticationError(SynclineError):
    """No credentials, unknown ones, or a wrong secret."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ForbiddenError(SynclineError):
    """The caller is known but may not do this (e.g. act for another organisation)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class BadRequestError(InvalidError):
    """The request cannot be parsed or breaks the dialect's schema."""

    def __init__(self, reason: str, *, kind: str = "parse") -> None:
        self.kind = kind
        super().__init__(reason)


class PayloadTooLargeError(BadRequestError):
    """The body is larger than the dialect accepts. A bad request, so a renderer that does not know it answers 400,
    never 500."""

    def __init__(self, *, limit: int) -> None:
        self.limit = limit
        super().__init__(f"request body is larger than {limit} bytes", kind="too_large")


class RejectedError(SynclineError):
    """The owning service rejected the command."""

    def __init__(self, *, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(reason)


class ResourceNotFoundError(NotFoundError):
    """A read found nothing."""

    def __init__(self, *, kind: str, resource_id: str, message: str) -> None:
        super().__init__(kind=kind, resource_id=resource_id)
        self.args = (message,)


__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ForbiddenError",
    "PayloadTooLargeError",
    "RejectedError",
    "ResourceNotFoundError",
    "UnavailableError",
]
