"""Cancelling one object of a run through the scheduler, over real Kafka and PostgreSQL: the object joins the run's
`canceled_objects` (once) and `RunObjectCancelRequested` is published; a finished run rejects the command with
`illegal_transition`, an unknown one with `not_found`."""

from typing import Any

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

from syncline_contracts.runs import CancelRunObject
from syncline_contracts.schedules import Schedule, ScheduleKind
from syncline_contracts.topics import RUN_COMMANDS, RUN_EVENTS

pytestmark = pytest.mark.integration

REQUESTED = "syncline.run.object_cancel_requested"
REJECTED = "syncline.command.rejected"


async def pending_run(h: Harness, sync_id: str) -> dict[str, Any]:
    """A run of a new sync, fired at once and left pending (no executor here)."""
    await add_connectors(h.dsn, [sync_id])
    await h.configure(sync_id, Schedule(kind=ScheduleKind.ONCE, start_at=T0.isoformat()))
    [run] = await h.wait_runs(sync_id, 1)
    assert run["status"] == "pending"
    assert run["canceled_objects"] == []
    return run


async def handled(h: Harness, message: CancelRunObject) -> None:
    """Send a run command and wait until the scheduler has handled it."""
    envelope = await h.send(RUN_COMMANDS, message)
    await wait_for(lambda: h.val("SELECT 1 FROM scheduler.inbox WHERE message_id = $1", envelope.ce_id))


async def canceled_objects(h: Harness, run_id: str) -> list[str]:
    objects: list[str] = await h.val("SELECT canceled_objects FROM scheduler.runs WHERE id = $1", run_id)
    return objects


async def test_an_object_of_a_pending_run_is_recorded_once_and_announced(harness: Harness) -> None:
    h = harness
    run = await pending_run(h, "co")
    await handled(h, CancelRunObject(run_id=run["id"], object="public.orders"))
    assert await canceled_objects(h, run["id"]) == ["public.orders"]

    await handled(h, CancelRunObject(run_id=run["id"], object="public.orders"))  # again: stored once
    await handled(h, CancelRunObject(run_id=run["id"], object="public.customers"))
    assert await canceled_objects(h, run["id"]) == ["public.orders", "public.customers"]
    [stored] = await h.runs("co")
    assert stored["status"] == "pending"  # the run itself goes on

    events = await h.events(RUN_EVENTS, until=lambda bs: len(of_type(bs, REQUESTED)) >= 3)
    requested = of_type(events, REQUESTED)
    assert [(e["run_id"], e["sync_id"], e["object"]) for e in requested] == [
        (run["id"], "co", "public.orders"),
        (run["id"], "co", "public.orders"),  # a repeated request is answered, not rejected
        (run["id"], "co", "public.customers"),
    ]
    assert requested[0]["_ce"]["org_id"] == "org-sched"
    assert not of_type(events, REJECTED)


async def test_an_object_of_a_running_run_is_recorded(harness: Harness) -> None:
    h = harness
    run = await pending_run(h, "cr")
    await h.val("UPDATE scheduler.runs SET status = 'in_progress', last_seen = $2 WHERE id = $1", run["id"], T0)
    await handled(h, CancelRunObject(run_id=run["id"], object="orders"))
    assert await canceled_objects(h, run["id"]) == ["orders"]
    events = await h.events(RUN_EVENTS, until=lambda bs: bool(of_type(bs, REQUESTED)))
    assert [e["object"] for e in of_type(events, REQUESTED)] == ["orders"]
    assert (await h.runs("cr"))[0]["status"] == "in_progress"


async def test_a_finished_or_unknown_run_rejects_the_command(harness: Harness) -> None:
    h = harness
    run = await pending_run(h, "cf")
    await h.finish(run)
    finished = await h.send(RUN_COMMANDS, CancelRunObject(run_id=run["id"], object="public.orders"))
    unknown = await h.send(RUN_COMMANDS, CancelRunObject(run_id="no-such-run", object="public.orders"))

    events = await h.events(RUN_EVENTS, until=lambda bs: len(of_type(bs, REJECTED)) >= 2)
    by_command = {e["command_id"]: e for e in of_type(events, REJECTED)}
    rejected = by_command[finished.ce_id]
    assert (rejected["code"], rejected["aggregate_id"]) == ("illegal_transition", run["id"])
    assert rejected["command_type"] == "syncline.run.cancel_object"
    assert "completed" in rejected["reason"]
    assert (by_command[unknown.ce_id]["code"], by_command[unknown.ce_id]["aggregate_id"]) == (
        "not_found",
        "no-such-run",
    )
    assert await canceled_objects(h, run["id"]) == []
    assert not of_type(events, REQUESTED)
