"""Huawei DRS v3 request models, as `huaweicloudsdkdrs` 3.1.219 sends them (`v3/model/*.py`).

A batch's envelope (`{"jobs": [...]}`) is checked as a whole: a malformed one fails the request. Each item is
checked on its own with its item model: a missing required field fails that item with `DRS.M00201`, any other
problem with `DRS.M00202`, and the batch's other items go on. The SDK sends integers where the docs say strings
(`partitions_num`, `start_time`): `Text` fields take both.
"""

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from syncline_gateway.bodies import BodyLimits

LIMITS = BodyLimits(max_bytes=1024 * 1024, max_depth=16)
MAX_ITEMS = 100
"""Items per batch (DRS's own limit on batch calls)."""


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Text = Annotated[str, BeforeValidator(_text)]
"""A string that may arrive as an integer."""
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{3,49}$")]
"""A job name: 4-50 characters, a letter first, then letters, digits, `_` and `-`."""


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tag(_Item):
    """`ResourceTag`."""

    key: str
    value: str | None = None


class KafkaSecurity(_Item):
    """`KafkaSecurity` (kept, not used: the brokers here take plaintext)."""

    type: str | None = None
    trust_store_key_name: str | None = None
    trust_store_key: str | None = None
    trust_store_password: str | None = None
    endpoint_algorithm: str | None = None
    sasl_mechanism: str | None = None
    delegation_tokens: bool | None = None
    enable_key_store: bool | None = None
    key_store_key: str | None = None
    key_store_key_name: str | None = None
    key_store_password: str | None = None
    set_private_key_password: bool | None = None
    key_password: str | None = None


class EndpointIn(_Item):
    """`Endpoint`: one side of a job."""

    db_type: str | None = None
    az_code: str | None = None
    region: str | None = None
    inst_id: str | None = None
    vpc_id: str | None = None
    subnet_id: str | None = None
    security_group_id: str | None = None
    project_id: str | None = None
    db_name: str | None = None
    db_password: str | None = None
    db_port: int | None = Field(default=None, ge=1, le=65535)
    db_user: str | None = None
    inst_name: str | None = None
    ip: str | None = None
    mongo_ha_mode: str | None = None
    safe_mode: int | None = None
    ssl_cert_password: str | None = None
    ssl_cert_check_sum: str | None = None
    ssl_cert_key: str | None = None
    ssl_cert_name: str | None = None
    ssl_link: bool | None = None
    topic: str | None = None
    cluster_mode: str | None = None
    kafka_security_config: KafkaSecurity | None = None


class CreateJobIn(_Item):
    """`CreateJobReq` (`batch_create_jobs`)."""

    bind_eip: bool | None = None
    db_use_type: Literal["migration", "sync", "cloudDataGuard"]
    name: Name
    description: Annotated[str, StringConstraints(max_length=256)] | None = None
    engine_type: str
    is_target_readonly: bool | None = None
    job_direction: Literal["up", "down", "non-dbs"]
    multi_write: bool | None = None
    net_type: Literal["vpn", "vpc", "eip"]
    node_num: int | None = None
    node_type: Literal["micro", "small", "medium", "high", "xlarge", "2xlarge"]
    source_endpoint: EndpointIn
    target_endpoint: EndpointIn
    tags: list[Tag] | None = None
    task_type: Literal["FULL_TRANS", "FULL_INCR_TRANS", "INCR_TRANS"]
    customize_sutnet_id: str
    product_id: str | None = None
    sys_tags: list[Tag] | None = None
    expired_days: Text | None = None
    master_az: str | None = None
    slave_az: str | None = None
    charging_mode: Literal["on_demand", "period"] | None = None
    period_order: dict[str, Any] | None = None
    public_ip_list: list[dict[str, Any]] | None = None
    is_open_fast_clean: bool | None = None


class TestEndPointIn(_Item):
    """`TestEndPoint` (`batch_validate_connections`)."""

    id: str
    net_type: str
    db_type: str
    ip: str
    db_port: int | None = Field(default=None, ge=1, le=65535)
    inst_id: str | None = None
    db_user: str
    db_password: str
    ssl_link: bool | None = None
    ssl_cert_key: str | None = None
    ssl_cert_name: str | None = None
    ssl_cert_check_sum: str | None = None
    ssl_cert_password: str | None = None
    vpc_id: str | None = None
    subnet_id: str | None = None
    end_point_type: Literal["so", "ta"]
    region: str | None = None
    project_id: str | None = None
    db_name: str | None = None
    kafka_security_config: KafkaSecurity | None = None
    customized_dns: dict[str, Any] | None = None


