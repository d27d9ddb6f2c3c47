"""When schedules fire: parsing and validating every schedule kind, and the next fire time after an instant.

Pure computation (no I/O), shared by policy (which rejects an invalid schedule at configuration time, with a
message that says what is wrong) and the scheduler (which computes fire times with the same code). Every
instant is a timezone-aware UTC datetime; cron, rate and fixed-frequency schedules are evaluated in UTC.

Cron kinds are evaluated by `croniter`. Quartz (Elastic) and EventBridge (AWS) expressions are translated to
croniter's form first: their day-of-week counts 1-7 from Sunday, exactly one of day-of-month and day-of-week
must be `?`, Quartz puts seconds first and may end with a year, EventBridge always ends with a year.
"""

import calendar
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from croniter import croniter
from croniter.croniter import CroniterError

from syncline_contracts.schedules import RetryPolicy, Schedule, ScheduleKind
from syncline_platform.errors import InvalidError

MISSED_TICKS_LIMIT = 1000
"""Missed ticks are counted up to this many; a catch-up run stands for all of them anyway."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TINY = timedelta(microseconds=1)
_DAYS = {
    name: i for i, name in enumerate(("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"))
}
_RATE = re.compile(r"^rate\s*\(\s*(\d+)\s*(minute|minutes|hour|hours|day|days)\s*\)$", re.IGNORECASE)
_WRAPPED_CRON = re.compile(r"^cron\s*\((.*)\)$", re.IGNORECASE | re.DOTALL)
_HASHED = re.compile(r"^[hr](\(\d+-\d+\))?(/\d+)?$")
_ALIASES = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


class InvalidScheduleError(InvalidError):
    """A schedule that cannot fire as written."""

    def __init__(self, *, schedule_id: str, kind: str, problem: str) -> None:
        self.schedule_id = schedule_id
        self.kind = kind
        self.problem = problem
        super().__init__(f"schedule [{schedule_id}] ({kind}): {problem}")


class _ProblemError(ValueError):
    """What is wrong with one part of a schedule; becomes an `InvalidScheduleError` with the schedule's name."""


class Timetable(Protocol):
    """The fire times of one schedule."""

    def next_after(self, instant: datetime) -> datetime | None:
        """The first fire time strictly after `instant`, or None when it never fires again."""


@dataclass(frozen=True)
class Never:
    """Manual and continuous schedules: no clock-driven fire times."""

    def next_after(self, instant: datetime) -> datetime | None:
        """Never."""
        return None


