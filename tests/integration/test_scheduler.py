"""The scheduler in-process over real Kafka and PostgreSQL, with a clock the test moves: each schedule kind's
fire times, no overlap, one catch-up run after a stop, retries with capped backoff and deactivation, continuous
schedules, the sweep (silent runs, unclaimed runs), cancelling a pending run, and deleting the runs of a deleted
sync or connector (answered by `SyncRunsDeleted`, caused by the deletion, which the gateway waits for)."""

from datetime import datetime, timedelta

import pytest
from tests.integration.test_scheduler_harness import (
    T0,
    Harness,
    add_connectors,
    harness_fixture,  # noqa: F401 - a fixture, used by name
    of_type,
    scheduler_db_fixture,  # noqa: F401 - a fixture, used by name
    wait_for,
)

from syncline_contracts.connectors import ConnectorDeleted
from syncline_contracts.runs import CancelRun
from syncline_contracts.schedules import RetryPolicy, Schedule, ScheduleKind
from syncline_contracts.status import JobType
from syncline_contracts.syncs import BulkSyncDeleted
from syncline_contracts.topics import CONNECTOR_EVENTS, RUN_COMMANDS, RUN_EVENTS, RUN_REQUESTS, SYNC_EVENTS

pytestmark = pytest.mark.integration


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# kind → (schedule, first fire, the one after)
KINDS: dict[str, tuple[Schedule, datetime | None, datetime | None]] = {
    "manual": (Schedule(kind=ScheduleKind.MANUAL), None, None),
    "continuous": (Schedule(kind=ScheduleKind.CONTINUOUS), T0, None),
    "interval": (
        Schedule(kind=ScheduleKind.INTERVAL, every_minutes=7),
        at("2031-01-15T10:27:30Z"),
        at("2031-01-15T10:34:30Z"),
    ),
    "hourly": (Schedule(kind=ScheduleKind.HOURLY, minute="45"), at("2031-01-15T10:45:00Z"), at("2031-01-15T11:45:00Z")),
    "daily": (
        Schedule(kind=ScheduleKind.DAILY, hour="05", minute="00"),
        at("2031-01-16T05:00:00Z"),
        at("2031-01-17T05:00:00Z"),
    ),
    "weekly": (
        Schedule(kind=ScheduleKind.WEEKLY, day_of_week="Friday", hour="6", minute="30"),
        at("2031-01-17T06:30:00Z"),
        at("2031-01-24T06:30:00Z"),
    ),
    "monthly": (
        Schedule(kind=ScheduleKind.MONTHLY, day_of_month="31", hour="23", minute="59"),
        at("2031-01-31T23:59:00Z"),
        at("2031-02-28T23:59:00Z"),
    ),
    "cron5": (
        Schedule(kind=ScheduleKind.CRON5, expression="*/15 * * * *"),
        at("2031-01-15T10:30:00Z"),
        at("2031-01-15T10:45:00Z"),
    ),
    "quartz": (
        Schedule(kind=ScheduleKind.QUARTZ, expression="0 0 12 ? * 2-6", job_type=JobType.INCREMENTAL),
        at("2031-01-15T12:00:00Z"),
        at("2031-01-16T12:00:00Z"),
    ),
    "aws_rate": (
        Schedule(kind=ScheduleKind.AWS_RATE, expression="rate(2 hours)", first_execution_from="2031-01-15T11:00:00Z"),
        at("2031-01-15T11:00:00Z"),
        at("2031-01-15T13:00:00Z"),
    ),
    "eventbridge": (
        Schedule(kind=ScheduleKind.EVENTBRIDGE, expression="cron(0 18 ? * WED *)"),
        at("2031-01-15T18:00:00Z"),
        at("2031-01-22T18:00:00Z"),
    ),
    "once": (Schedule(kind=ScheduleKind.ONCE, start_at=1926240600000), at("2031-01-15T10:50:00Z"), None),
}


