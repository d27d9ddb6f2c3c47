"""Cross-tenant matrix of the AWS AppIntegrations, Huawei DRS and native (`/v1`) dialects, through the whole system
and each dialect's own client (boto3, `huaweicloudsdkdrs`, httpx): organisation A makes one of every resource (a
data integration with tags and an association that ran; a DRS job, tested and prechecked; runs with logs, one
started with an `Idempotency-Key`; connections and a key), organisation B makes its own (so every list shows B
something), then B's key tries every operation on A's. Every probe must get the dialect's own refusal:
boto3's `ResourceNotFoundException` (404), or `InvalidRequestException` (400) for a URI that names A's connection;
DRS's per-job `DRS.10000010` inside a 200 batch in B's project, and 403 in A's; the native body's 404
`not_found`. A list answers B's own resources only, and an id or token A chose gives B its own resource. B's
answer never carries A's ids or names (an error may repeat what B sent itself), and A reads its resource back
unchanged. `GET /v1/events` of B, unfiltered, filtered by A's sync or run, or resumed after A's event id, never
carries A's events while A's runs go.

The test ids are the matrix: `<dialect>-<resource>-<operation>-<result>`; `.local/cross-tenant.json` holds the
probes that ran and their results (the `matrix` fixture)."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException  # type: ignore[import-untyped]
from huaweicloudsdkdrs.v3.model import (  # type: ignore[import-untyped]
    BatchCheckJobsRequest,
    BatchCheckResultsRequest,
    BatchDeleteJobReq,
    BatchDeleteJobsRequest,
    BatchListJobDetailsRequest,
    BatchListJobStatusRequest,
    BatchListProgressesRequest,
    BatchModifyJobReq,
    BatchPauseJobReq,
    BatchPrecheckReq,
    BatchQueryJobReqPage,
    BatchQueryPrecheckResultReq,
    BatchQueryProgressReq,
    BatchRestoreTaskRequest,
    BatchRetryReq,
    BatchSetObjectsRequest,
    BatchSetPolicyRequest,
    BatchSetupSyncPolicyReq,
    BatchStartJobReq,
    BatchStartJobsRequest,
    BatchStopJobsRequest,
    BatchTestConnectionReq,
    BatchUpdateDatabaseObjectReq,
    BatchUpdateJobRequest,
    BatchValidateConnectionsRequest,
    DatabaseInfo,
    DeleteJobReq,
    ModifyJobReq,
    PauseInfo,
    PreCheckInfo,
    QueryJobsReq,
    RetryInfo,
    ShowJobListRequest,
    StartInfo,
    SyncPolicyReq,
    UpdateDatabaseObjectReq,
)
from tests.e2e import aws_support as aws
from tests.e2e import drs_support as d
from tests.e2e.native_support import Frame, events, native, wait_run
from tests.e2e.polytomic_support import connection, polytomic, seed, wait_for_policy
from tests.support.infra import create_database, drop_database, unique
from tests.support.system import System
from tests.support.tenants import Matrix, Tenant, leaks, tenant

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings(d.SDK_WARNINGS), pytest.mark.timeout(300)]

STOLEN = "stolen-by-b"
A_TOKEN = "cross-dialect-token-1"
"""A's `ClientToken` of its data integration: B's create with it must make B's own."""
A_IDEMPOTENCY_KEY = "cross-dialect-key-1"
"""A's `Idempotency-Key` of a `/v1` run start: B's start with it must start B's own run."""
NO_JOB = "DRS.10000010"
FOREIGN_PROJECT = (403, "DRS.M00261")
"""What the gateway answers a project of another organisation (Huawei's table lists 403 `DRS.M00261`)."""
AWS, DRS, NATIVE = "aws", "drs", "native"


@dataclass
class World:
    """Both organisations, A's resources (`ids`: what B must never see) and B's own (`own`)."""

    system: System
    a: Tenant
    b: Tenant
    databases: tuple[str, str]
    ids: dict[str, str] = field(default_factory=dict)
    own: dict[str, str] = field(default_factory=dict)

    @property
    def secret_words(self) -> tuple[str, ...]:
        return (*self.ids.values(), self.a.org_id, self.a.key_id, self.a.project_id)