@dataclass(frozen=True)
class Periodic:
    """Every `period` from `anchor` (the anchor itself included)."""

    anchor: datetime
    period: timedelta

    def next_after(self, instant: datetime) -> datetime | None:
        """The first `anchor + k·period` after `instant`."""
        if instant < self.anchor:
            return self.anchor
        return self.anchor + ((instant - self.anchor) // self.period + 1) * self.period


@dataclass(frozen=True)
class Cron:
    """A cron expression in croniter's form (`seconds_first` for 6/7-field Quartz order)."""

    expression: str
    seconds_first: bool = False

    def next_after(self, instant: datetime) -> datetime | None:
        """croniter's next match, or None when there is none (a year range in the past)."""
        try:
            found: datetime = _iterator(self.expression, self.seconds_first).get_next(datetime, start_time=instant)
        except CroniterError:
            return None
        return found.astimezone(UTC)


@dataclass(frozen=True)
class MonthlyAt:
    """Monthly on a day, clamped to the last day of shorter months (31 means the last day of every month)."""

    day: int
    hour: int
    minute: int

    def next_after(self, instant: datetime) -> datetime | None:
        """This month's fire time if still ahead, else next month's."""
        for ahead in range(13):
            year, month0 = divmod(instant.year * 12 + instant.month - 1 + ahead, 12)
            day = min(self.day, calendar.monthrange(year, month0 + 1)[1])
            candidate = datetime(year, month0 + 1, day, self.hour, self.minute, tzinfo=UTC)
            if candidate > instant:
                return candidate
        return None  # pragma: no cover - a month always comes within 13


@dataclass(frozen=True)
class At:
    """Once, at an instant."""

    instant: datetime

    def next_after(self, instant: datetime) -> datetime | None:
        """The instant while it is ahead."""
        return self.instant if self.instant > instant else None


@dataclass(frozen=True)
class NotBefore:
    """Another timetable whose fire times before `earliest` are dropped (a first-execution instant)."""

    inner: Timetable
    earliest: datetime

    def next_after(self, instant: datetime) -> datetime | None:
        """The inner timetable's next fire time, no earlier than `earliest`."""
        return self.inner.next_after(max(instant, self.earliest - _TINY))


@functools.lru_cache(maxsize=4096)
def _iterator(expression: str, seconds_first: bool) -> croniter:
    # parsing dominates the cost of a next-time computation; an iterator is reused with an explicit start
    return croniter(expression, _EPOCH, second_at_beginning=seconds_first)


# --- instants, rates and back-off ---------------------------------------------------------------------------


def parse_instant(value: int | str) -> datetime:
    """An instant given as epoch milliseconds (number or digit string) or ISO-8601 (naive means UTC)."""
    text = str(value).strip()
    try:
        if re.fullmatch(r"-?\d+", text):
            return _EPOCH + timedelta(milliseconds=int(text))
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError) as exc:
        raise _ProblemError(f"[{value}] is neither epoch milliseconds nor an ISO-8601 instant") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_rate(expression: str) -> timedelta:
    """The period of an AWS `rate(N minutes|hours|days)` expression (spaces anywhere, `rate(5minutes)` too)."""
    match = _RATE.fullmatch(expression.strip())
    if match is None:
        raise _ProblemError(f"[{expression}] is not rate(<number> minute(s)|hour(s)|day(s)), e.g. rate(5 minutes)")
    amount = int(match.group(1))
    if amount < 1:
        raise _ProblemError(f"[{expression}]: the rate must be at least 1")
    return timedelta(seconds=amount * _UNITS[match.group(2).lower().rstrip("s")])


def aws_kind(expression: str) -> ScheduleKind:
    """The kind of an AWS `ScheduleExpression`: `aws_rate` for `rate(…)`, `eventbridge` for `cron(…)`."""
    text = expression.strip().lower()
    if text.startswith("cron"):
        return ScheduleKind.EVENTBRIDGE
    return ScheduleKind.AWS_RATE


def retry_delay(policy: RetryPolicy, *, failed_attempt: int) -> float | None:
    """Seconds to wait before retrying after attempt `failed_attempt` failed; None when no attempt is left."""
    if failed_attempt >= policy.max_attempts:
        return None
    return float(min(policy.max_delay_s, policy.base_delay_s * 2 ** (failed_attempt - 1)))


