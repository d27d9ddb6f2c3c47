"""Polytomic's schedule shapes: the three wire shapes read into one list, compiled to the scheduler's model and
validated with its code, and rendered back in each version's shape."""

from datetime import UTC, datetime
from typing import Any

import pytest
from polytomic.types import BulkSyncResponse

from syncline_contracts.schedules import ScheduleKind
from syncline_contracts.syncs import BulkSyncSchedule
from syncline_gateway.dialects.polytomic import rendering
from syncline_gateway.dialects.polytomic.models import BulkSyncIn
from syncline_gateway.errors import BadRequestError
from syncline_platform.errors import InvalidError
from syncline_policy.bulk_schedules import compile_schedule, compile_schedules

NOW = datetime(2026, 1, 1, tzinfo=UTC)
BASE = {
    "name": "s",
    "source_connection_id": "a",
    "destination_connection_id": "b",
    "destination_configuration": {},
}


def schedules_of(**shape: object) -> tuple[BulkSyncSchedule, ...]:
    return BulkSyncIn.model_validate(BASE | shape).compiled_schedules()


def test_the_three_shapes_compile_to_the_same_list() -> None:
    legacy = schedules_of(
        schedule={
            "frequency": "multi",
            "multi": {
                "schedules": [
                    {"item": "incrementalFields", "schedule": {"frequency": "continuous"}},
                    {"item": "nonincrementalFields", "schedule": {"frequency": "daily", "hour": "05", "minute": "00"}},
                ]
            },
        }
    )
    listed = schedules_of(
        schedules=[
            {"frequency": "continuous", "selective_mode": "incrementalFields"},
            {"frequency": "daily", "selective_mode": "nonincrementalFields", "hour": "05", "minute": "00"},
        ]
    )
    sdk = schedules_of(
        default_schedule={"frequency": "continuous", "selective_mode": "incrementalFields"},
        additional_schedules=[
            {"frequency": "daily", "selective_mode": "nonincrementalFields", "hour": "05", "minute": "00"}
        ],
    )
    for shape in (legacy, listed, sdk):
        assert [s.model_dump(exclude={"schedule_id"}) for s in shape] == [
            s.model_dump(exclude={"schedule_id"}) for s in legacy
        ]
        assert [s.is_default for s in shape] == [True, False]
    [numeric] = schedules_of(default_schedule={"frequency": "daily", "hour": 5, "minute": 0})
    assert (numeric.hour, numeric.minute) == ("5", "0")  # numbers are read as their text


def test_one_shape_only_and_one_is_required() -> None:
    with pytest.raises(BadRequestError, match="not schedule and default_schedule"):
        schedules_of(schedule={"frequency": "manual"}, default_schedule={"frequency": "manual"})
    with pytest.raises(BadRequestError, match="a schedule is required"):
        schedules_of()
    with pytest.raises(BadRequestError, match="needs a default_schedule"):
        schedules_of(additional_schedules=[{"frequency": "manual"}])
    with pytest.raises(BadRequestError, match=r"multi\.schedules"):
        schedules_of(schedule={"frequency": "multi"})


def test_camel_case_keys_of_the_schedules_api() -> None:
    [schedule] = schedules_of(
        default_schedule={"frequency": "weekly", "dayOfWeek": "Monday", "hour": "6", "selectiveMode": "none"}
    )
    assert (schedule.day_of_week, schedule.selective_mode) == ("Monday", "none")


@pytest.mark.parametrize(
    ("spec", "kind", "expression"),
    [
        ({"frequency": "manual"}, ScheduleKind.MANUAL, None),
        ({"frequency": "continuous"}, ScheduleKind.CONTINUOUS, None),
        ({"frequency": "hourly", "minute": "15"}, ScheduleKind.HOURLY, None),
        ({"frequency": "daily", "hour": "3", "minute": "0"}, ScheduleKind.DAILY, None),
        ({"frequency": "weekly", "day_of_week": "Sunday", "hour": "4"}, ScheduleKind.WEEKLY, None),
        ({"frequency": "monthly", "day_of_month": "31", "hour": "4"}, ScheduleKind.MONTHLY, None),
        ({"frequency": "custom", "minute": "*/15", "hour": "1-5"}, ScheduleKind.CRON5, "*/15 1-5 * * *"),
        (
            {"frequency": "builder", "minute": "0", "day_of_week": "monday,friday"},
            ScheduleKind.CRON5,
            "0 * * * mon,fri",
        ),
    ],
)
def test_every_bulk_frequency_compiles_and_validates(spec: dict[str, Any], kind: ScheduleKind, expression: str) -> None:
    schedule = BulkSyncSchedule(schedule_id="s1", is_default=True, **spec)
    [compiled] = compile_schedules([schedule], now=NOW)
    assert compiled.kind is kind
    assert compiled.expression == expression
    assert compiled.schedule_id == "s1"
    if kind is ScheduleKind.CONTINUOUS:
        assert compiled.every_minutes == 5


