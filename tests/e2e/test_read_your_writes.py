"""Read-your-writes for deletes, with the official clients: once a delete is answered, the next read no longer
finds what it deleted, in every service it touched (policy's definition, the scheduler's runs). Each read follows
its delete at once: no polling.

The scheduler does its part a few milliseconds after policy, so a delete answered on policy's word alone would
pass these reads most of the time; the deletes that touch the scheduler therefore run while it is paused
(SIGSTOP) for a second, and must not be answered before it has run again."""

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import pytest
from elasticsearch import Elasticsearch
from elasticsearch import NotFoundError as ElasticNotFoundError
from polytomic import NotFoundError, Polytomic
from tests.e2e.polytomic_support import bulk_sync, connection, run
from tests.e2e.polytomic_support import seed as seed_tables
from tests.e2e.test_elastic_first_path import configure, seed, wait_for_job
from tests.support.system import System

pytestmark = pytest.mark.e2e


@contextlib.contextmanager
def paused(system: System, service: str) -> Iterator[None]:
    """The service's process stopped (SIGSTOP) until the block ends."""
    process = system.processes[service]
    process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        process.send_signal(signal.SIGCONT)


async def answered_after_the_scheduler(system: System, delete: Callable[[], Any]) -> None:
    """Send `delete` while the scheduler is paused: a second later it is still unanswered; once the scheduler
    runs again it is answered (well within the gateway's 5 s bound)."""
    with paused(system, "scheduler"):
        answer = asyncio.ensure_future(asyncio.to_thread(delete))
        done, _ = await asyncio.wait({answer}, timeout=1.0)
        if done:
            answer.result()  # its error, if it failed
        assert not done, "the delete was answered before the scheduler had deleted the runs"
    async with asyncio.timeout(4):
        await answer


async def stored_runs(system: System, sync_id: str) -> int:
    """How many runs of the sync the scheduler still keeps."""
    conn = await asyncpg.connect(system.database_url)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM scheduler.runs WHERE sync_id = $1", sync_id)
        return count
    finally:
        await conn.close()


async def test_a_connector_deleted_with_its_jobs_has_no_jobs_once_answered(
    system: System, source_db: tuple[str, str]
) -> None:
    database, dsn = source_db
    await seed(dsn)
    es = Elasticsearch(system.url, api_key=system.key["encoded"], request_timeout=30)
    configure(es, "ryw-connector", database=database, index="ryw-connector-idx")
    jobs = [await wait_for_job(es, es.connector.sync_job_post(id="ryw-connector")["id"]) for _ in range(2)]

    await answered_after_the_scheduler(
        system, lambda: es.connector.delete(connector_id="ryw-connector", delete_sync_jobs=True)
    )

    for job in jobs:
        with pytest.raises(ElasticNotFoundError):
            es.connector.sync_job_get(connector_sync_job_id=job["id"])
    assert es.connector.sync_job_list(connector_id="ryw-connector")["count"] == 0
    with pytest.raises(ElasticNotFoundError):
        es.connector.get(connector_id="ryw-connector")


async def test_a_deleted_bulk_sync_and_its_executions_are_gone_once_answered(
    system: System, api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    await seed_tables(source_dsn)
    source, target = connection(api, source_name, "source"), connection(api, target_db[0], "destination")
    sync_id = bulk_sync(api, source, target, ["public.customers"])
    execution = run(api, sync_id)
    assert execution.status == "completed"

    await answered_after_the_scheduler(system, lambda: api.bulk_sync.delete(sync_id))

    with pytest.raises(NotFoundError):
        api.bulk_sync.get(sync_id)
    with pytest.raises(NotFoundError):
        api.bulk_sync.executions.list(sync_id)
    with pytest.raises(NotFoundError):
        api.bulk_sync.executions.get(sync_id, str(execution.id))
    assert await stored_runs(system, sync_id) == 0  # the scheduler's history went with it


async def test_a_deleted_connection_and_the_syncs_it_took_along_are_gone_once_answered(
    system: System, api: Polytomic, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    source_name, source_dsn = source_db
    await seed_tables(source_dsn)
    source, target = connection(api, source_name, "source"), connection(api, target_db[0], "destination")
    sync_id = bulk_sync(api, source, target, ["public.customers"])
    assert run(api, sync_id).status == "completed"

    await answered_after_the_scheduler(system, lambda: api.connections.delete(source, force=True))

    with pytest.raises(NotFoundError):
        api.connections.get(source)
    with pytest.raises(NotFoundError):
        api.bulk_sync.get(sync_id)
    assert await stored_runs(system, sync_id) == 0

    api.connections.delete(target)  # unused: policy alone
    with pytest.raises(NotFoundError):
        api.connections.get(target)