async def test_every_kind_fires_at_its_times_once(harness: Harness) -> None:
    h = harness
    await add_connectors(h.dsn, list(KINDS))
    for sync_id, (schedule, _, _) in KINDS.items():
        await h.configure(sync_id, schedule)
    for sync_id, (_, first, _) in KINDS.items():
        if sync_id != "continuous":  # a continuous schedule fires at once, so its next time is already cleared
            assert (await h.schedule(sync_id))["next_fire_at"] == first, sync_id

    for due in sorted({first for _, first, _ in KINDS.values() if first is not None}):
        h.clock.set(due)
        for sync_id, (schedule, first, following) in KINDS.items():
            if first != due:
                continue
            [run] = await h.wait_runs(sync_id, 1)
            assert (run["due_at"], run["trigger_method"], run["job_type"]) == (due, "scheduled", schedule.job_type)
            assert run["status"] == "pending"
            assert run["catch_up"] is False
            stored = await h.schedule(sync_id)
            assert (stored["next_fire_at"], stored["last_due_at"], stored["last_run_id"]) == (following, due, run["id"])

    fired = {sync_id: await h.runs(sync_id) for sync_id in KINDS}
    assert {s: len(r) for s, r in fired.items()} == {s: 0 if s == "manual" else 1 for s in KINDS}
    run_ids = {r[0]["id"] for r in fired.values() if r}
    events = await h.events(RUN_EVENTS, until=lambda bs: len(of_type(bs, "syncline.schedule.fired")) >= 11)
    fired_events = of_type(events, "syncline.schedule.fired")
    assert {e["run_id"] for e in fired_events} == run_ids
    assert all(e["catch_up"] is False and e["missed_ticks"] == 0 for e in fired_events)
    created = [e for e in of_type(events, "syncline.run.created") if e["run_id"] in run_ids]
    assert {e["trigger_method"] for e in created} == {"scheduled"}
    assert len(created) == 11
    # the run's created event and request belong to the fire's chain
    first_fire = fired_events[0]
    chained = [e for e in created if e["run_id"] == first_fire["run_id"]]
    assert chained[0]["_ce"]["correlation_id"] == first_fire["_ce"]["correlation_id"]
    assert chained[0]["_ce"]["causation_id"] == first_fire["_ce"]["ce_id"]
    assert chained[0]["_ce"]["org_id"] == "org-sched"
    requests = await h.events(RUN_REQUESTS, until=lambda bs: {b["run_id"] for b in bs} >= run_ids)
    assert {r["run_id"] for r in requests} == run_ids  # (unclaimed runs are requested again as the clock jumps)


async def test_a_tick_while_a_run_is_active_is_skipped_and_recorded(harness: Harness) -> None:
    h = harness
    await add_connectors(h.dsn, ["ov"])
    await h.configure("ov", Schedule(kind=ScheduleKind.INTERVAL, every_minutes=1))
    h.clock.set(T0 + timedelta(minutes=1))
    [first] = await h.wait_runs("ov", 1)

    h.clock.set(T0 + timedelta(minutes=2))
    skipped = await wait_for(
        lambda: h.rows("SELECT * FROM scheduler.ticks WHERE sync_id = 'ov' AND outcome = 'skipped'")
    )
    assert [(t["due_at"], t["reason"], t["run_id"]) for t in skipped] == [
        (T0 + timedelta(minutes=2), "run_active", None)
    ]
    assert len(await h.runs("ov")) == 1
    assert (await h.schedule("ov"))["next_fire_at"] == T0 + timedelta(minutes=3)
    events = await h.events(SYNC_EVENTS, until=lambda bs: bool(of_type(bs, "syncline.schedule.skipped")))
    [event] = of_type(events, "syncline.schedule.skipped")
    assert (event["sync_id"], event["schedule_id"], event["reason"]) == ("ov", "default", "run_active")
    assert event["active_run_id"] == first["id"]
    assert at(event["next_fire_at"]) == T0 + timedelta(minutes=3)

    await h.finish(first)
    h.clock.set(T0 + timedelta(minutes=3))
    runs = await h.wait_runs("ov", 2)
    assert runs[1]["due_at"] == T0 + timedelta(minutes=3)
    ticks = await h.rows("SELECT outcome FROM scheduler.ticks WHERE sync_id = 'ov' ORDER BY due_at")
    assert [t["outcome"] for t in ticks] == ["fired", "skipped", "fired"]


