"""Polytomic's bulk-sync schedules compiled to the scheduler's model (`syncline_contracts.schedules.Schedule`),
and validated with the scheduler's own code (`syncline_platform.schedules`) so a schedule policy accepts is one
the scheduler can fire."""

from collections.abc import Sequence
from datetime import datetime

from syncline_contracts.schedules import Schedule, ScheduleKind
from syncline_contracts.status import JobType
from syncline_contracts.syncs import BulkSyncSchedule
from syncline_platform.errors import InvalidError
from syncline_platform.schedules import validate_schedules

FREQUENCIES: dict[str, ScheduleKind] = {
    "manual": ScheduleKind.MANUAL,
    "continuous": ScheduleKind.CONTINUOUS,
    "hourly": ScheduleKind.HOURLY,
    "daily": ScheduleKind.DAILY,
    "weekly": ScheduleKind.WEEKLY,
    "monthly": ScheduleKind.MONTHLY,
    "custom": ScheduleKind.CRON5,
    "builder": ScheduleKind.CRON5,
}
"""Every frequency a bulk sync may use, and what it compiles to."""

MODEL_SYNC_ONLY = frozenset({"runafter", "dbtcloud"})
SELECTIVE_MODES = ("none", "incrementalFields", "nonincrementalFields")
SYNC_MODES = ("normal", "refetch", "resync", "rebuild")
CONTINUOUS_EVERY_MINUTES = 5
"""Polytomic's continuous schedules run at most every 5 minutes."""

_DAY_ABBREVIATIONS = {
    day: day[:3] for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
}


def _cron_day_of_week(value: str | None) -> str:
    if not value:
        return "*"
    return ",".join(_DAY_ABBREVIATIONS.get(part.strip().lower(), part.strip()) for part in value.split(","))


def _expression(schedule: BulkSyncSchedule) -> str:
    return " ".join(
        (
            schedule.minute or "*",
            schedule.hour or "*",
            schedule.day_of_month or "*",
            schedule.month or "*",
            _cron_day_of_week(schedule.day_of_week),
        )
    )


def _check_modes(schedule: BulkSyncSchedule) -> None:
    if schedule.selective_mode is not None and schedule.selective_mode not in SELECTIVE_MODES:
        raise InvalidError(
            f"schedule [{schedule.schedule_id}]: selective_mode [{schedule.selective_mode}] must be one of "
            f"{', '.join(SELECTIVE_MODES)}"
        )
    if schedule.sync_mode is not None and schedule.sync_mode not in SYNC_MODES:
        raise InvalidError(
            f"schedule [{schedule.schedule_id}]: sync mode [{schedule.sync_mode}] must be one of "
            f"{', '.join(SYNC_MODES)}"
        )


def compile_schedule(schedule: BulkSyncSchedule) -> Schedule:
    """The scheduler's form of one Polytomic schedule; raises InvalidError for a frequency bulk syncs lack."""
    if schedule.frequency in MODEL_SYNC_ONLY:
        raise InvalidError(f"frequency [{schedule.frequency}] applies to model syncs only, not to bulk syncs")
    kind = FREQUENCIES.get(schedule.frequency)
    if kind is None:
        raise InvalidError(
            f"schedule frequency [{schedule.frequency}] must be one of {', '.join(FREQUENCIES)}"
            + (" (multi is given as several schedules)" if schedule.frequency == "multi" else "")
        )
    _check_modes(schedule)
    fixed = kind in (ScheduleKind.HOURLY, ScheduleKind.DAILY, ScheduleKind.WEEKLY, ScheduleKind.MONTHLY)
    return Schedule(
        schedule_id=schedule.schedule_id,
        kind=kind,
        expression=_expression(schedule) if kind is ScheduleKind.CRON5 else None,
        every_minutes=CONTINUOUS_EVERY_MINUTES if kind is ScheduleKind.CONTINUOUS else None,
        minute=schedule.minute if fixed else None,
        hour=schedule.hour if fixed else None,
        day_of_week=schedule.day_of_week if kind is ScheduleKind.WEEKLY else None,
        day_of_month=schedule.day_of_month if kind is ScheduleKind.MONTHLY else None,
        job_type=JobType.FULL,
        resync_mode=schedule.sync_mode,
        selective_mode=schedule.selective_mode,
        schemas=tuple(schedule.schemas) if schedule.schemas else None,
    )


def compile_schedules(schedules: Sequence[BulkSyncSchedule], *, now: datetime) -> list[Schedule]:
    """Every schedule compiled and validated (exactly one default, ids unique, each able to fire)."""
    defaults = [s for s in schedules if s.is_default]
    if len(defaults) != 1:
        raise InvalidError(f"a bulk sync has exactly one default schedule, got {len(defaults)}")
    compiled = [compile_schedule(s) for s in schedules]
    validate_schedules(compiled, now=now)
    return compiled
