"""What the Huawei DRS end-to-end tests share: the official SDK (`huaweicloudsdkdrs` v3 `DrsClient`) pointed at
the system with the session organisation's key pair and project, jobs taken through DRS's lifecycle with it, and
waits on the statuses and progress it reads. Imported only by the DRS test modules (the SDK is not installed in
every test environment)."""

import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from huaweicloudsdkcore.auth.credentials import BasicCredentials  # type: ignore[import-untyped]
from huaweicloudsdkcore.http.http_config import HttpConfig  # type: ignore[import-untyped]
from huaweicloudsdkcore.http.http_handler import HttpHandler  # type: ignore[import-untyped]
from huaweicloudsdkdrs.v3 import DrsClient  # type: ignore[import-untyped]
from huaweicloudsdkdrs.v3.model import (  # type: ignore[import-untyped]
    BatchCheckJobsRequest,
    BatchCheckResultsRequest,
    BatchCreateJobReq,
    BatchCreateJobsRequest,
    BatchDeleteJobReq,
    BatchDeleteJobsRequest,
    BatchListJobStatusRequest,
    BatchListProgressesRequest,
    BatchModifyJobReq,
    BatchPrecheckReq,
    BatchQueryJobReqPage,
    BatchQueryPrecheckResultReq,
    BatchQueryProgressReq,
    BatchSetObjectsRequest,
    BatchSetPolicyRequest,
    BatchSetupSyncPolicyReq,
    BatchStartJobReq,
    BatchStartJobsRequest,
    BatchTestConnectionReq,
    BatchUpdateDatabaseObjectReq,
    BatchUpdateJobRequest,
    BatchValidateConnectionsRequest,
    CreateJobReq,
    DatabaseInfo,
    DeleteJobReq,
    Endpoint,
    KafkaSecurity,
    ModifyJobReq,
    PreCheckInfo,
    StartInfo,
    SyncPolicyReq,
    TestEndPoint,
    UpdateDatabaseObjectReq,
)
from tests.support.infra import database_url, kafka_destination
from tests.support.system import System

SDK_WARNINGS = "ignore:Method .* of DrsClient is deprecated:DeprecationWarning"
"""The v3 methods warn that they are deprecated (they work in 3.1.219); the tests must not fail on that."""


def project_of(system: System) -> str:
    """The session organisation's first project id."""
    listed: Any = system.admin("list-projects", "--org", system.key["org_id"])
    return str(listed["projects"][0]["id"])


def drs(
    system: System,
    *,
    project_id: str | None = None,
    ak: str | None = None,
    sk: str | None = None,
    credentials: BasicCredentials | None = None,
    handler: Callable[..., None] | None = None,
) -> DrsClient:
    """The official client, signed with the session key pair (unless others are given), in the project; `handler`
    sees each request once it is signed."""
    config = HttpConfig.get_default_config()
    config.timeout = (5, 60)
    project = project_id or project_of(system)
    credentials = credentials or BasicCredentials(ak or system.key["id"], sk or system.key["secret"], project)
    builder = DrsClient.new_builder().with_http_config(config).with_credentials(credentials).with_endpoint(system.url)
    if handler is not None:
        builder = builder.with_http_handler(HttpHandler().add_request_handler(handler))
    client: DrsClient = builder.build()
    return client


def postgres(database: str, *, password: str | None = None) -> Endpoint:
    """A PostgreSQL endpoint on the test server (with its password unless one is given)."""
    server = urlsplit(database_url())
    password = server.password or "" if password is None else password
    return Endpoint(
        db_type="postgresql",
        ip=server.hostname,
        db_port=server.port,
        db_user=server.username,
        db_password=password,
        db_name=database,
    )


def kafka() -> Endpoint:
    """The test broker as a Kafka target (its brokers in `ip`); on a secured broker, as DRS takes a SASL one: the
    protocol and mechanism in `kafka_security_config`, the customer principal in `db_user` and `db_password`."""
    destination = kafka_destination()
    if "sasl_username" not in destination:
        return Endpoint(db_type="kafka", ip=destination["bootstrap_servers"], db_user="kafka", db_password="")
    security = KafkaSecurity(type=destination["security_protocol"], sasl_mechanism=destination["sasl_mechanism"])
    return Endpoint(
        db_type="kafka",
        ip=destination["bootstrap_servers"],
        db_user=destination["sasl_username"],
        db_password=destination["sasl_password"],
        kafka_security_config=security,
    )