async def test_missed_ticks_after_a_stop_make_one_catch_up_run(harness: Harness) -> None:
    h = harness
    await add_connectors(h.dsn, ["cu", "cu-busy"])
    await h.configure("cu", Schedule(kind=ScheduleKind.HOURLY, minute="0"))
    await h.configure("cu-busy", Schedule(kind=ScheduleKind.CRON5, expression="30 * * * *"))
    h.clock.set(T0 + timedelta(minutes=10))  # 10:30:30: cu-busy fires, and its run stays pending
    await h.wait_runs("cu-busy", 1)
    await h.stop()

    h.clock.set(T0 + timedelta(hours=5))  # 15:20:30: five hours of downtime
    await h.start()
    [run] = await h.wait_runs("cu", 1)
    await h.tick_to(h.clock())
    assert len(await h.runs("cu")) == 1  # one run, not a burst
    assert (run["due_at"], run["catch_up"]) == (at("2031-01-15T11:00:00Z"), True)
    stored = await h.schedule("cu")
    assert stored["next_fire_at"] == at("2031-01-15T16:00:00Z")
    [tick] = await h.rows("SELECT * FROM scheduler.ticks WHERE sync_id = 'cu'")
    assert (tick["outcome"], tick["catch_up"], tick["missed_ticks"], tick["run_id"]) == ("fired", True, 4, run["id"])
    events = await h.events(RUN_EVENTS, until=lambda bs: any(b.get("run_id") == run["id"] for b in bs))
    [fired] = [e for e in of_type(events, "syncline.schedule.fired") if e["run_id"] == run["id"]]
    assert (fired["catch_up"], fired["missed_ticks"]) == (True, 4)

    # the busy sync's missed ticks are one skipped tick, not five
    busy = await h.rows("SELECT * FROM scheduler.ticks WHERE sync_id = 'cu-busy' ORDER BY due_at")
    assert [(t["outcome"], t["catch_up"], t["missed_ticks"]) for t in busy] == [
        ("fired", False, 0),
        ("skipped", True, 3),
    ]
    assert len(await h.runs("cu-busy")) == 1


async def test_failed_runs_retry_with_capped_backoff_then_the_sync_is_deactivated(harness: Harness) -> None:
    h = harness
    policy = RetryPolicy(max_attempts=3, base_delay_s=30, max_delay_s=45, deactivate_after_failures=4)
    await add_connectors(h.dsn, ["rt"])
    await h.configure("rt", Schedule(kind=ScheduleKind.INTERVAL, every_minutes=10), retry=policy)

    failed_at = h.clock.advance(minutes=10)
    [first] = await h.wait_runs("rt", 1)
    await h.finish(first, status="error", error="source unreachable")
    retry = await wait_for(lambda: h.rows("SELECT * FROM scheduler.retries"))
    assert [(r["failed_run_id"], r["attempt"], r["due_at"]) for r in retry] == [
        (first["id"], 2, failed_at + timedelta(seconds=30))
    ]
    await h.tick_to(failed_at + timedelta(seconds=29))
    assert len(await h.runs("rt")) == 1  # not before the backoff is over

    failed_at = h.clock.advance(seconds=1)
    second = (await h.wait_runs("rt", 2))[1]
    assert (second["attempt"], second["retry_of"], second["trigger_method"]) == (2, first["id"], "scheduled")
    await h.finish(second, status="error")
    h.clock.set(failed_at + timedelta(seconds=44))
    await h.tick_to(h.clock())
    assert len(await h.runs("rt")) == 2
    h.clock.set(failed_at + timedelta(seconds=45))  # 30 s doubled is 60 s, capped at 45 s
    third = (await h.wait_runs("rt", 3))[2]
    assert (third["attempt"], third["retry_of"]) == (3, second["id"])
    await h.finish(third, status="error")
    await h.tick_to(h.clock.advance(minutes=5))
    assert len(await h.runs("rt")) == 3  # three attempts: no fourth
    assert await h.val("SELECT count(*) FROM scheduler.retries") == 0

    h.clock.set(T0 + timedelta(minutes=20))  # the next tick: a new first attempt
    fourth = (await h.wait_runs("rt", 4))[3]
    assert fourth["attempt"] == 1
    await h.finish(fourth, status="error", error="still unreachable")
    sync = await wait_for(lambda: h.rows("SELECT * FROM scheduler.syncs WHERE NOT active"))
    assert sync[0]["consecutive_failures"] == 4
    assert (await h.schedule("rt"))["next_fire_at"] is None
    await h.tick_to(T0 + timedelta(minutes=40))
    assert len(await h.runs("rt")) == 4  # deactivated: nothing fires, nothing retries

    run_events = await h.events(RUN_EVENTS, until=lambda bs: len(of_type(bs, "syncline.run.retry_scheduled")) >= 2)
    retries = sorted(of_type(run_events, "syncline.run.retry_scheduled"), key=lambda r: r["attempt"])
    assert [(r["run_id"], r["attempt"], r["delay_s"]) for r in retries] == [
        (first["id"], 2, 30.0),
        (second["id"], 3, 45.0),
    ]
    sync_events = await h.events(SYNC_EVENTS, until=lambda bs: bool(of_type(bs, "syncline.sync.deactivated")))
    kinds = [b["type"] for b in sync_events if b["type"].startswith("syncline.sync.deactivat")]
    assert kinds == ["syncline.sync.deactivation_warned", "syncline.sync.deactivated"]  # the warning first
    warned, deactivated = (b for b in sync_events if b["type"] in kinds)
    assert (warned["consecutive_failures"], warned["deactivate_after_failures"]) == (2, 4)
    assert deactivated["consecutive_failures"] == 4
    assert "still unreachable" in deactivated["reason"]

    await h.configure("rt", Schedule(kind=ScheduleKind.INTERVAL, every_minutes=10), retry=policy)  # switched on again
    [sync_row] = await h.rows("SELECT * FROM scheduler.syncs")
    assert (sync_row["active"], sync_row["consecutive_failures"]) == (True, 0)
    assert (await h.schedule("rt"))["next_fire_at"] == h.clock() + timedelta(minutes=10)


