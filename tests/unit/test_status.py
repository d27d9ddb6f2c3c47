"""The run transition table is Elastic's sync-job state machine (plus `pending → error`)."""

import itertools

import pytest

from syncline_contracts.status import RUN_TRANSITIONS, RunStatus, can_transition, sources_of

S = RunStatus

EXPECTED: dict[RunStatus, set[RunStatus]] = {
    S.PENDING: {S.IN_PROGRESS, S.CANCELED, S.ERROR},
    S.IN_PROGRESS: {S.CANCELING, S.COMPLETED, S.SUSPENDED, S.ERROR},
    S.SUSPENDED: {S.IN_PROGRESS, S.CANCELED},
    S.CANCELING: {S.CANCELED, S.ERROR},
    S.COMPLETED: set(),
    S.CANCELED: set(),
    S.ERROR: set(),
}


def test_statuses_are_elastics_vocabulary() -> None:
    assert {s.value for s in RunStatus} == {
        "pending",
        "in_progress",
        "canceling",
        "canceled",
        "suspended",
        "completed",
        "error",
    }


def test_table_covers_every_status() -> None:
    assert set(RUN_TRANSITIONS) == set(RunStatus)


def test_table_matches_elastic() -> None:
    assert {s: set(nexts) for s, nexts in RUN_TRANSITIONS.items()} == EXPECTED


@pytest.mark.parametrize(("current", "target"), list(itertools.product(RunStatus, RunStatus)))
def test_can_transition(current: RunStatus, target: RunStatus) -> None:
    assert can_transition(current, target) is (target in EXPECTED[current])


def test_no_status_follows_itself() -> None:
    assert not any(can_transition(s, s) for s in RunStatus)


@pytest.mark.parametrize("status", list(RunStatus))
def test_terminal(status: RunStatus) -> None:
    assert status.terminal is (status in {S.COMPLETED, S.CANCELED, S.ERROR})


@pytest.mark.parametrize("target", list(RunStatus))
def test_sources_of(target: RunStatus) -> None:
    sources = sources_of(target)
    assert isinstance(sources, tuple)
    assert set(sources) == {s for s, nexts in EXPECTED.items() if target in nexts}
    assert len(sources) == len(set(sources))
    assert list(sources) == sorted(sources)


def test_sources_of_examples() -> None:
    assert set(sources_of(S.CANCELED)) == {S.PENDING, S.SUSPENDED, S.CANCELING}
    assert set(sources_of(S.ERROR)) == {S.PENDING, S.IN_PROGRESS, S.CANCELING}
    assert set(sources_of(S.IN_PROGRESS)) == {S.PENDING, S.SUSPENDED}
    assert sources_of(S.PENDING) == ()


def test_sources_of_is_usable_as_sql_parameters() -> None:
    assert all(isinstance(s, str) for s in sources_of(S.COMPLETED))
    assert [str(s) for s in sources_of(S.COMPLETED)] == ["in_progress"]