class ModifyJobIn(_Item):
    """`ModifyJobReq` (`batch_update_job`)."""

    job_id: str
    description: Annotated[str, StringConstraints(max_length=256)] | None = None
    name: Name | None = None
    alarm_notify: dict[str, Any] | None = None
    task_type: Literal["FULL_TRANS", "FULL_INCR_TRANS", "INCR_TRANS"] | None = None
    source_endpoint: EndpointIn | None = None
    target_endpoint: EndpointIn | None = None
    node_type: Literal["micro", "small", "medium", "high", "xlarge", "2xlarge"] | None = None
    engine_type: str | None = None
    net_type: Literal["vpn", "vpc", "eip"] | None = None
    store_db_info: bool | None = None
    is_recreate: bool | None = None
    job_direction: Literal["up", "down", "non-dbs"] | None = None
    is_target_readonly: bool | None = None
    replace_definer: bool | None = None
    tags: list[Tag] | None = None
    db_use_type: Literal["migration", "sync", "cloudDataGuard"] | None = None
    product_id: str | None = None


class DatabaseInfoIn(_Item):
    """`DatabaseInfo`: one selected object."""

    id: str
    parent_id: str | None = None
    object_type: Literal["database", "table", "schema", "view"] | None = None
    object_name: str | None = None
    object_alias_name: str | None = None
    select: Text | None = None


class SelectObjectsIn(_Item):
    """`UpdateDatabaseObjectReq` (`batch_set_objects`)."""

    job_id: str
    selected: bool | None = None
    sync_database: bool | None = None
    job: list[DatabaseInfoIn] | None = None


class SyncPolicyIn(_Item):
    """`SyncPolicyReq` (`batch_set_policy`)."""

    job_id: str
    conflict_policy: str | None = None
    filter_ddl_policy: str | None = None
    ddl_trans: bool | None = None
    index_trans: bool | None = None
    topic_policy: Text | None = None
    topic: str | None = None
    partition_policy: Text | None = None
    kafka_data_format: str | None = None
    topic_name_format: str | None = None
    partitions_num: Text | None = None
    replication_factor: Text | None = None
    is_fill_materialized_view: bool | None = None
    export_snapshot: bool | None = None
    slot_name: str | None = None
    file_and_position: str | None = None
    gtid_set: str | None = None
    ddl_topic: str | None = None


class PreCheckIn(_Item):
    """`PreCheckInfo` (`batch_check_jobs`)."""

    job_id: str
    precheck_mode: str | None = None


class StartIn(_Item):
    """`StartInfo` (`batch_start_jobs`)."""

    job_id: str
    is_only_init_task: bool | None = None
    is_auto_create_compare: bool | None = None
    start_time: Text | None = None


class PauseIn(_Item):
    """`PauseInfo` (`batch_stop_jobs`)."""

    job_id: str
    pause_mode: str | None = None


class RetryIn(_Item):
    """`RetryInfo` (`batch_restore_task`)."""

    job_id: str
    is_sync_re_edit: bool | None = None


class DeleteJobIn(_Item):
    """`DeleteJobReq` (`batch_delete_jobs`)."""

    delete_type: str
    job_id: str
    is_show_breakpoint_position: bool | None = None


class BatchIn(BaseModel):
    """The envelope of a batch call: its items, each checked on its own."""

    model_config = ConfigDict(extra="forbid")

    jobs: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_ITEMS)


class PageIn(BaseModel):
    """`PageReq`."""

    model_config = ConfigDict(extra="forbid")

    cur_page: int | None = Field(default=None, ge=0)
    per_page: int | None = Field(default=None, ge=0, le=100)


class QueryIn(BaseModel):
    """`BatchQueryJobReqPage` / `BatchQueryProgressReq` / `BatchQueryPrecheckResultReq`: job ids."""

    model_config = ConfigDict(extra="forbid")

    jobs: list[str] = Field(min_length=1, max_length=MAX_ITEMS)
    page_req: PageIn | None = None


class ListIn(BaseModel):
    """`QueryJobsReq` (`show_job_list`)."""

    model_config = ConfigDict(extra="forbid")

    cur_page: int | None = Field(default=None, ge=1)
    per_page: int | None = Field(default=None, ge=1, le=1000)
    db_use_type: str
    engine_type: str | None = None
    enterprise_project_id: str | None = None
    name: str | None = None
    net_type: str | None = None
    service_name: str | None = None
    status: str | None = None
    tags: dict[str, str] | None = None
    instance_ids: list[str] | None = None
    instance_ip: str | None = None


# --- answers ---------------------------------------------------------------------------------------------------
# What the routes render (`routes`, `rendering`), with `huaweicloudsdkdrs`' field names and types (`v3/model`):
# a key the route always sends is required, one it may send as null is nullable, one it may leave out is optional
# (and never null). The routes send their own JSON; these models describe it, they do not filter it.


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


R = TypeVar("R", bound=_Out)


class DrsError(_Out):
    """Huawei's error body (with an `X-Request-Id` header), for every error of the dialect."""

    error_code: str
    error_msg: str


class _Outcome(_Out):
    id: str
    error_code: str | None
    error_msg: str | None


class ItemResult(_Outcome):
    """`StartJobResp`, `DeleteJobResp`, … : what became of one item of a batch."""

    status: str


class CreateJobResult(_Outcome):
    """`CreateJobResp` (`status` is the new job's, or `CREATE_FAILED`)."""

    status: str | None
    name: str | None
    create_time: str | SkipJsonSchema[None] = None