def warning_threshold(policy: RetryPolicy) -> int:
    """Consecutive failures at which the deactivation warning goes out: half the deactivation count."""
    return max(1, policy.deactivate_after_failures // 2)


def count_missed(timetable: Timetable, *, due: datetime, now: datetime, limit: int = MISSED_TICKS_LIMIT) -> int:
    """Ticks after `due` up to `now` (at most `limit`): those a late fire folds into one run."""
    missed, cursor = 0, due
    while missed < limit:
        following = timetable.next_after(cursor)
        if following is None or following > now:
            break
        missed, cursor = missed + 1, following
    return missed


# --- cron dialects ------------------------------------------------------------------------------------------


def _fields(expression: str) -> list[str]:
    return expression.split()


def _reject_hashed(fields: Sequence[str]) -> None:
    for field in fields:
        for item in field.split(","):
            if _HASHED.fullmatch(item.lower()):
                raise _ProblemError(f"[{item}]: hashed and random values (H, R) are not supported")


def _check_question_marks(day_of_month: str, day_of_week: str) -> None:
    if (day_of_month == "?") == (day_of_week == "?"):
        raise _ProblemError("exactly one of day-of-month and day-of-week must be '?'")


def _shift_day(token: str) -> str:
    """A Sunday=1 day number as croniter's Sunday=0 (names stay)."""
    if not token.isdigit():
        return token
    number = int(token)
    if not 1 <= number <= 7:
        raise _ProblemError(f"day-of-week [{token}] is out of range 1-7 (1 = Sunday)")
    return str(number - 1)


def _shift_day_item(item: str) -> str:
    if item in ("?", "*"):
        return item
    if item.upper() == "L":
        return "6"  # last day of the week: Saturday
    if match := re.fullmatch(r"(\w+)L", item, re.IGNORECASE):
        return f"L{_shift_day(match.group(1))}"
    if match := re.fullmatch(r"(\w+)#(\d+)", item):
        return f"{_shift_day(match.group(1))}#{match.group(2)}"
    base, _, step = item.partition("/")
    low, dash, high = base.partition("-")
    shifted = "*" if low == "*" else _shift_day(low)
    if dash:
        shifted += "-" + _shift_day(high)
    return f"{shifted}/{step}" if step else shifted


def _shift_days(field: str) -> str:
    """A Quartz/EventBridge day-of-week field (1-7, 1 = Sunday) in croniter's numbering (0-6, 0 = Sunday)."""
    return ",".join(_shift_day_item(item) for item in field.split(","))


_CRON5_LABELS = ("minute", "hour", "day-of-month", "month", "day-of-week")
_QUARTZ_LABELS = ("seconds", "minutes", "hours", "day-of-month", "month", "day-of-week", "year")
_EVENTBRIDGE_LABELS = ("minutes", "hours", "day-of-month", "month", "day-of-week", "seconds", "year")


@dataclass(frozen=True)
class _Parsed:
    """A cron expression in croniter's form, with what to call each field when one is wrong."""

    cron: Cron
    labels: tuple[str, ...]
    shown: tuple[str, ...]


def _cron5(expression: str) -> _Parsed:
    text = expression.strip()
    if text.lower() in _ALIASES:
        return _Parsed(Cron(text.lower()), (), ())
    fields = _fields(text)
    if len(fields) != 5:
        raise _ProblemError(
            f"[{expression}] has {len(fields)} fields; a cron expression has 5: "
            "minute hour day-of-month month day-of-week"
        )
    _reject_hashed(fields)
    return _Parsed(Cron(" ".join(fields)), _CRON5_LABELS, tuple(fields))


def _quartz(expression: str) -> _Parsed:
    fields = _fields(expression)
    if len(fields) not in (6, 7):
        raise _ProblemError(
            f"[{expression}] has {len(fields)} fields; a Quartz cron expression has 6 or 7: "
            "seconds minutes hours day-of-month month day-of-week [year], e.g. 0 0 * * * ?"
        )
    _reject_hashed(fields)
    _check_question_marks(fields[3], fields[5])
    shown = tuple(fields)
    fields[5] = _shift_days(fields[5])
    return _Parsed(Cron(" ".join(fields), seconds_first=True), _QUARTZ_LABELS[: len(fields)], shown)


def _eventbridge(expression: str) -> _Parsed:
    wrapped = _WRAPPED_CRON.fullmatch(expression.strip())
    if wrapped is None:
        raise _ProblemError(f"[{expression}] is not cron(minutes hours day-of-month month day-of-week year)")
    fields = _fields(wrapped.group(1))
    if len(fields) != 6:
        raise _ProblemError(
            f"[{expression}] has {len(fields)} fields inside cron(…); EventBridge needs 6: "
            "minutes hours day-of-month month day-of-week year, e.g. cron(0 12 * * ? *)"
        )
    _reject_hashed(fields)
    minute, hour, day_of_month, month, day_of_week, year = fields
    _check_question_marks(day_of_month, day_of_week)
    # croniter's 7-field order is minute hour day-of-month month day-of-week second year
    croniter_form = (minute, hour, day_of_month, month, _shift_days(day_of_week), "0", year)
    shown = (minute, hour, day_of_month, month, day_of_week, "0", year)
    return _Parsed(Cron(" ".join(croniter_form)), _EVENTBRIDGE_LABELS, shown)


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "out of range" in text or "out of bands" in text:
        return "out of range"
    if "step" in text:
        return "the step must be a positive number"
    return "not a value, name, range, list or step this field accepts"


def _diagnose(parsed: _Parsed) -> str:
    """Which field is wrong: each is tried alone, the others set to `*`."""
    fields = parsed.cron.expression.split()
    for index, label in enumerate(parsed.labels):
        probe = ["*"] * len(fields)
        probe[index] = fields[index]
        try:
            croniter(" ".join(probe), _EPOCH, second_at_beginning=parsed.cron.seconds_first)
        except (CroniterError, TypeError, ValueError) as exc:
            return f"{label} [{parsed.shown[index]}] is invalid: {_reason(exc)}"
    return "its fields do not combine into a valid expression"


def _check_cron(parsed: _Parsed, *, original: str) -> Cron:
    try:
        _iterator(parsed.cron.expression, parsed.cron.seconds_first)
    except (CroniterError, TypeError, ValueError) as exc:
        raise _ProblemError(f"[{original}]: {_diagnose(parsed)}") from exc
    return parsed.cron


# --- fixed frequencies --------------------------------------------------------------------------------------


def _number(value: str | None, *, name: str, low: int, high: int, default: int | None = None) -> int:
    if value is None or str(value).strip() == "":
        if default is None:
            raise _ProblemError(f"{name} is required")
        return default
    text = str(value).strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise _ProblemError(f"{name} [{value}] must be a whole number from {low} to {high}")
    return int(text)


def _day_of_week(value: str | None) -> int:
    if value is None or not str(value).strip():
        raise _ProblemError("day_of_week is required")
    text = str(value).strip().lower()
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text) % 7
    for name, number in _DAYS.items():
        if text in (name, name[:3]):
            return number
    raise _ProblemError(f"day_of_week [{value}] must be a day name (monday … sunday)")


