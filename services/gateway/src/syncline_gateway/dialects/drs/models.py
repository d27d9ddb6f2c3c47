"""Huawei DRS v3 request models, as `huaweicloudsdkdrs` 3.1.219 sends them (`v3/model/*.py`).

A batch's envelope (`{"jobs": [...]}`) is checked as a whole: a malformed one fails the request. Each item is
checked on its own with its item model: a missing required field fails that item with `DRS.M00201`, any other
problem with `DRS.M00202`, and the batch's other items go on. The SDK sends integers where the docs say strings
(`partitions_num`, `start_time`): `Text` fields take both.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

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
