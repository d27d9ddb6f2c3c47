"""Huawei DRS with the official SDK: batches whose items fare apart (one breaks a rule, the others take effect),
`FULL_TRANS` at a `start_time`, `INCR_TRANS` moving only what changed after the start, and `batch-status` pages."""

import time
import uuid

import asyncpg
import pytest
from tests.support.system import System

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:Method .* of DrsClient is deprecated")]


async def _run(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _value(dsn: str, query: str) -> object:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


SEED = (
    "CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL, qty int)",
    "INSERT INTO orders SELECT g, 'thing ' || g, g % 5 FROM generate_series(1, 300) g",
)


async def test_items_of_a_batch_fail_on_their_own(
    system: System, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException  # type: ignore[import-untyped]
    from huaweicloudsdkdrs.v3.model import (  # type: ignore[import-untyped]
        BatchCreateJobReq,
        BatchCreateJobsRequest,
        BatchListJobDetailsRequest,
        BatchQueryJobReqPage,
        CreateJobReq,
        SyncPolicyReq,
    )
    from tests.e2e import drs_support as d

    (source_name, source), (target_name, _) = source_db, target_db
    await _run(source, *SEED)
    client = d.drs(system)
    src, dst = d.postgres(source_name), d.postgres(target_name)

    # create: an engine that does not run here, and an item without a required field, fail; the third is made
    base = {
        "db_use_type": "sync",
        "job_direction": "up",
        "net_type": "eip",
        "node_type": "high",
        "task_type": "FULL_INCR_TRANS",
        "source_endpoint": src,
        "target_endpoint": dst,
    }
    items = [
        CreateJobReq(name=d.job_name("mysql"), engine_type="mysql", customize_sutnet_id="s1", **base),
        CreateJobReq(name=d.job_name("nosubnet"), engine_type="postgresql", **base),
        CreateJobReq(name=d.job_name("good"), engine_type="postgresql", customize_sutnet_id="s1", **base),
    ]
    created = client.batch_create_jobs(BatchCreateJobsRequest(body=BatchCreateJobReq(jobs=items)))
    assert created.count == 3
    failed_engine, failed_field, made = created.results
    assert (failed_engine.status, failed_engine.error_code) == ("CREATE_FAILED", "DRS.M00202")
    assert "engine_type" in failed_engine.error_msg
    assert (failed_field.status, failed_field.error_code) == ("CREATE_FAILED", "DRS.M00201")
    assert "customize_sutnet_id" in failed_field.error_msg
    assert made.status == "CONFIGURATION"
    assert made.error_code is None
    good = made.id
    # only a malformed envelope fails the whole request
    with pytest.raises(ClientRequestException) as malformed:
        client.batch_create_jobs(BatchCreateJobsRequest(body=BatchCreateJobReq(jobs=[])))
    assert (malformed.value.status_code, malformed.value.error_code) == (400, "DRS.M00202")

    # a second job, created but never tested: the policy is refused for it (wrong state), taken for the first
    untested = d.create(client, source=src, target=dst, task_type="FULL_INCR_TRANS")
    assert all(t.success for t in d.test_connections(client, good, source=src, target=dst))
    assert d.modify(client, good).status == "success"
    accepted, refused = d.set_policies(
        client,
        SyncPolicyReq(job_id=good, conflict_policy="ignore", filter_ddl_policy="drop_database", index_trans=True),
        SyncPolicyReq(job_id=untested, conflict_policy="overwrite"),
    )
    assert (accepted.id, accepted.status, accepted.error_code) == (good, "success", None)
    assert (refused.id, refused.status, refused.error_code) == (untested, "failed", "DRS.10000011")
    # a Kafka policy for a PostgreSQL target, and an unknown job, fail alone too
    kafka_on_pg, unknown = d.set_policies(
        client,
        SyncPolicyReq(job_id=good, topic_policy="0", topic="t", partition_policy="1"),
        SyncPolicyReq(job_id=str(uuid.uuid4()), conflict_policy="ignore"),
    )
    assert (kafka_on_pg.status, kafka_on_pg.error_code) == ("failed", "DRS.M00202")
    assert (unknown.status, unknown.error_code) == ("failed", "DRS.10000010")

    detail = client.batch_list_job_details(
        BatchListJobDetailsRequest(body=BatchQueryJobReqPage(jobs=[good, untested]))
    ).results
    assert [(j.id, j.status, j.conflict_policy) for j in detail] == [
        (good, "CONFIGURATION", "ignore"),
        (untested, "CONFIGURATION", None),
    ]
    assert detail[0].filter_ddl_policy == "drop_database"
    assert detail[0].index_trans is True

    # a Kafka target's policy without its topic fails; the other item of the batch takes effect
    kafka_job = d.create(client, source=src, target=d.kafka(), task_type="FULL_INCR_TRANS")
    assert all(t.success for t in d.test_connections(client, kafka_job, source=src, target=d.kafka()))
    assert d.modify(client, kafka_job).status == "success"
    no_topic, fine = d.set_policies(
        client,
        SyncPolicyReq(job_id=kafka_job, topic_policy="0", partition_policy="1"),
        SyncPolicyReq(job_id=good, conflict_policy="overwrite"),
    )
    assert (no_topic.status, no_topic.error_code) == ("failed", "DRS.M00201")
    assert "topic" in no_topic.error_msg
    assert fine.status == "success"
    bad_pair, *_ = d.set_policies(client, SyncPolicyReq(job_id=kafka_job, topic_policy="3", partition_policy="2"))
    assert (bad_pair.status, bad_pair.error_code) == ("failed", "DRS.M00202")

    # a start before a precheck is refused; batch-status pages 5 at a time
    assert (d.start(client, good).status, d.start(client, good).error_code) == ("failed", "DRS.10000011")
    from huaweicloudsdkdrs.v3.model import BatchListJobStatusRequest

    ids = [good, untested, kafka_job, *(str(uuid.uuid4()) for _ in range(3))]
    paged = client.batch_list_job_status(BatchListJobStatusRequest(body=BatchQueryJobReqPage(jobs=ids)))
    assert paged.count == 6
    assert [r.id for r in paged.results] == ids[:5]
    assert [r.status for r in paged.results[:3]] == ["CONFIGURATION"] * 3
    assert paged.results[3].error_code == "DRS.10000010"

    # the job list: filtered by name and status, with what may be done next
    from huaweicloudsdkdrs.v3.model import QueryJobsReq, ShowJobListRequest

    listed = client.show_job_list(ShowJobListRequest(body=QueryJobsReq(db_use_type="sync", name=made.name)))
    assert listed.total_record == 1
    assert [(j.id, j.status, j.engine_type, j.task_type) for j in listed.jobs] == [
        (good, "CONFIGURATION", "postgresql", "FULL_INCR_TRANS")
    ]
    assert "START" in listed.jobs[0].job_action.available_actions
    paused = client.show_job_list(ShowJobListRequest(body=QueryJobsReq(db_use_type="sync", status="PAUSING")))
    assert good not in [j.id for j in paused.jobs]


async def test_full_trans_waits_for_its_start_time_then_copies_once(
    system: System, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    from tests.e2e import drs_support as d

    (source_name, source), (target_name, target) = source_db, target_db
    await _run(source, *SEED)
    client = d.drs(system)
    job = d.ready(
        client,
        source_db=source_name,
        target=d.postgres(target_name),
        tables=("orders",),
        task_type="FULL_TRANS",
        policy={"conflict_policy": "overwrite"},
    )
    at = str(int(time.time() * 1000) + 6_000)
    assert d.start(client, job, start_time=at).status == "success"
    assert d.status(client, job) == "WAITING_FOR_START"
    d.wait_status(client, job, "FULL_TRANSFER_COMPLETE", timeout_s=60)
    assert int(time.time() * 1000) >= int(at)
    assert await _value(target, "SELECT count(*) FROM public.orders") == 300
    shown = d.progress(client, job)
    assert (shown.progress, shown.transfer_status) == ("100", "FULL_TRANSFER_COMPLETE")
    assert shown.incre_trans_delay is None


async def test_incr_trans_moves_only_what_changed_after_the_start(
    system: System, source_db: tuple[str, str], target_db: tuple[str, str]
) -> None:
    from tests.e2e import drs_support as d

    (source_name, source), (target_name, target) = source_db, target_db
    await _run(source, *SEED)
    client = d.drs(system)
    job = d.ready(
        client,
        source_db=source_name,
        target=d.postgres(target_name),
        tables=("orders",),
        task_type="INCR_TRANS",
        policy={"conflict_policy": "overwrite"},
    )
    assert d.start(client, job).status == "success"
    d.wait_status(client, job, "INCRE_TRANSFER_STARTED")
    d.wait_for(lambda: d.progress(client, job).incre_trans_delay_millis is not None, what="the stream to open")
    await _run(
        source,
        "INSERT INTO orders SELECT g, 'later ' || g, 1 FROM generate_series(1001, 1010) g",
        "UPDATE orders SET qty = 99 WHERE id = 1001",
        "DELETE FROM orders WHERE id = 1002",
    )
    deadline = time.monotonic() + 30
    while (await _value(target, "SELECT count(*) FROM public.orders WHERE id > 1000")) != 9:
        assert time.monotonic() < deadline, "the changes never arrived"
        time.sleep(0.3)
    assert await _value(target, "SELECT count(*) FROM public.orders") == 9  # nothing from before the start
    assert await _value(target, "SELECT qty FROM public.orders WHERE id = 1001") == 99
    assert d.terminate(client, job).status == "success"
    d.wait_status(client, job, "RELEASE_RESOURCE_COMPLETE")