async def test_a_continuous_schedule_runs_again_when_its_run_ended_at_most_every_interval(harness: Harness) -> None:
    h = harness
    await add_connectors(h.dsn, ["ct"])
    await h.configure("ct", Schedule(kind=ScheduleKind.CONTINUOUS))  # spacing: the 300 s default
    [first] = await h.wait_runs("ct", 1)
    assert first["due_at"] == T0
    h.clock.advance(minutes=1)
    await h.finish(first)
    stored = await wait_for(lambda: h.rows("SELECT * FROM scheduler.schedules WHERE next_fire_at IS NOT NULL"))
    assert stored[0]["next_fire_at"] == T0 + timedelta(minutes=5)  # not before 5 minutes after the last start
    await h.tick_to(T0 + timedelta(minutes=4, seconds=59))
    assert len(await h.runs("ct")) == 1

    h.clock.set(T0 + timedelta(minutes=5))
    second = (await h.wait_runs("ct", 2))[1]
    h.clock.set(T0 + timedelta(minutes=17))  # a long run: the next starts as soon as it ends
    await h.finish(second, status="error")
    third = (await h.wait_runs("ct", 3))[2]
    assert third["due_at"] == T0 + timedelta(minutes=17)


async def test_the_sweep_ends_silent_runs_and_requests_unclaimed_ones_again(harness: Harness) -> None:
    h = harness
    await add_connectors(h.dsn, ["sw", "idle"])
    await h.configure("sw", Schedule(kind=ScheduleKind.ONCE, start_at=T0.isoformat()))
    await h.configure("idle", Schedule(kind=ScheduleKind.ONCE, start_at=T0.isoformat()))
    [run] = await h.wait_runs("sw", 1)
    [idle] = await h.wait_runs("idle", 1)
    await h.val(
        "UPDATE scheduler.runs SET status = 'in_progress', worker_hostname = 'w-1', last_seen = $2, rows_read = 7"
        " WHERE id = $1",
        run["id"],
        T0,
    )
    h.clock.advance(seconds=299)
    await h.tick_to(h.clock())
    assert (await h.runs("sw"))[0]["status"] == "in_progress"

    h.clock.advance(seconds=2)
    reaped = await wait_for(lambda: h.rows("SELECT * FROM scheduler.runs WHERE status = 'error'"))
    assert reaped[0]["error"] == "no check-in from worker w-1 since 2031-01-15T10:20:30Z"
    assert reaped[0]["rows_read"] == 7
    events = await h.events(RUN_EVENTS, until=lambda bs: bool(of_type(bs, "syncline.run.retry_scheduled")))
    [failed] = of_type(events, "syncline.run.failed")
    assert (failed["run_id"], failed["error"], failed["counters"]["rows_read"]) == (run["id"], reaped[0]["error"], 7)
    [retry] = of_type(events, "syncline.run.retry_scheduled")
    assert (retry["run_id"], retry["attempt"], retry["delay_s"]) == (run["id"], 2, 30.0)  # the default policy

    # the idle run was never claimed: after 60 s it is requested again, as a new message
    requests = await h.events(
        RUN_REQUESTS, until=lambda bs: sum(b["run_id"] == idle["id"] for b in bs) >= 2, timeout_s=10
    )
    mine = [b for b in requests if b["run_id"] == idle["id"]]
    assert len(mine) == 2
    assert mine[0]["_ce"]["ce_id"] != mine[1]["_ce"]["ce_id"]