def aws_of(world: World, who: Tenant) -> Any:
    return aws.client(world.system, key={"id": who.key_id, "secret": who.secret}, config=aws.NO_RETRY)


def drs_of(world: World, who: Tenant, *, project_id: str | None = None) -> Any:
    return d.drs(world.system, project_id=project_id or who.project_id, ak=who.key_id, sk=who.secret)


# --- the world ---------------------------------------------------------------------------------------------------


def aws_side(world: World, who: Tenant, *, label: str, token: str | None) -> dict[str, str]:
    """Connections, a tagged data integration and an association whose on-demand run completed."""
    source, target = world.databases
    with polytomic(world.system, token=who.encoded) as sdk:
        wait_for_policy(sdk)
        src, dst = connection(sdk, source, "source"), connection(sdk, target, "destination")
    client = aws_of(world, who)
    made = aws.integration(client, src, Tags={"owner": label}, **({"ClientToken": token} if token else {}))
    association = client.create_data_integration_association(
        DataIntegrationIdentifier=made["Id"],
        DestinationURI=f"postgresql://Syncline/{dst}",
        ClientAssociationMetadata={"schema": f"copy_{label}"},
        ExecutionConfiguration=aws.window(0, 5),
    )
    assert aws.wait_status(client, made["Id"]) == {"ExecutionStatus": "COMPLETED"}
    return {
        "connection": src,
        "target_connection": dst,
        "integration": made["Id"],
        "integration_name": made["Name"],
        "arn": made["Arn"],
        "account": made["Arn"].split(":")[4],
        "association": association["DataIntegrationAssociationId"],
    }


def drs_side(world: World, who: Tenant, *, ready: bool) -> dict[str, str]:
    """A DRS job: tested, modified, with objects, policy and a passed precheck (`ready`), or just created."""
    source, target = world.databases
    client = drs_of(world, who)
    if ready:
        job = d.ready(
            client,
            source_db=source,
            target=d.postgres(target),
            tables=("customers",),
            task_type="FULL_TRANS",
            policy={"index_trans": True},
        )
    else:
        job = d.create(client, source=d.postgres(source), target=d.postgres(target), task_type="FULL_TRANS")
    detail = client.batch_list_job_details(BatchListJobDetailsRequest(body=BatchQueryJobReqPage(jobs=[job])))
    return {"drs_job": job, "drs_job_name": detail.results[0].name}


def native_side(world: World, who: Tenant, sync_id: str, *, idempotency_key: str | None) -> dict[str, str]:
    """The association's first run, and one more started through `/v1` (with `idempotency_key`), ended."""
    with native(world.system, who.encoded) as v1:
        first = v1.get("/v1/runs", params={"sync_id": sync_id}).json()["data"][0]["id"]
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        started = v1.post("/v1/runs", json={"sync_id": sync_id}, headers=headers)
        assert started.status_code == 201, started.text
        second = wait_run(v1, started.json()["id"])
        assert second["status"] == "completed", second
        logs = v1.get(f"/v1/runs/{first}/logs").json()["data"]
        assert logs, "the run has log lines for B to try"
    return {"run": first, "started_run": second["id"]}


@pytest.fixture(scope="module")
async def world(system: System) -> AsyncIterator[World]:
    source, target = unique("xtd_src"), unique("xtd_dst")
    source_dsn = await create_database(source)
    await create_database(target)
    try:
        await seed(source_dsn)
        await aws.seed_events(source_dsn, rows=range(1, 6))
        made = World(
            system=system,
            a=tenant(system, "cross-dialect a"),
            b=tenant(system, "cross-dialect b"),
            databases=(source, target),
        )
        made.ids = aws_side(made, made.a, label="a", token=A_TOKEN) | drs_side(made, made.a, ready=True)
        made.ids |= native_side(made, made.a, made.ids["association"], idempotency_key=A_IDEMPOTENCY_KEY)
        made.own = aws_side(made, made.b, label="b", token=None) | drs_side(made, made.b, ready=False)
        made.own |= native_side(made, made.b, made.own["association"], idempotency_key=None)
        made.ids["key"], made.own["key"] = made.a.key_id, made.b.key_id
        yield made
    finally:
        await drop_database(source)
        await drop_database(target)


