"""Terminal errors become `CommandRejected` events addressed to the command that caused them."""

from collections.abc import Iterator

import pytest

from syncline_contracts.connectors import ConfigureConnector, UpsertConnector
from syncline_contracts.envelope import Envelope
from syncline_contracts.runs import CancelRun
from syncline_platform.consumer import _ENVELOPE
from syncline_platform.errors import (
    ConflictError,
    IllegalTransitionError,
    InvalidError,
    NotFoundError,
    TerminalError,
)
from syncline_platform.rejections import rejection

ENVELOPE = Envelope(ce_id="cmd-42", ce_type="syncline.connector.upsert", ce_source="/test", org_id="org-1")


@pytest.fixture
def handling() -> Iterator[Envelope]:
    token = _ENVELOPE.set(ENVELOPE)
    try:
        yield ENVELOPE
    finally:
        _ENVELOPE.reset(token)


class _OtherTerminalError(TerminalError):
    pass


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (NotFoundError(kind="connector", resource_id="c-1"), "not_found"),
        (IllegalTransitionError(resource_id="r-1", current="completed", target="canceling"), "illegal_transition"),
        (ConflictError("already exists"), "conflict"),
        (InvalidError("bad port"), "invalid"),
        (_OtherTerminalError("something"), "invalid"),
        (TerminalError("plain"), "invalid"),
    ],
    ids=lambda x: type(x).__name__ if isinstance(x, Exception) else x,
)
def test_codes(handling: Envelope, error: TerminalError, code: str) -> None:
    assert rejection(UpsertConnector(connector_id="c-1"), error).code == code


def test_rejection_names_the_command(handling: Envelope) -> None:
    command = ConfigureConnector(connector_id="c-9", values={})
    rejected = rejection(command, NotFoundError(kind="connector", resource_id="c-9"))
    assert rejected.command_id == "cmd-42"
    assert rejected.command_type == "syncline.connector.configure"
    assert rejected.aggregate_id == "c-9"
    assert rejected.reason == "connector [c-9] not found"
    assert rejected.key == "c-9"


def test_rejection_of_a_run_command(handling: Envelope) -> None:
    error = IllegalTransitionError(resource_id="r-1", current="completed", target="canceling")
    rejected = rejection(CancelRun(run_id="r-1"), error)
    assert rejected.aggregate_id == "r-1"
    assert rejected.command_type == "syncline.run.cancel"
    assert rejected.code == "illegal_transition"
    assert rejected.reason == "cannot move [r-1] from [completed] to [canceling]"


def test_rejection_needs_a_message_being_handled() -> None:
    with pytest.raises(LookupError):
        rejection(UpsertConnector(connector_id="c-1"), InvalidError("x"))
