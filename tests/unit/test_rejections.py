"""Terminal errors become `CommandRejected` events addressed to the command that caused them; input refused by a
library or the database is terminal too (`as_terminal`), other failures are not."""

from collections.abc import Iterator

import pytest
from asyncpg import exceptions as pg
from pydantic import BaseModel, Field, ValidationError

from syncline_contracts.connectors import ConfigureConnector, UpsertConnector
from syncline_contracts.envelope import Envelope
from syncline_contracts.runs import CancelRun
from syncline_platform.consumer import _ENVELOPE
from syncline_platform.errors import (
    ConflictError,
    IllegalTransitionError,
    InvalidError,
    InvalidInputError,
    NotFoundError,
    TerminalError,
    UnavailableError,
    as_terminal,
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


class _Limits(BaseModel):
    limit: int = Field(le=8)


def _validation_error() -> ValidationError:
    try:
        _Limits(limit=9)
    except ValidationError as exc:
        return exc
    raise AssertionError


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ValueError("invalid literal for int() with base 10: 'x'"), "invalid literal for int() with base 10: 'x'"),
        (pg.NumericValueOutOfRangeError("integer out of range"), "invalid value: integer out of range"),
        (pg.StringDataRightTruncationError("value too long"), "invalid value: value too long"),
        (pg.DataError("invalid input for query argument $5: 3000000000"), "invalid value: invalid input for"),
        (pg.ProgramLimitExceededError("index row size 5016 exceeds"), "invalid value: index row size 5016"),
        (_validation_error(), "[limit] Input should be less than or equal to 8"),
        (OverflowError("int too large"), "int too large"),
    ],
    ids=lambda x: type(x).__name__ if isinstance(x, Exception) else None,
)
def test_refused_input_is_terminal_and_invalid(handling: Envelope, error: Exception, reason: str) -> None:
    terminal = as_terminal(error)
    assert isinstance(terminal, InvalidInputError)
    assert terminal.cause is error
    assert str(terminal).startswith(reason)
    assert rejection(UpsertConnector(connector_id="c-1"), terminal).code == "invalid"


def test_our_terminal_errors_stay_themselves() -> None:
    error = NotFoundError(kind="connector", resource_id="c-1")
    assert as_terminal(error) is error


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("boom"),
        ConnectionResetError("reset"),
        TimeoutError(),
        UnavailableError(dependency="db", detail="down"),
        pg.SerializationError("could not serialize"),
        pg.UniqueViolationError("duplicate key"),  # a race on a name: tried again, it is a NameTakenError
    ],
    ids=lambda e: type(e).__name__,
)
def test_what_may_pass_when_tried_again_is_not_terminal(error: Exception) -> None:
    assert as_terminal(error) is None