# --- what B sees -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """What B got (`result`, in the matrix's words), its whole answer, and what B sent."""

    result: str
    answer: str
    asked: str


def _json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


AWS_RESULTS = {("ResourceNotFoundException", 404): "not_found", ("InvalidRequestException", 400): "invalid"}


def aws_call(world: World, call: Callable[[Any], Any], *, asked: str, ok: Callable[[Any], str]) -> Seen:
    """B's boto3 call: a refusal by its code and status, or `ok(answer)`."""
    try:
        answered = call(aws_of(world, world.b))
    except ClientError as exc:
        error = exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]
        return Seen(AWS_RESULTS.get(error, f"{error}"), _json(exc.response), asked)
    return Seen(ok(answered), _json(answered), asked)


def _refused(_: Any) -> str:
    return "answered"


def aws_refused(call: Callable[[Any, dict[str, str]], Any], asked: str) -> Callable[[World], Seen]:
    """A call on A's resource (`asked` names the ids of `world.ids` it sends)."""
    return lambda w: aws_call(w, lambda c: call(c, w.ids), asked=" ".join(w.ids[k] for k in asked.split()), ok=_refused)


def aws_list(w: World) -> Seen:
    return aws_call(
        w,
        lambda c: c.list_data_integrations(),
        asked="",
        ok=lambda found: "excludes" if w.own["integration"] in _json(found) else "no own integration",
    )


def aws_same_token(w: World) -> Seen:
    source = f"postgresql://Syncline/{w.own['connection']}"

    def created(found: Any) -> str:
        return "own" if found["Id"] not in (w.ids["integration"], w.own["integration"]) else f"got {found['Id']}"

    return aws_call(w, lambda c: aws.integration(c, w.own["connection"], ClientToken=A_TOKEN), asked=source, ok=created)


def aws_from_a_connection(w: World) -> Seen:
    return aws_call(
        w, lambda c: aws.integration(c, w.ids["connection"]), asked=w.ids["connection"], ok=lambda _: "created"
    )


def aws_same_name(w: World) -> Seen:
    def created(found: Any) -> str:
        return "own" if found["Id"] != w.ids["integration"] and found["Name"] == w.ids["integration_name"] else "?"

    return aws_call(
        w,
        lambda c: aws.integration(c, w.own["connection"], Name=w.ids["integration_name"]),
        asked=w.ids["integration_name"],
        ok=created,
    )


def in_own_account(w: World) -> str:
    """A's ARN, with B's account in place of A's: B's own account, A's id."""
    return w.ids["arn"].replace(f":{w.ids['account']}:", f":{w.own['account']}:")


def drs_same_name(w: World) -> Seen:
    source, target = w.databases
    name = w.ids["drs_job_name"]
    job = d.create(
        drs_of(w, w.b), source=d.postgres(source), target=d.postgres(target), task_type="FULL_TRANS", name=name
    )
    return Seen("own" if job != w.ids["drs_job"] else "A's job", job, name)


def drs_mixed_batch(w: World) -> Seen:
    """A's job and B's in one batch: A's item fails alone, B's is answered."""
    jobs = [w.ids["drs_job"], w.own["drs_job"]]
    answered = drs_of(w, w.b).batch_list_job_status(BatchListJobStatusRequest(body=_query(jobs)))
    body = answered.to_json_object()
    theirs, mine = body["results"]
    answered_mine = mine.get("status") == "CONFIGURATION" and mine.get("error_code") is None
    split = theirs.get("error_code") == NO_JOB and answered_mine
    return Seen("item_not_found" if split and answered.status_code == 200 else f"{body}", _json(body), jobs[0])


