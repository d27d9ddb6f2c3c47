"""Identifiers that clients choose are scoped by organisation, through the whole system with the official SDKs:
two organisations (and two syncs of one) that each name a schedule `nightly` keep their own schedule, and an
Elastic connector whose id is another organisation's bulk-sync id keeps its jobs to itself: the bulk sync's
executions, statuses and events show none of them, and the connector's jobs none of the bulk sync's runs."""

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from elasticsearch import ConflictError, Elasticsearch, NotFoundError
from polytomic import BulkSyncDefaultScheduleRequest, Polytomic
from tests.e2e.polytomic_support import connections, create_sync, polytomic, run, seed, wait_for_policy
from tests.e2e.test_elastic_first_path import client, configure, wait_for_job
from tests.support.system import System

pytestmark = pytest.mark.e2e


def new_key(system: System, label: str) -> str:
    """The encoded key of a fresh organisation."""
    org = system.admin("create-org", label)
    return system.admin("create-key", "--org", org["id"])["encoded"]


@contextlib.contextmanager
def organisation(system: System, label: str) -> Iterator[Polytomic]:
    """The Polytomic SDK with a key of a fresh organisation."""
    with polytomic(system, token=new_key(system, label)) as sdk:
        wait_for_policy(sdk)
        yield sdk


def eventually(probe: Callable[[], Any], check: Callable[[Any], bool], *, timeout_s: float = 20.0) -> Any:
    """Poll `probe` until `check` holds on its answer (the scheduler follows configuration asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if check(found):
            return found
        assert time.monotonic() < deadline, f"never held: {found}"
        time.sleep(0.1)


def nightly(api: Polytomic, database: str, *, hour: str) -> str:
    """A bulk sync whose default schedule the client names `nightly`: daily at `hour`:00."""
    source, target = connections(api, database, database)
    schedule = BulkSyncDefaultScheduleRequest(id="nightly", frequency="daily", hour=hour, minute="0")
    return create_sync(api, source, target, ["public.customers"], default_schedule=schedule)


def assert_nightly(api: Polytomic, sync_id: str, *, hour: str) -> None:
    """The sync's only schedule is its own `nightly`, in the sync, its schedules and the scheduler's next time."""
    sync = api.bulk_sync.get(sync_id).data
    assert sync is not None
    assert sync.default_schedule is not None
    schedule = sync.default_schedule
    assert (schedule.id, schedule.frequency, schedule.hour, schedule.minute) == ("nightly", "daily", hour, "0")
    listed = api.bulk_sync.schedules.list(sync_id).data or []
    assert [(s.model_extra["id"], s.frequency, s.hour, s.is_default) for s in listed] == [
        ("nightly", "daily", hour, True)
    ]
    fetched = api.bulk_sync.schedules.get(sync_id, "nightly").data
    assert fetched is not None
    assert (fetched.frequency, fetched.hour, fetched.sync_id) == ("daily", hour, sync_id)
    status = eventually(
        lambda: api.bulk_sync.get_status(sync_id).data, lambda s: s is not None and s.next_execution_time is not None
    )
    assert (status.next_execution_time.hour, status.next_execution_time.minute) == (int(hour), 0)


async def test_schedule_ids_are_scoped_by_organisation_and_sync(system: System, source_db: tuple[str, str]) -> None:
    database, dsn = source_db
    await seed(dsn)
    with organisation(system, "nightly a") as first, organisation(system, "nightly b") as second:
        mine = nightly(first, database, hour="3")
        theirs = nightly(second, database, hour="5")
        also_mine = nightly(first, database, hour="7")  # the same id in another sync of the same organisation

        assert_nightly(first, mine, hour="3")
        assert_nightly(second, theirs, hour="5")
        assert_nightly(first, also_mine, hour="7")


def events_of(api: Polytomic) -> set[tuple[str, str]]:
    """The organisation's events: (type, execution id)."""
    return {(str(e.type), str(getattr(e.event, "execution_id", ""))) for e in api.events.list().data or []}


async def test_a_connector_named_after_another_organisations_bulk_sync_keeps_its_jobs(
    system: System, source_db: tuple[str, str]
) -> None:
    database, dsn = source_db
    await seed(dsn)
    es: Elasticsearch = client(system, key=new_key(system, "connector owner"))
    with organisation(system, "bulk sync owner") as owner:
        source, target = connections(owner, database, database)
        sync_id = create_sync(owner, source, target, ["public.customers"])

        configure(es, sync_id, database=database, index=f"tenant-{uuid.uuid4().hex[:8]}")
        job = await wait_for_job(es, es.connector.sync_job_post(id=sync_id)["id"], timeout_s=60)
        assert job["status"] == "completed", job["error"]

        # the bulk sync's owner sees none of the connector's jobs
        assert owner.bulk_sync.executions.list(sync_id).data == []
        status = owner.bulk_sync.get_status(sync_id).data
        assert status is not None
        assert (status.current_execution, status.last_execution) == (None, None)
        [summary] = owner.bulk_sync.executions.list_status(sync_id=[sync_id]).data or []
        assert summary.status is None
        assert [(s.schema_, s.execution_id) for s in summary.schemas or []] == [("public.customers", None)]

        # nor do its own runs mix with them, nor the connector's jobs with its runs
        execution = run(owner, sync_id)
        assert execution.status == "completed"
        assert [e.id for e in owner.bulk_sync.executions.list(sync_id).data or []] == [execution.id]
        last = owner.bulk_sync.get_status(sync_id).data
        assert last is not None
        assert last.last_execution is not None
        assert last.last_execution.id == execution.id
        [summary] = owner.bulk_sync.executions.list_status(sync_id=[sync_id]).data or []
        assert [s.execution_id for s in summary.schemas or []] == [execution.id]
        jobs = es.connector.sync_job_list(connector_id=sync_id)
        assert [j["id"] for j in jobs["results"]] == [job["id"]]
        assert es.connector.get(connector_id=sync_id)["last_sync_status"] == "completed"

        # its events (and so its webhook deliveries) are its own run's only; the connector's job ended before
        # the run started, so its run events were out well before the run's (they are keyed by run, so a
        # while of their absence is what can be checked)
        eventually(lambda: events_of(owner), lambda found: ("bulk_sync.completed", execution.id) in found)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            assert {run_id for _, run_id in events_of(owner)} == {execution.id}
            time.sleep(0.2)


async def test_a_connector_cannot_take_the_id_of_its_own_organisations_bulk_sync(
    system: System, source_db: tuple[str, str]
) -> None:
    """One organisation's syncs share one id space whatever their dialect: an Elastic connector (whose id the
    client chooses) named after the organisation's own bulk sync is refused, and the bulk sync keeps its spec."""
    database, dsn = source_db
    await seed(dsn)
    org = system.admin("create-org", "one id space")
    key = system.admin("create-key", "--org", org["id"])["encoded"]
    es: Elasticsearch = client(system, key=key)
    with polytomic(system, token=key) as api:
        wait_for_policy(api)
        source, target = connections(api, database, database)
        sync_id = create_sync(api, source, target, ["public.customers"])

        with pytest.raises(ConflictError) as refused:
            es.connector.put(connector_id=sync_id, name="taken", index_name="taken", service_type="postgresql")
        assert refused.value.meta.status == 409
        assert "already taken" in str(refused.value)
        with pytest.raises(NotFoundError):
            es.connector.get(connector_id=sync_id)

        execution = run(api, sync_id)
        assert execution.status == "completed"
        assert [e.id for e in api.bulk_sync.executions.list(sync_id).data or []] == [execution.id]
