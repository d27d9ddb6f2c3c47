"""Fire times of every schedule kind, and the messages that reject schedules that cannot fire."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from syncline_contracts.schedules import RetryPolicy, Schedule, ScheduleKind
from syncline_platform.errors import InvalidError
from syncline_platform.schedules import (
    InvalidScheduleError,
    aws_kind,
    compile_schedule,
    continuous_spacing,
    count_missed,
    first_fire,
    parse_instant,
    parse_rate,
    retry_delay,
    validate_retry_policy,
    validate_schedule,
    validate_schedules,
    warning_threshold,
)

NOW = datetime(2031, 1, 15, 10, 20, 30, tzinfo=UTC)  # a Wednesday


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def fires(schedule: Schedule, *, now: datetime = NOW, count: int = 3) -> list[datetime | None]:
    """The first fire time of a schedule configured at `now`, and the ones after it."""
    timetable = validate_schedule(schedule, now=now)
    times = [first_fire(schedule, timetable, now=now)]
    while len(times) < count and times[-1] is not None:
        times.append(timetable.next_after(times[-1]))
    return times


CASES: list[tuple[dict[str, Any], list[str | None]]] = [
    ({"kind": "manual"}, [None]),
    ({"kind": "interval", "every_minutes": 90}, ["2031-01-15T11:50:30Z", "2031-01-15T13:20:30Z"]),
    (
        {"kind": "interval", "every_minutes": 60, "first_execution_from": 1926237600000},  # 10:00: the grid's anchor
        ["2031-01-15T11:00:00Z", "2031-01-15T12:00:00Z", "2031-01-15T13:00:00Z"],
    ),
    ({"kind": "hourly", "minute": "45"}, ["2031-01-15T10:45:00Z", "2031-01-15T11:45:00Z", "2031-01-15T12:45:00Z"]),
    ({"kind": "hourly"}, ["2031-01-15T11:00:00Z", "2031-01-15T12:00:00Z", "2031-01-15T13:00:00Z"]),
    ({"kind": "daily", "hour": "05", "minute": "00"}, ["2031-01-16T05:00:00Z", "2031-01-17T05:00:00Z"]),
    ({"kind": "daily", "hour": "23", "minute": "5"}, ["2031-01-15T23:05:00Z", "2031-01-16T23:05:00Z"]),
    ({"kind": "weekly", "day_of_week": "wednesday", "hour": "10", "minute": "20"}, ["2031-01-22T10:20:00Z"]),
    ({"kind": "weekly", "day_of_week": "Monday", "hour": "0"}, ["2031-01-20T00:00:00Z", "2031-01-27T00:00:00Z"]),
    ({"kind": "weekly", "day_of_week": "SUN", "hour": "8"}, ["2031-01-19T08:00:00Z"]),
    ({"kind": "weekly", "day_of_week": "7", "hour": "8"}, ["2031-01-19T08:00:00Z"]),
    (
        {"kind": "monthly", "day_of_month": "31", "hour": "6", "minute": "15"},
        ["2031-01-31T06:15:00Z", "2031-02-28T06:15:00Z", "2031-03-31T06:15:00Z"],  # the last day of short months
    ),
    ({"kind": "monthly", "day_of_month": "15", "hour": "10"}, ["2031-02-15T10:00:00Z", "2031-03-15T10:00:00Z"]),
    ({"kind": "cron5", "expression": "*/15 9-17 * * 1-5"}, ["2031-01-15T10:30:00Z", "2031-01-15T10:45:00Z"]),
    ({"kind": "cron5", "expression": "0 0 * * sat,sun"}, ["2031-01-18T00:00:00Z", "2031-01-19T00:00:00Z"]),
    ({"kind": "cron5", "expression": "@daily"}, ["2031-01-16T00:00:00Z"]),
    ({"kind": "quartz", "expression": "0 0 * * * ?"}, ["2031-01-15T11:00:00Z", "2031-01-15T12:00:00Z"]),
    ({"kind": "quartz", "expression": "0 0 0 * * ?"}, ["2031-01-16T00:00:00Z", "2031-01-17T00:00:00Z"]),
    ({"kind": "quartz", "expression": "30 */10 * * * ?"}, ["2031-01-15T10:30:30Z", "2031-01-15T10:40:30Z"]),
    ({"kind": "quartz", "expression": "0 0 12 ? * 1"}, ["2031-01-19T12:00:00Z", "2031-01-26T12:00:00Z"]),  # Sun
    ({"kind": "quartz", "expression": "0 0 12 ? * 2-6"}, ["2031-01-15T12:00:00Z", "2031-01-16T12:00:00Z"]),
    ({"kind": "quartz", "expression": "0 0 12 ? * MON-FRI"}, ["2031-01-15T12:00:00Z", "2031-01-16T12:00:00Z"]),
    ({"kind": "quartz", "expression": "0 0 12 ? * 6L"}, ["2031-01-31T12:00:00Z", "2031-02-28T12:00:00Z"]),
    ({"kind": "quartz", "expression": "0 0 12 ? * 2#1"}, ["2031-02-03T12:00:00Z", "2031-03-03T12:00:00Z"]),
    ({"kind": "quartz", "expression": "0 0 12 L * ?"}, ["2031-01-31T12:00:00Z", "2031-02-28T12:00:00Z"]),
    ({"kind": "quartz", "expression": "0 0 12 1 1 ? 2032"}, ["2032-01-01T12:00:00Z"]),
    ({"kind": "aws_rate", "expression": "rate(5 minutes)"}, ["2031-01-15T10:25:30Z", "2031-01-15T10:30:30Z"]),
    ({"kind": "aws_rate", "expression": "rate(1 day)"}, ["2031-01-16T10:20:30Z", "2031-01-17T10:20:30Z"]),
    (
        {"kind": "aws_rate", "expression": "rate(1 hour)", "first_execution_from": "2031-02-01T00:00:00Z"},
        ["2031-02-01T00:00:00Z", "2031-02-01T01:00:00Z"],
    ),
    ({"kind": "eventbridge", "expression": "cron(0 12 * * ? *)"}, ["2031-01-15T12:00:00Z", "2031-01-16T12:00:00Z"]),
    ({"kind": "eventbridge", "expression": "cron(0/30 8-9 ? * 2 *)"}, ["2031-01-20T08:00:00Z", "2031-01-20T08:30:00Z"]),
    ({"kind": "eventbridge", "expression": "cron(15 10 ? * 6L 2031-2032)"}, ["2031-01-31T10:15:00Z"]),
    ({"kind": "eventbridge", "expression": "cron(0 18 ? * WED *)"}, ["2031-01-15T18:00:00Z", "2031-01-22T18:00:00Z"]),
    ({"kind": "once", "start_at": 1926240600000}, ["2031-01-15T10:50:00Z", None]),
    ({"kind": "once", "start_at": "1926240600000"}, ["2031-01-15T10:50:00Z", None]),
    ({"kind": "once", "start_at": "2031-01-01T00:00:00+02:00"}, ["2030-12-31T22:00:00Z", None]),  # past: at once
    ({"kind": "continuous"}, ["2031-01-15T10:20:30Z", None]),
]


@pytest.mark.parametrize(("fields", "expected"), CASES, ids=lambda x: str(x) if isinstance(x, dict) else "")
def test_fire_times(fields: dict[str, Any], expected: list[str | None]) -> None:
    got = fires(Schedule.model_validate(fields), count=len(expected))
    assert got == [None if want is None else at(want) for want in expected]


def test_a_first_execution_instant_holds_back_cron_schedules() -> None:
    schedule = Schedule(kind=ScheduleKind.CRON5, expression="0 * * * *", first_execution_from="2031-01-15T13:30:00")
    assert fires(schedule) == [at("2031-01-15T14:00:00Z"), at("2031-01-15T15:00:00Z"), at("2031-01-15T16:00:00Z")]


def test_monthly_on_the_29th_fires_on_february_the_29th_in_leap_years() -> None:
    schedule = Schedule(kind=ScheduleKind.MONTHLY, day_of_month="29", hour="0")
    timetable = compile_schedule(schedule, configured_at=NOW)
    assert timetable.next_after(at("2032-02-01T00:00:00Z")) == at("2032-02-29T00:00:00Z")
    assert timetable.next_after(at("2031-02-01T00:00:00Z")) == at("2031-02-28T00:00:00Z")


def test_interval_times_stay_on_their_grid_whatever_the_instant_asked_about() -> None:
    timetable = compile_schedule(Schedule(kind=ScheduleKind.INTERVAL, every_minutes=10), configured_at=NOW)
    assert timetable.next_after(NOW + timedelta(minutes=10)) == NOW + timedelta(minutes=20)
    assert timetable.next_after(NOW + timedelta(minutes=10, microseconds=-1)) == NOW + timedelta(minutes=10)
    assert timetable.next_after(NOW + timedelta(days=3, seconds=1)) == NOW + timedelta(days=3, minutes=10)


INVALID: list[tuple[dict[str, Any], str]] = [
    ({"kind": "quartz", "expression": "0 0 * * *"}, "has 5 fields; a Quartz cron expression has 6 or 7"),
    ({"kind": "quartz", "expression": "0 0 12 * * *"}, "exactly one of day-of-month and day-of-week must be '?'"),
    ({"kind": "quartz", "expression": "0 0 12 ? * ?"}, "exactly one of day-of-month and day-of-week must be '?'"),
    ({"kind": "quartz", "expression": "0 0 25 ? * MON"}, "hours [25] is invalid: out of range"),
    ({"kind": "quartz", "expression": "0 0 12 ? * 8"}, "day-of-week [8] is out of range 1-7 (1 = Sunday)"),
    ({"kind": "quartz", "expression": "0 0 12 LW * ?"}, "day-of-month [LW] is invalid"),
    ({"kind": "quartz", "expression": "0 0 0 1 1 ? 2020"}, "never fires after"),
    ({"kind": "quartz"}, "expression is required"),
    ({"kind": "cron5", "expression": "0 0 * * * ?"}, "has 6 fields; a cron expression has 5"),
    ({"kind": "cron5", "expression": "61 * * * *"}, "minute [61] is invalid: out of range"),
    ({"kind": "cron5", "expression": "0 0 * * mon-xyz"}, "day-of-week [mon-xyz] is invalid"),
    ({"kind": "cron5", "expression": "*/0 * * * *"}, "minute [*/0] is invalid: the step must be a positive number"),
    ({"kind": "cron5", "expression": "H * * * *"}, "[H]: hashed and random values (H, R) are not supported"),
    ({"kind": "cron5", "expression": "0 0 30 2 *"}, "never fires after"),
    ({"kind": "eventbridge", "expression": "0 12 * * ? *"}, "is not cron(minutes hours day-of-month month"),
    ({"kind": "eventbridge", "expression": "cron(0 12 * * ?)"}, "has 5 fields inside cron(…); EventBridge needs 6"),
    ({"kind": "eventbridge", "expression": "cron(0 12 * * MON *)"}, "exactly one of day-of-month and day-of-week"),
    ({"kind": "aws_rate", "expression": "rate(2 weeks)"}, "is not rate(<number> minute(s)|hour(s)|day(s))"),
    ({"kind": "aws_rate", "expression": "rate(0 minutes)"}, "the rate must be at least 1"),
    ({"kind": "aws_rate", "expression": "cron(0 12 * * ? *)"}, "is not rate("),
    ({"kind": "interval"}, "every_minutes is required"),
    ({"kind": "interval", "every_minutes": 0}, "every_minutes [0] must be at least 1"),
    ({"kind": "continuous", "every_minutes": -5}, "every_minutes [-5] must be at least 1"),
    ({"kind": "hourly", "minute": "60"}, "minute [60] must be a whole number from 0 to 59"),
    ({"kind": "daily", "minute": "3"}, "hour is required"),
    ({"kind": "daily", "hour": "five"}, "hour [five] must be a whole number from 0 to 23"),
    ({"kind": "weekly", "hour": "5"}, "day_of_week is required"),
    ({"kind": "weekly", "hour": "5", "day_of_week": "someday"}, "day_of_week [someday] must be a day name"),
    ({"kind": "monthly", "hour": "5", "day_of_month": "0"}, "day_of_month [0] must be a whole number from 1 to 31"),
    ({"kind": "once"}, "start_at is required"),
    ({"kind": "once", "start_at": "tomorrow"}, "[tomorrow] is neither epoch milliseconds nor an ISO-8601 instant"),
    ({"kind": "hourly", "first_execution_from": "soon"}, "[soon] is neither epoch milliseconds nor an ISO-8601"),
]


@pytest.mark.parametrize(("fields", "message"), INVALID, ids=lambda x: str(x) if isinstance(x, dict) else "")
def test_invalid_schedules_are_rejected_with_a_message_that_says_why(fields: dict[str, Any], message: str) -> None:
    schedule = Schedule.model_validate({"schedule_id": "nightly", **fields})
    with pytest.raises(InvalidScheduleError) as caught:
        validate_schedule(schedule, now=NOW)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"schedule [nightly] ({schedule.kind}): ")
    assert caught.value.schedule_id == "nightly"
    assert isinstance(caught.value, InvalidError)  # policy answers it as an invalid command


def test_a_sync_cannot_have_two_schedules_with_one_id() -> None:
    schedules = [Schedule(kind=ScheduleKind.MANUAL), Schedule(kind=ScheduleKind.HOURLY)]
    with pytest.raises(InvalidError, match=r"schedule id \[default\] appears more than once"):
        validate_schedules(schedules, now=NOW)
    validate_schedules(
        [Schedule(kind=ScheduleKind.MANUAL), Schedule(schedule_id="b", kind=ScheduleKind.HOURLY)], now=NOW
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rate(5 minutes)", timedelta(minutes=5)),
        ("rate(5minutes)", timedelta(minutes=5)),
        ("rate (15 minutes)", timedelta(minutes=15)),
        ("rate(1 minute)", timedelta(minutes=1)),
        (" RATE( 2 HOURS ) ", timedelta(hours=2)),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(7 days)", timedelta(days=7)),
    ],
)
def test_aws_rates(text: str, expected: timedelta) -> None:
    assert parse_rate(text) == expected
    assert aws_kind(text) is ScheduleKind.AWS_RATE


def test_aws_expressions_are_told_apart() -> None:
    assert aws_kind("cron(0 12 * * ? *)") is ScheduleKind.EVENTBRIDGE
    assert aws_kind(" Cron (0 12 * * ? *)") is ScheduleKind.EVENTBRIDGE


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1926240600000, "2031-01-15T10:50:00Z"),
        ("1926240600000", "2031-01-15T10:50:00Z"),
        ("2031-01-15T10:50:00Z", "2031-01-15T10:50:00Z"),
        ("2031-01-15T10:50:00", "2031-01-15T10:50:00Z"),  # naive means UTC
        ("2031-01-15T12:50:00+02:00", "2031-01-15T10:50:00Z"),
        ("2031-01-15", "2031-01-15T00:00:00Z"),
    ],
)
def test_instants(value: int | str, expected: str) -> None:
    assert parse_instant(value) == at(expected)
    assert parse_instant(value).tzinfo is not None


def test_retry_delays_double_up_to_the_cap_and_stop_after_the_last_attempt() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay_s=30, max_delay_s=100)
    assert [retry_delay(policy, failed_attempt=n) for n in range(1, 6)] == [30.0, 60.0, 100.0, 100.0, None]
    default = RetryPolicy()
    assert (default.max_attempts, default.base_delay_s, default.max_delay_s) == (3, 30.0, 900.0)
    assert [retry_delay(default, failed_attempt=n) for n in (1, 2, 3)] == [30.0, 60.0, None]
    assert retry_delay(RetryPolicy(max_attempts=1), failed_attempt=1) is None


def test_the_deactivation_warning_comes_at_half_the_count() -> None:
    assert default_warning() == 10
    assert warning_threshold(RetryPolicy(deactivate_after_failures=5)) == 2
    assert warning_threshold(RetryPolicy(deactivate_after_failures=1)) == 1


def default_warning() -> int:
    return warning_threshold(RetryPolicy())


@pytest.mark.parametrize(
    "policy",
    [RetryPolicy(max_attempts=0), RetryPolicy(base_delay_s=-1), RetryPolicy(deactivate_after_failures=0)],
)
def test_invalid_retry_policies(policy: RetryPolicy) -> None:
    with pytest.raises(InvalidError):
        validate_retry_policy(policy)


def test_missed_ticks_are_counted_up_to_a_limit() -> None:
    hourly = compile_schedule(Schedule(kind=ScheduleKind.HOURLY), configured_at=NOW)
    due = at("2031-01-15T11:00:00Z")
    assert count_missed(hourly, due=due, now=due) == 0
    assert count_missed(hourly, due=due, now=at("2031-01-15T15:20:00Z")) == 4
    assert count_missed(hourly, due=due, now=at("2031-03-15T00:00:00Z"), limit=50) == 50
    once = compile_schedule(Schedule(kind=ScheduleKind.ONCE, start_at=1926240600000), configured_at=NOW)
    assert count_missed(once, due=at("2031-01-15T10:50:00Z"), now=at("2032-01-01T00:00:00Z")) == 0


def test_continuous_spacing() -> None:
    five = timedelta(minutes=5)
    assert continuous_spacing(Schedule(kind=ScheduleKind.CONTINUOUS), default=five) == five
    one = Schedule(kind=ScheduleKind.CONTINUOUS, every_minutes=1)
    assert continuous_spacing(one, default=five) == timedelta(minutes=1)