async def test_cancelling_a_pending_run_ends_it_at_once(harness: Harness) -> None:
    h = harness
    await add_connectors(h.dsn, ["cx"])
    await h.configure("cx", Schedule(kind=ScheduleKind.ONCE, start_at=T0.isoformat()))
    [run] = await h.wait_runs("cx", 1)
    await h.send(RUN_COMMANDS, CancelRun(run_id=run["id"]))
    canceled = await wait_for(lambda: h.rows("SELECT * FROM scheduler.runs WHERE status = 'canceled'"))
    assert canceled[0]["canceled_at"] == T0
    events = await h.events(RUN_EVENTS, until=lambda bs: bool(of_type(bs, "syncline.run.canceled")))
    assert [e["run_id"] for e in of_type(events, "syncline.run.canceled")] == [run["id"]]


async def test_a_schedule_that_slipped_past_validation_never_fires_and_says_why(harness: Harness) -> None:
    h = harness
    await add_connectors(h.dsn, ["bad"])
    await h.configure(
        "bad",
        Schedule(schedule_id="full", kind=ScheduleKind.QUARTZ, expression="0 0 * * *"),
        Schedule(schedule_id="incremental", kind=ScheduleKind.HOURLY, minute="5", job_type=JobType.INCREMENTAL),
    )
    broken = await h.schedule("bad", "full")
    assert broken["next_fire_at"] is None
    assert "6 or 7" in broken["error"]
    assert (await h.schedule("bad", "incremental"))["next_fire_at"] == at("2031-01-15T11:05:00Z")


async def test_deleting_a_sync_or_a_connector_deletes_its_runs_and_says_so(harness: Harness) -> None:
    h = harness
    await add_connectors(h.dsn, ["gone-sync", "gone-connector"])
    for sync_id in ("gone-sync", "gone-connector"):
        await h.configure(sync_id, Schedule(kind=ScheduleKind.ONCE, start_at=T0.isoformat()))
    [finished] = await h.wait_runs("gone-sync", 1)
    await h.finish(finished)
    await h.wait_runs("gone-connector", 1)  # pending

    sync_deleted = await h.send(SYNC_EVENTS, BulkSyncDeleted(sync_id="gone-sync"))
    connector_deleted = await h.send(
        CONNECTOR_EVENTS, ConnectorDeleted(connector_id="gone-connector", delete_sync_jobs=True)
    )
    events = await h.events(SYNC_EVENTS, until=lambda bs: len(of_type(bs, "syncline.sync.runs_deleted")) == 2)
    answers = {e["_ce"]["causation_id"]: e for e in of_type(events, "syncline.sync.runs_deleted")}
    assert (answers[sync_deleted.ce_id]["sync_id"], answers[sync_deleted.ce_id]["deleted"]) == ("gone-sync", 1)
    assert answers[connector_deleted.ce_id]["sync_id"] == "gone-connector"
    assert answers[connector_deleted.ce_id]["deleted"] == 1
    assert await h.runs("gone-sync") == []
    assert await h.runs("gone-connector") == []