def test_schedule_scope_travels_to_the_scheduler() -> None:
    compiled = compile_schedule(
        BulkSyncSchedule(
            schedule_id="s",
            frequency="daily",
            hour="1",
            selective_mode="incrementalFields",
            sync_mode="resync",
            schemas=("public.users",),
        )
    )
    assert (compiled.selective_mode, compiled.resync_mode, compiled.schemas) == (
        "incrementalFields",
        "resync",
        ("public.users",),
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"frequency": "runafter"}, "model syncs only"),
        ({"frequency": "dbtcloud"}, "model syncs only"),
        ({"frequency": "multi"}, "several schedules"),
        ({"frequency": "fortnightly"}, "must be one of"),
        ({"frequency": "daily", "hour": "24"}, "hour"),
        ({"frequency": "hourly", "minute": "60"}, "minute"),
        ({"frequency": "weekly", "hour": "1", "day_of_week": "someday"}, "day_of_week"),
        ({"frequency": "custom", "minute": "61"}, "minute"),
        ({"frequency": "daily", "hour": "1", "selective_mode": "some"}, "selective_mode"),
        ({"frequency": "daily", "hour": "1", "sync_mode": "twice"}, "sync mode"),
    ],
)
def test_invalid_schedules_say_why(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidError, match=message):
        compile_schedules([BulkSyncSchedule(schedule_id="s", is_default=True, **spec)], now=NOW)


def test_exactly_one_default() -> None:
    two = [BulkSyncSchedule(schedule_id=i, is_default=True, frequency="manual") for i in ("a", "b")]
    with pytest.raises(InvalidError, match="exactly one default"):
        compile_schedules(two, now=NOW)


def _row(schedule_id: str, *, is_default: bool, **spec: object) -> dict[str, object]:
    return {
        "id": schedule_id,
        "is_default": is_default,
        "spec": spec,
        "created_at": NOW,
        "created_by": "SLKEY",
        "updated_at": NOW,
        "updated_by": "SLKEY",
    }


SYNC_ROW = {
    "id": "sync-1",
    "org_id": "org-1",
    "name": "n",
    "active": True,
    "mode": "replicate",
    "source_connection_id": "a",
    "destination_connection_id": "b",
    "source_configuration": {},
    "destination_configuration": {"schema": "raw"},
    "add_new_fields": "all",
    "add_new_objects": "none",
    "normalize_names": "enabled",
    "data_cutoff_timestamp": None,
    "disable_record_timestamps": False,
    "concurrency_limit": 4,
    "resync_concurrency_limit": None,
    "policies": [],
    "created_at": NOW,
    "created_by": "SLKEY",
    "updated_at": NOW,
    "updated_by": "SLKEY",
}


def test_each_version_answers_in_its_shape_and_the_sdk_parses_it() -> None:
    rows = [
        _row("d", is_default=True, frequency="daily", hour="3", minute="0"),
        _row(
            "w",
            is_default=False,
            frequency="weekly",
            day_of_week="sunday",
            hour="4",
            minute="30",
            selective_mode="incrementalFields",
            sync_mode="resync",
            schemas=["public.users"],
        ),
    ]
    legacy = rendering.bulk_sync(SYNC_ROW, rows, version="2024-02-08")
    assert "default_schedule" not in legacy
    assert legacy["schedule"]["frequency"] == "multi"
    assert [i["item"] for i in legacy["schedule"]["multi"]["schedules"]] == ["none", "incrementalFields"]
    assert rendering.bulk_sync(SYNC_ROW, rows[:1], version="2024-02-08")["schedule"]["hour"] == "3"

    current = rendering.bulk_sync(SYNC_ROW, rows, version="2025-09-18")
    assert [s["id"] for s in current["schedules"]] == ["d", "w"]
    parsed = BulkSyncResponse.model_validate(current)
    assert parsed.default_schedule is not None
    assert parsed.default_schedule.hour == "3"
    assert parsed.additional_schedules is not None
    assert parsed.additional_schedules[0].resync_mode == "resync"
    assert parsed.created_at == NOW
    BulkSyncResponse.model_validate(legacy)