class CheckJobResult(_Outcome):
    """`CheckJobResp`: a connection test (`status` "true" or "false")."""

    status: Literal["true", "false"]
    success: bool


class PrecheckStarted(ItemResult):
    """A precheck's item: its id when it started."""

    precheck_id: str | SkipJsonSchema[None] = None


class SelectObjectsResult(_Out):
    """`DatabaseObjectResp`."""

    job_id: str
    status: bool
    error_code: str | None
    error_msg: str | None


class PendingItem(_Out):
    """An item on its way (202: policy had not answered within the gateway's bound)."""

    id: str
    status: Literal["pending"]


class BatchResults(_Out, Generic[R]):
    """A batch's answer (`BatchCreateJobsResponse`, …): one result per item, in the items' order."""

    count: int
    results: list[R]


class SelectObjectsResults(_Out):
    """`BatchSetObjectsResponse`."""

    all_counts: int
    results: list[SelectObjectsResult]


class PendingSelectObjects(_Out):
    """A batch of object selections on its way (202)."""

    all_counts: int
    results: list[PendingItem]


class MissingJob(_Out):
    """A job of the query that does not exist (or is another account's)."""

    id: str
    error_code: str
    error_message: str


class MissingJobMsg(_Out):
    """A job of the query that does not exist, where the answer words it `error_msg`."""

    id: str
    error_code: str
    error_msg: str


class JobStatus(_Out):
    """`QueryJobStatusResp`."""

    id: str
    status: str
    error_code: str | None
    error_message: str | None


class JobStatuses(_Out):
    """`BatchListJobStatusResponse` (`count`: every job asked for; `results`: the page)."""

    count: int
    results: list[JobStatus | MissingJob]


class ObjectInfo(_Out):
    """`DatabaseObjectInfo`: a selected table."""

    id: str
    parent_id: str
    type: str
    name: str
    alias_name: str | None


class JobDetail(_Out):
    """`QueryJobResp`: the job as configured, with its status now (endpoints without their secrets)."""

    id: str
    name: str
    status: str
    description: str | None
    create_time: str
    update_time: str
    task_type: str
    source_endpoint: dict[str, Any]
    target_endpoint: dict[str, Any]
    net_type: str | None
    job_direction: str | None
    db_use_type: str | None
    is_target_readonly: bool | None
    multi_write: bool | None
    node_num: int | None
    conflict_policy: str | None
    filter_ddl_policy: str | None
    index_trans: bool | None
    actual_start_time: str | None
    full_transfer_complete_time: str | None
    object_infos: list[ObjectInfo]
    tags: list[dict[str, Any]]
    failed_reason: str | None
    error_code: str | None
    error_message: str | None


class JobDetails(_Out):
    """`BatchListJobDetailsResponse` (`count`: every job asked for; `results`: the page)."""

    count: int
    results: list[JobDetail | MissingJob]


class ProgressInfo(_Out):
    """`ProgressInfo`: a table's (or all the data's) share done and the seconds left."""

    completed: str
    remaining_time: str | None


class Progress(_Out):
    """`QueryProgressResp`: the run's real figures."""

    job_id: str
    progress: str
    incre_trans_delay: str | None
    incre_trans_delay_millis: str | None
    task_mode: str
    transfer_status: str
    process_time: str | None
    remaining_time: str | None
    progress_map: dict[str, ProgressInfo] | None
    apply_rows_rate: int
    apply_bytes_rate: int
    error_code: str | None
    error_msg: str | None


class MissingProgress(MissingJobMsg):
    """The progress of a job that does not exist."""

    job_id: str


class Progresses(_Out):
    """`BatchListProgressesResponse`."""

    count: int
    results: list[Progress | MissingProgress]


class PrecheckItem(_Out):
    """`PrecheckResult`: one check."""

    item: str
    result: str
    failed_reason: str | None


class PrecheckOutcome(_Out):
    """`QueryPreCheckResp` of a job's last precheck."""

    precheck_id: str
    result: bool
    process: str
    total_passed_rate: str
    job_direction: str | None
    precheck_result: list[PrecheckItem]


class NoPrecheck(_Out):
    """A job without a precheck yet."""

    error_code: str
    error_msg: str


class PrecheckOutcomes(_Out):
    """`BatchCheckResultsResponse`."""

    count: int
    results: list[PrecheckOutcome | MissingJobMsg | NoPrecheck]


class JobAction(_Out):
    """`JobActionResp`: what the job's status allows."""

    available_actions: list[str]
    unavailable_actions: list[str]
    current_action: str


class JobInfo(_Out):
    """`JobInfo` of `show_job_list`."""

    id: str
    name: str
    status: str
    create_time: str
    description: str | None
    engine_type: str | None
    net_type: str | None
    billing_tag: bool
    job_direction: str | None
    db_use_type: str | None
    task_type: str
    children: list[Any]
    node_new_framework: bool = Field(alias="node_newFramework")
    job_action: JobAction


class JobList(_Out):
    """`ShowJobListResponse`."""

    total_record: int
    jobs: list[JobInfo]