def drs_call(world: World, call: Callable[[Any, str], Any], *, project_id: str | None = None) -> Seen:
    """B's DRS call on A's job, in B's project (or `project_id`): the first item of the batch."""
    job = world.ids["drs_job"]
    asked = f"{job} {project_id or ''}"
    try:
        answered = call(drs_of(world, world.b, project_id=project_id), job)
    except ClientRequestException as exc:
        error = exc.status_code, exc.error_code
        return Seen("forbidden" if error == FOREIGN_PROJECT else f"{error}", f"{error} {exc.error_msg}", asked)
    body = answered.to_json_object()
    [item] = body["results"]
    failed = item.get("status") in ("failed", False, "false") or "status" not in item
    if item.get("error_code") == NO_JOB and failed and answered.status_code == 200:
        return Seen("item_not_found", _json(body), asked)
    return Seen(f"{answered.status_code} {item}", _json(body), asked)


def _query(jobs: list[str]) -> BatchQueryJobReqPage:
    return BatchQueryJobReqPage(jobs=jobs)


def _tested(client: Any, job: str) -> Any:
    item = d.endpoint_test(job, d.postgres("postgres"), "so")
    return client.batch_validate_connections(BatchValidateConnectionsRequest(body=BatchTestConnectionReq(jobs=[item])))


def _modified(client: Any, job: str) -> Any:
    item = ModifyJobReq(job_id=job, description=STOLEN)
    return client.batch_update_job(BatchUpdateJobRequest(body=BatchModifyJobReq(jobs=[item])))


def _selected(client: Any, job: str) -> Any:
    table = DatabaseInfo(id="x.public.orders", parent_id="x.public", object_type="table", object_name="orders")
    item = UpdateDatabaseObjectReq(job_id=job, selected=True, sync_database=False, job=[table])
    return client.batch_set_objects(BatchSetObjectsRequest(body=BatchUpdateDatabaseObjectReq(jobs=[item])))


def _policy(client: Any, job: str) -> Any:
    item = SyncPolicyReq(job_id=job, conflict_policy="overwrite")
    return client.batch_set_policy(BatchSetPolicyRequest(body=BatchSetupSyncPolicyReq(jobs=[item])))


def _started(client: Any, job: str) -> Any:
    return client.batch_start_jobs(BatchStartJobsRequest(body=BatchStartJobReq(jobs=[StartInfo(job_id=job)])))


def _deleted(delete_type: str) -> Callable[[Any, str], Any]:
    def call(client: Any, job: str) -> Any:
        item = DeleteJobReq(job_id=job, delete_type=delete_type)
        return client.batch_delete_jobs(BatchDeleteJobsRequest(body=BatchDeleteJobReq(jobs=[item])))

    return call


def drs_item(call: Callable[[Any, str], Any]) -> Callable[[World], Seen]:
    return lambda w: drs_call(w, call)


def drs_in_a_project(call: Callable[[Any, str], Any]) -> Callable[[World], Seen]:
    return lambda w: drs_call(w, call, project_id=w.a.project_id)


def drs_list(*, by_name: bool) -> Callable[[World], Seen]:
    def act(w: World) -> Seen:
        name = w.ids["drs_job_name"] if by_name else None
        listed = drs_of(w, w.b).show_job_list(ShowJobListRequest(body=QueryJobsReq(db_use_type="sync", name=name)))
        ids = [job.id for job in listed.jobs or []]
        own = by_name or w.own["drs_job"] in ids  # B's own job is listed (B may name one as A named A's)
        result = "excludes" if own and w.ids["drs_job"] not in ids else f"listed {ids}"
        return Seen(result, _json(listed.to_json_object()), name or "")

    return act