def job_name(prefix: str = "job") -> str:
    """A DRS job name (4-50 characters, a letter first)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(client: DrsClient, *, source: Endpoint, target: Endpoint, task_type: str, name: str | None = None) -> str:
    """A new PostgreSQL job in CONFIGURATION; its id."""
    item = CreateJobReq(
        name=name or job_name(),
        db_use_type="sync",
        engine_type="postgresql",
        job_direction="up",
        net_type="eip",
        node_type="high",
        task_type=task_type,
        customize_sutnet_id="subnet-0001",
        source_endpoint=source,
        target_endpoint=target,
    )
    answer = client.batch_create_jobs(BatchCreateJobsRequest(body=BatchCreateJobReq(jobs=[item])))
    result = answer.results[0]
    assert result.status == "CONFIGURATION", result
    return str(result.id)


def endpoint_test(job_id: str, endpoint: Endpoint, side: str) -> TestEndPoint:
    """The connection test of one side (`so` or `ta`) of a job."""
    return TestEndPoint(
        id=job_id,
        net_type="eip",
        db_type=endpoint.db_type,
        ip=endpoint.ip,
        db_port=endpoint.db_port,
        db_user=endpoint.db_user,
        db_password=endpoint.db_password,
        db_name=endpoint.db_name,
        kafka_security_config=endpoint.kafka_security_config,
        end_point_type=side,
    )


def test_connections(client: DrsClient, job_id: str, *, source: Endpoint, target: Endpoint) -> list[Any]:
    """Both connection tests; their results."""
    items = [endpoint_test(job_id, endpoint, side) for side, endpoint in (("so", source), ("ta", target))]
    answer = client.batch_validate_connections(BatchValidateConnectionsRequest(body=BatchTestConnectionReq(jobs=items)))
    return list(answer.results)


def modify(client: DrsClient, job_id: str, **fields: Any) -> Any:
    """`batch_update_job` of one job; its result."""
    item = ModifyJobReq(job_id=job_id, description=fields.pop("description", "replicated by syncline"), **fields)
    return client.batch_update_job(BatchUpdateJobRequest(body=BatchModifyJobReq(jobs=[item]))).results[0]


def select(client: DrsClient, job_id: str, database: str, *tables: str, schema: str = "public") -> Any:
    """Select tables of the source; the result."""
    infos = [
        DatabaseInfo(
            id=f"{database}.{schema}.{table}",
            parent_id=f"{database}.{schema}",
            object_type="table",
            object_name=table,
            select="true",
        )
        for table in tables
    ]
    item = UpdateDatabaseObjectReq(job_id=job_id, selected=True, sync_database=False, job=infos)
    return client.batch_set_objects(BatchSetObjectsRequest(body=BatchUpdateDatabaseObjectReq(jobs=[item]))).results[0]


def set_policies(client: DrsClient, *items: SyncPolicyReq) -> list[Any]:
    """`batch_set_policy`; the results in order."""
    return list(client.batch_set_policy(BatchSetPolicyRequest(body=BatchSetupSyncPolicyReq(jobs=list(items)))).results)


def precheck(client: DrsClient, job_id: str) -> Any:
    """Precheck and its result."""
    started = client.batch_check_jobs(
        BatchCheckJobsRequest(body=BatchPrecheckReq(jobs=[PreCheckInfo(job_id=job_id, precheck_mode="forStartJob")]))
    ).results[0]
    assert started.status == "success", started
    return client.batch_check_results(
        BatchCheckResultsRequest(body=BatchQueryPrecheckResultReq(jobs=[job_id]))
    ).results[0]


def start(client: DrsClient, job_id: str, *, start_time: str | None = None) -> Any:
    """Start now (or at `start_time`, epoch ms); the result."""
    item = StartInfo(job_id=job_id, start_time=start_time)
    return client.batch_start_jobs(BatchStartJobsRequest(body=BatchStartJobReq(jobs=[item]))).results[0]


def status(client: DrsClient, job_id: str) -> str:
    """The job's status now."""
    answer = client.batch_list_job_status(BatchListJobStatusRequest(body=BatchQueryJobReqPage(jobs=[job_id])))
    return str(answer.results[0].status)


def progress(client: DrsClient, job_id: str) -> Any:
    """The job's progress now."""
    return client.batch_list_progresses(BatchListProgressesRequest(body=BatchQueryProgressReq(jobs=[job_id]))).results[
        0
    ]


def wait_for(check: Callable[[], Any], *, what: str, timeout_s: float = 60.0, every_s: float = 0.3) -> Any:
    """`check()` once it is truthy; fails after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every_s)


def wait_status(client: DrsClient, job_id: str, *wanted: str, timeout_s: float = 60.0) -> str:
    """The job's status once it is one of `wanted`; fails early on a failed status that was not asked for."""

    def check() -> str | None:
        now = status(client, job_id)
        assert now in wanted or not now.endswith("_FAILED"), f"job {job_id} is {now}"
        return now if now in wanted else None

    result: str = wait_for(check, what=f"{job_id} to be {' or '.join(wanted)}", timeout_s=timeout_s)
    return result


def terminate(client: DrsClient, job_id: str, *, delete_type: str = "terminate") -> Any:
    """End (or delete) the job; the result."""
    item = DeleteJobReq(job_id=job_id, delete_type=delete_type)
    return client.batch_delete_jobs(BatchDeleteJobsRequest(body=BatchDeleteJobReq(jobs=[item]))).results[0]


def ready(
    client: DrsClient,
    *,
    source_db: str,
    target: Endpoint,
    tables: tuple[str, ...],
    task_type: str,
    policy: dict[str, Any],
) -> str:
    """A job created, tested, modified, with its objects and policy set and its precheck passed."""
    source = postgres(source_db)
    job_id = create(client, source=source, target=target, task_type=task_type)
    tested = test_connections(client, job_id, source=source, target=target)
    assert [(t.status, t.success) for t in tested] == [("true", True), ("true", True)], tested
    assert modify(client, job_id).status == "success"
    assert select(client, job_id, source_db, *tables).status is True
    [result] = set_policies(client, SyncPolicyReq(job_id=job_id, **policy))
    assert result.status == "success", result
    checked = precheck(client, job_id)
    assert checked.result is True, checked
    return job_id