def _fixed(schedule: Schedule) -> Timetable:
    minute = _number(schedule.minute, name="minute", low=0, high=59, default=0)
    if schedule.kind is ScheduleKind.HOURLY:
        return Cron(f"{minute} * * * *")
    hour = _number(schedule.hour, name="hour", low=0, high=23)
    if schedule.kind is ScheduleKind.DAILY:
        return Cron(f"{minute} {hour} * * *")
    if schedule.kind is ScheduleKind.WEEKLY:
        return Cron(f"{minute} {hour} * * {_day_of_week(schedule.day_of_week)}")
    day = _number(schedule.day_of_month, name="day_of_month", low=1, high=31)
    return MonthlyAt(day=day, hour=hour, minute=minute)


# --- compiling ----------------------------------------------------------------------------------------------


def _expression(schedule: Schedule) -> str:
    if schedule.expression is None or not schedule.expression.strip():
        raise _ProblemError("expression is required")
    return schedule.expression


def _minutes(schedule: Schedule, *, required: bool) -> timedelta | None:
    if schedule.every_minutes is None:
        if required:
            raise _ProblemError("every_minutes is required")
        return None
    if schedule.every_minutes < 1:
        raise _ProblemError(f"every_minutes [{schedule.every_minutes}] must be at least 1")
    return timedelta(minutes=schedule.every_minutes)