def v1_call(
    world: World, method: str, path: str, *, body: Any = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    with native(world.system, world.b.encoded) as client:
        return client.request(method, path, json=body, headers=headers)


def v1_refused(method: str, path: str, body: dict[str, str] | None = None) -> Callable[[World], Seen]:
    """A request naming A's resources (`path` and `body` values are templates over `world.ids`)."""

    def act(w: World) -> Seen:
        filled = path.format(**w.ids)
        sent = {k: v.format(**w.ids) for k, v in (body or {}).items()} or None
        answer = v1_call(w, method, filled, body=sent)
        native_404 = answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
        return Seen("not_found" if native_404 else f"{answer.status_code}", answer.text, f"{filled} {sent}")

    return act


def v1_list(path: str, *, own: str | None) -> Callable[[World], Seen]:
    """A list of B's: it holds B's `own` resource (or nothing, without one)."""

    def act(w: World) -> Seen:
        filled = path.format(**w.ids)
        answer = v1_call(w, "GET", filled)
        found = {item["id"] for item in answer.json()["data"]} if answer.status_code == 200 else None
        wanted = (w.own[own] in (found or ())) if own else found == set()
        return Seen("excludes" if wanted else f"{answer.status_code} {found}", answer.text, filled)

    return act


def v1_same_idempotency_key(w: World) -> Seen:
    sync_id = w.own["association"]
    answer = v1_call(w, "POST", "/v1/runs", body={"sync_id": sync_id}, headers={"Idempotency-Key": A_IDEMPOTENCY_KEY})
    run = answer.json()
    with native(w.system, w.b.encoded) as client:
        wait_run(client, run["id"])
    own = answer.status_code == 201 and run["sync_id"] == sync_id and run["id"] != w.ids["started_run"]
    return Seen("own" if own else f"{answer.status_code} {run}", answer.text, sync_id)


# --- A's state ---------------------------------------------------------------------------------------------------


def _aws_state(world: World) -> list[Any]:
    client, ids = aws_of(world, world.a), world.ids
    answers = [
        client.get_data_integration(Identifier=ids["integration"]),
        client.list_data_integration_associations(DataIntegrationIdentifier=ids["integration"]),
        client.list_tags_for_resource(resourceArn=ids["arn"]),
    ]
    return [{k: v for k, v in answer.items() if k != "ResponseMetadata"} for answer in answers]


def _drs_state(world: World) -> list[Any]:
    client, jobs = drs_of(world, world.a), [world.ids["drs_job"]]
    return [
        client.batch_list_job_details(BatchListJobDetailsRequest(body=_query(jobs))).to_json_object(),
        client.batch_list_job_status(BatchListJobStatusRequest(body=_query(jobs))).to_json_object(),
        client.batch_check_results(
            BatchCheckResultsRequest(body=BatchQueryPrecheckResultReq(jobs=jobs))
        ).to_json_object(),
        client.show_job_list(ShowJobListRequest(body=QueryJobsReq(db_use_type="sync"))).to_json_object(),
    ]


def _native_state(world: World) -> list[Any]:
    run = world.ids["run"]
    with native(world.system, world.a.encoded) as client:
        answers = [client.get(p) for p in (f"/v1/runs/{run}", f"/v1/runs/{run}/logs", "/v1/syncs", "/v1/keys")]
        answers.append(client.get("/v1/runs", params={"sync_id": world.ids["association"]}))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    return [a.json() for a in answers]


STATE_OF: dict[str, Callable[[World], list[Any]]] = {AWS: _aws_state, DRS: _drs_state, NATIVE: _native_state}


# --- the probes --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One operation B tries on one of A's resources, and the result it must get."""

    dialect: str
    resource: str
    operation: str
    expect: str
    act: Callable[[World], Seen]

    @property
    def id(self) -> str:
        return f"{self.dialect}-{self.resource}-{self.operation}-{self.expect}"


WINDOW = aws.window(0, 5)
DI, ASSOC, TAGS = "data_integration", "association", "tags"
NOT_FOUND = "not_found"
RUNS = "/v1/runs/{run}"

PROBES = (
    Probe(
        AWS,
        DI,
        "get",
        NOT_FOUND,
        aws_refused(lambda c, i: c.get_data_integration(Identifier=i["integration"]), "integration"),
    ),
    Probe(
        AWS, DI, "get_by_arn", NOT_FOUND, aws_refused(lambda c, i: c.get_data_integration(Identifier=i["arn"]), "arn")
    ),
    Probe(AWS, DI, "list", "excludes", aws_list),
    Probe(
        AWS,
        DI,
        "update",
        NOT_FOUND,
        aws_refused(lambda c, i: c.update_data_integration(Identifier=i["integration"], Name=STOLEN), "integration"),
    ),
    Probe(
        AWS,
        DI,
        "update_by_arn",
        NOT_FOUND,
        aws_refused(lambda c, i: c.update_data_integration(Identifier=i["arn"], Description=STOLEN), "arn"),
    ),
    Probe(
        AWS,
        DI,
        "delete",
        NOT_FOUND,
        aws_refused(lambda c, i: c.delete_data_integration(DataIntegrationIdentifier=i["integration"]), "integration"),
    ),
    Probe(AWS, DI, "create_with_a_client_token", "own", aws_same_token),
    Probe(AWS, DI, "create_from_a_connection", "invalid", aws_from_a_connection),
    Probe(AWS, DI, "create_with_a_name", "own", aws_same_name),
    Probe(
        AWS,
        DI,
        "get_by_arn_in_own_account",
        NOT_FOUND,
        lambda w: aws_call(
            w, lambda c: c.get_data_integration(Identifier=in_own_account(w)), asked=in_own_account(w), ok=_refused
        ),
    ),
    Probe(
        AWS,
        ASSOC,
        "create_start",
        NOT_FOUND,
        aws_refused(
            lambda c, i: c.create_data_integration_association(
                DataIntegrationIdentifier=i["integration"],
                DestinationURI="postgresql://Syncline/none",
                ExecutionConfiguration=WINDOW,
            ),
            "integration",
        ),
    ),
    Probe(
        AWS,
        ASSOC,
        "list",
        NOT_FOUND,
        aws_refused(
            lambda c, i: c.list_data_integration_associations(DataIntegrationIdentifier=i["integration"]),
            "integration",
        ),
    ),
    Probe(
        AWS,
        ASSOC,
        "update_start",
        NOT_FOUND,
        aws_refused(
            lambda c, i: c.update_data_integration_association(
                DataIntegrationIdentifier=i["integration"],
                DataIntegrationAssociationIdentifier=i["association"],
                ExecutionConfiguration=WINDOW,
            ),
            "integration association",
        ),
    ),
    Probe(
        AWS,
        ASSOC,
        "update_under_own_integration",
        NOT_FOUND,
        lambda w: aws_call(
            w,
            lambda c: c.update_data_integration_association(
                DataIntegrationIdentifier=w.own["integration"],
                DataIntegrationAssociationIdentifier=w.ids["association"],
                ExecutionConfiguration=WINDOW,
            ),
            asked=w.ids["association"],
            ok=_refused,
        ),
    ),
    Probe(
        AWS, TAGS, "list", NOT_FOUND, aws_refused(lambda c, i: c.list_tags_for_resource(resourceArn=i["arn"]), "arn")
    ),
    Probe(
        AWS,
        TAGS,
        "tag",
        NOT_FOUND,
        aws_refused(lambda c, i: c.tag_resource(resourceArn=i["arn"], tags={"owner": STOLEN}), "arn"),
    ),
    Probe(
        AWS,
        TAGS,
        "tag_by_arn_in_own_account",
        NOT_FOUND,
        lambda w: aws_call(
            w,
            lambda c: c.tag_resource(resourceArn=in_own_account(w), tags={"owner": STOLEN}),
            asked=in_own_account(w),
            ok=_refused,
        ),
    ),
    Probe(
        AWS,
        TAGS,
        "untag",
        NOT_FOUND,
        aws_refused(lambda c, i: c.untag_resource(resourceArn=i["arn"], tagKeys=["owner"]), "arn"),
    ),
    Probe(
        DRS,
        "job",
        "detail",
        "item_not_found",
        drs_item(lambda c, j: c.batch_list_job_details(BatchListJobDetailsRequest(body=_query([j])))),
    ),
    Probe(
        DRS,
        "job",
        "status",
        "item_not_found",
        drs_item(lambda c, j: c.batch_list_job_status(BatchListJobStatusRequest(body=_query([j])))),
    ),
    Probe(
        DRS,
        "job",
        "progress",
        "item_not_found",
        drs_item(
            lambda c, j: c.batch_list_progresses(BatchListProgressesRequest(body=BatchQueryProgressReq(jobs=[j])))
        ),
    ),
    Probe(
        DRS,
        "job",
        "precheck_result",
        "item_not_found",
        drs_item(
            lambda c, j: c.batch_check_results(BatchCheckResultsRequest(body=BatchQueryPrecheckResultReq(jobs=[j])))
        ),
    ),
    Probe(DRS, "job", "status_in_a_batch_with_own", "item_not_found", drs_mixed_batch),
    Probe(DRS, "job", "list", "excludes", drs_list(by_name=False)),
    Probe(DRS, "job", "list_by_name", "excludes", drs_list(by_name=True)),
    Probe(DRS, "job", "test_connection", "item_not_found", drs_item(_tested)),
    Probe(DRS, "job", "update", "item_not_found", drs_item(_modified)),
    Probe(DRS, "job", "select_objects", "item_not_found", drs_item(_selected)),
    Probe(
        DRS,
        "job",
        "sync_policy",
        "item_not_found",
        drs_item(_policy),
    ),
    Probe(
        DRS,
        "job",
        "precheck",
        "item_not_found",
        drs_item(
            lambda c, j: c.batch_check_jobs(
                BatchCheckJobsRequest(body=BatchPrecheckReq(jobs=[PreCheckInfo(job_id=j, precheck_mode="forStartJob")]))
            )
        ),
    ),
    Probe(DRS, "job", "start", "item_not_found", drs_item(_started)),
    Probe(
        DRS,
        "job",
        "pause",
        "item_not_found",
        drs_item(
            lambda c, j: c.batch_stop_jobs(
                BatchStopJobsRequest(body=BatchPauseJobReq(jobs=[PauseInfo(job_id=j, pause_mode="all")]))
            )
        ),
    ),
    Probe(
        DRS,
        "job",
        "resume",
        "item_not_found",
        drs_item(
            lambda c, j: c.batch_restore_task(
                BatchRestoreTaskRequest(body=BatchRetryReq(jobs=[RetryInfo(job_id=j, is_sync_re_edit=False)]))
            )
        ),
    ),
    Probe(DRS, "job", "terminate", "item_not_found", drs_item(_deleted("terminate"))),
    Probe(
        DRS,
        "job",
        "delete",
        "item_not_found",
        drs_item(_deleted("delete")),
    ),
    Probe(DRS, "job", "create_with_a_name", "own", drs_same_name),
    Probe(
        DRS,
        "project",
        "detail_in_a_project",
        "forbidden",
        drs_in_a_project(lambda c, j: c.batch_list_job_details(BatchListJobDetailsRequest(body=_query([j])))),
    ),
    Probe(DRS, "project", "start_in_a_project", "forbidden", drs_in_a_project(_started)),
    Probe(
        DRS,
        "project",
        "list_in_a_project",
        "forbidden",
        drs_in_a_project(lambda c, _: c.show_job_list(ShowJobListRequest(body=QueryJobsReq(db_use_type="sync")))),
    ),
    Probe(NATIVE, "sync", "list", "excludes", v1_list("/v1/syncs", own="association")),
    Probe(NATIVE, "sync", "list_of_dialect", "excludes", v1_list("/v1/syncs?dialect=aws", own="association")),
    Probe(NATIVE, "run", "list", "excludes", v1_list("/v1/runs", own="run")),
    Probe(NATIVE, "run", "list_of_sync", "excludes", v1_list("/v1/runs?sync_id={association}", own=None)),
    Probe(NATIVE, "run", "read", NOT_FOUND, v1_refused("GET", RUNS)),
    Probe(NATIVE, "run", "logs", NOT_FOUND, v1_refused("GET", RUNS + "/logs")),
    Probe(NATIVE, "run", "logs_after", NOT_FOUND, v1_refused("GET", RUNS + "/logs?after=0")),
    Probe(NATIVE, "run", "start", NOT_FOUND, v1_refused("POST", "/v1/runs", {"sync_id": "{association}"})),
    Probe(NATIVE, "run", "cancel", NOT_FOUND, v1_refused("POST", RUNS + "/cancel")),
    Probe(NATIVE, "run", "start_with_a_idempotency_key", "own", v1_same_idempotency_key),
    Probe(NATIVE, "connection", "list", "excludes", v1_list("/v1/connections", own="connection")),
    Probe(NATIVE, "key", "list", "excludes", v1_list("/v1/keys", own="key")),
    Probe(NATIVE, "key", "revoke", NOT_FOUND, v1_refused("DELETE", "/v1/keys/{key}")),
)


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.id)
def test_organisation_b_never_reaches_a(world: World, probe: Probe, matrix: Matrix) -> None:
    seen: Seen | None = None
    passed = False
    try:
        before = STATE_OF[probe.dialect](world)
        seen = probe.act(world)
        assert seen.result == probe.expect, seen.answer
        assert leaks(world.secret_words, seen.answer, asked=seen.asked) == [], seen.answer
        assert STATE_OF[probe.dialect](world) == before, "A's resource changed"
        passed = True
    finally:
        result = seen.result if seen else "error"
        matrix.record(
            dialect=probe.dialect, resource=probe.resource, operation=probe.operation, result=result, passed=passed
        )


