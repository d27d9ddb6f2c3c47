"""Run and connector statuses, with the one transition table that decides what may follow what."""

from enum import StrEnum


class RunStatus(StrEnum):
    """A run's lifecycle, in Elastic's sync-job vocabulary; the other dialects map onto it."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    CANCELING = "canceling"
    CANCELED = "canceled"
    SUSPENDED = "suspended"
    COMPLETED = "completed"
    ERROR = "error"

    @property
    def terminal(self) -> bool:
        """No status may follow a terminal one."""
        return not RUN_TRANSITIONS[self]


RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.PENDING: frozenset({RunStatus.IN_PROGRESS, RunStatus.CANCELED, RunStatus.ERROR}),
    RunStatus.IN_PROGRESS: frozenset({RunStatus.CANCELING, RunStatus.COMPLETED, RunStatus.SUSPENDED, RunStatus.ERROR}),
    RunStatus.SUSPENDED: frozenset({RunStatus.IN_PROGRESS, RunStatus.CANCELED}),
    RunStatus.CANCELING: frozenset({RunStatus.CANCELED, RunStatus.ERROR}),
    RunStatus.COMPLETED: frozenset(),
    RunStatus.CANCELED: frozenset(),
    RunStatus.ERROR: frozenset(),
}
"""Elastic's sync-job state machine, plus `pending → error` so a run whose request cannot be
executed at all (its connector was deleted) still ends."""


def can_transition(current: RunStatus, target: RunStatus) -> bool:
    """Whether `target` may follow `current`."""
    return target in RUN_TRANSITIONS[current]


def sources_of(target: RunStatus) -> tuple[RunStatus, ...]:
    """Every status that may move to `target`; used in guarded UPDATEs."""
    return tuple(sorted(s for s, nexts in RUN_TRANSITIONS.items() if target in nexts))


class JobType(StrEnum):
    """What a run does."""

    FULL = "full"
    INCREMENTAL = "incremental"
    ACCESS_CONTROL = "access_control"


class TriggerMethod(StrEnum):
    """Why a run exists."""

    ON_DEMAND = "on_demand"
    SCHEDULED = "scheduled"


class ConnectorStatus(StrEnum):
    """Elastic's connector lifecycle."""

    CREATED = "created"
    NEEDS_CONFIGURATION = "needs_configuration"
    CONFIGURED = "configured"
    CONNECTED = "connected"
    ERROR = "error"