def _timetable(schedule: Schedule, *, anchor: datetime) -> Timetable:
    kind = schedule.kind
    if kind in (ScheduleKind.MANUAL, ScheduleKind.CONTINUOUS):
        _minutes(schedule, required=False)
        return Never()
    if kind is ScheduleKind.ONCE:
        if schedule.start_at is None:
            raise _ProblemError("start_at is required")
        return At(parse_instant(schedule.start_at))
    if kind is ScheduleKind.INTERVAL:
        period = _minutes(schedule, required=True)
        assert period is not None  # noqa: S101 - required above
        return Periodic(anchor=anchor, period=period)
    if kind is ScheduleKind.AWS_RATE:
        return Periodic(anchor=anchor, period=parse_rate(_expression(schedule)))
    if kind in (ScheduleKind.HOURLY, ScheduleKind.DAILY, ScheduleKind.WEEKLY, ScheduleKind.MONTHLY):
        return _fixed(schedule)
    parse = {ScheduleKind.CRON5: _cron5, ScheduleKind.QUARTZ: _quartz, ScheduleKind.EVENTBRIDGE: _eventbridge}[kind]
    original = _expression(schedule)
    return _check_cron(parse(original), original=original)


def compile_schedule(schedule: Schedule, *, configured_at: datetime) -> Timetable:
    """The schedule's fire times. `configured_at` anchors `interval` and `aws_rate` schedules that have no
    first-execution instant. Raises `InvalidScheduleError` saying what is wrong."""
    try:
        earliest = None
        if schedule.first_execution_from is not None:
            earliest = parse_instant(schedule.first_execution_from)
        timetable = _timetable(schedule, anchor=earliest or configured_at)
    except _ProblemError as exc:
        raise InvalidScheduleError(schedule_id=schedule.schedule_id, kind=schedule.kind, problem=str(exc)) from exc
    return NotBefore(timetable, earliest) if earliest is not None else timetable


def first_fire(schedule: Schedule, timetable: Timetable, *, now: datetime) -> datetime | None:
    """When a newly configured schedule fires first: a one-shot at its instant (at once when it has passed),
    a continuous one at once, the others at their next fire time after `now`."""
    if schedule.kind is ScheduleKind.ONCE:
        instant = timetable.next_after(_EPOCH)
        return instant if instant is not None else None
    if schedule.kind is ScheduleKind.CONTINUOUS:
        return now
    return timetable.next_after(now)


def continuous_spacing(schedule: Schedule, *, default: timedelta) -> timedelta:
    """The least time between two starts of a continuous schedule."""
    return timedelta(minutes=schedule.every_minutes) if schedule.every_minutes else default


def validate_schedule(schedule: Schedule, *, now: datetime) -> Timetable:
    """The schedule's timetable, after checking that a clock-driven schedule fires at least once more."""
    timetable = compile_schedule(schedule, configured_at=now)
    clock_driven = schedule.kind not in (ScheduleKind.MANUAL, ScheduleKind.CONTINUOUS, ScheduleKind.ONCE)
    if clock_driven and timetable.next_after(now) is None:
        raise InvalidScheduleError(
            schedule_id=schedule.schedule_id,
            kind=schedule.kind,
            problem=f"[{schedule.expression}] never fires after {now.isoformat()}",
        )
    return timetable


def validate_schedules(schedules: Sequence[Schedule], *, now: datetime) -> None:
    """Check a sync's schedules: each valid, ids unique. Raises `InvalidScheduleError` or `InvalidError`."""
    seen: set[str] = set()
    for schedule in schedules:
        if schedule.schedule_id in seen:
            raise InvalidError(f"schedule id [{schedule.schedule_id}] appears more than once")
        seen.add(schedule.schedule_id)
        validate_schedule(schedule, now=now)


def validate_retry_policy(policy: RetryPolicy) -> None:
    """Check a retry policy's numbers. Raises `InvalidError`."""
    if policy.max_attempts < 1:
        raise InvalidError(f"max_attempts [{policy.max_attempts}] must be at least 1")
    if policy.base_delay_s < 0 or policy.max_delay_s < 0:
        raise InvalidError("retry delays must not be negative")
    if policy.deactivate_after_failures < 1:
        raise InvalidError(f"deactivate_after_failures [{policy.deactivate_after_failures}] must be at least 1")