# --- live events ---------------------------------------------------------------------------------------------------


def _of(frames: list[Frame], run_id: str, event: str | None = None) -> list[Frame]:
    return [f for f in frames if f.data.get("run_id") == run_id and (event is None or f.event == event)]


async def _start(world: World, who: Tenant, sync_id: str) -> str:
    with native(world.system, who.encoded) as v1:
        started = await asyncio.to_thread(v1.post, "/v1/runs", json={"sync_id": sync_id})
    assert started.status_code == 201, started.text
    run_id: str = started.json()["id"]
    return run_id


async def test_events_of_a_never_reach_b(world: World, matrix: Matrix) -> None:
    """While A's run goes, B's stream (unfiltered, or filtered by A's sync) gets only B's run; afterwards B's
    streams filtered by A's run or resumed after A's event id replay nothing of A's (a resume by B's own event
    id replays B's run: the replay itself works)."""
    system, a, b = world.system, world.a, world.b
    rows = {"stream": "excludes", "stream_of_a_sync": "excludes", "stream_of_a_run": "excludes"}
    rows |= {"resume_after_a_event": "reset"}
    passed = False
    try:
        async with (
            events(system, key=a.encoded) as a_all,
            events(system, key=b.encoded) as b_all,
            events(system, key=b.encoded, sync_id=world.ids["association"]) as b_of_a_sync,
        ):
            b_run = await _start(world, b, world.own["association"])
            await b_all.until(lambda frames: _of(frames, b_run))
            a_run = await _start(world, a, world.ids["association"])
            await a_all.until(lambda frames: _of(frames, a_run, "run.completed"))
            await b_all.until(lambda frames: _of(frames, b_run, "run.completed"))
            first_b, first_a = _of(b_all.frames, b_run)[0].id or "", _of(a_all.frames, a_run)[0].id or ""
            async with (
                events(system, key=b.encoded, run_id=b_run, last_event_id=first_b) as b_own_run,
                events(system, key=b.encoded, run_id=a_run, last_event_id=first_b) as b_of_a_run,
                events(system, key=b.encoded, last_event_id=first_a) as b_after_a,
            ):
                await b_own_run.until(lambda frames: _of(frames, b_run, "run.completed"))
                await b_after_a.until(bool)
                streams = {"stream": b_all, "stream_of_a_sync": b_of_a_sync, "stream_of_a_run": b_of_a_run}
                streams |= {"resume_after_a_event": b_after_a}
                asked = {"stream_of_a_sync": world.ids["association"], "stream_of_a_run": a_run}
                asked |= {"resume_after_a_event": first_a}
                for row, stream in streams.items():
                    answer = json.dumps([[f.id, f.event, f.data] for f in stream.frames])
                    leaked = leaks((*world.secret_words, a_run, first_a), answer, asked=asked.get(row, ""))
                    assert leaked == [], (row, answer)
                assert b_of_a_sync.frames == []
                assert b_of_a_run.frames == []
                assert [f.event for f in b_after_a.frames] == ["stream.reset"]
                assert {f.data["org_id"] for f in b_all.frames} == {b.org_id}
                assert _of(b_own_run.frames, b_run), "the replay of B's own run"
        passed = True
    finally:
        for operation, result in rows.items():
            matrix.record(dialect=NATIVE, resource="event", operation=operation, result=result, passed=passed)
