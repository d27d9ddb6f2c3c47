"""Turning a terminal error into the `CommandRejected` event that tells the caller why nothing changed."""

from typing import Literal

from syncline_contracts.base import Message
from syncline_contracts.connectors import CommandRejected
from syncline_platform.consumer import current_envelope
from syncline_platform.errors import ConflictError, IllegalTransitionError, NotFoundError, TerminalError

RejectionCode = Literal["not_found", "invalid", "conflict", "illegal_transition"]

_CODES: tuple[tuple[type[TerminalError], RejectionCode], ...] = (
    (NotFoundError, "not_found"),
    (IllegalTransitionError, "illegal_transition"),
    (ConflictError, "conflict"),
)


def rejection(command: Message, exc: TerminalError) -> CommandRejected:
    """The rejection of `command` (the message being handled) because of `exc`."""
    code: RejectionCode = next((c for kind, c in _CODES if isinstance(exc, kind)), "invalid")
    return CommandRejected(
        command_id=current_envelope().ce_id,
        command_type=command.wire_type(),
        aggregate_id=command.key,
        code=code,
        reason=str(exc),
    )
