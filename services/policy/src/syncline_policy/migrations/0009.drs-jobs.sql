-- depends: 0007.read-models
-- Huawei DRS jobs, one per replication job of a project (32 hex, the gateway's). `status` is the stored part of
-- DRS's lifecycle (CONFIGURATION, STARTJOBING, WAITING_FOR_START, PAUSING, RELEASE_RESOURCE_STARTED, DELETED);
-- once started, the running statuses come from the job's runs (`syncline_contracts.drs_jobs.effective_status`).
--   definition       the create item as answered (engine, task type, network, node, tags, …), no passwords
--   source_endpoint  the endpoints as created, tested and modified, without `db_password`
--   target_endpoint
--   sealed_secrets   {"source": …, "target": …}: the endpoints' passwords, sealed
--   objects          the last `batch-select-objects` item, with the tables it resolved to (`tables`)
--   policy           the last `batch-sync-policy` item
--   precheck         the last precheck: id, result, items
--   source_rows      rows of the selected tables at the precheck (a full phase's progress is measured against it)
--   starts           how many starts and resumes (each one schedules one run)
--   last_start_at    when the last start or resume was accepted: the job's status comes from runs made since
CREATE TABLE drs_jobs (
    id               text        PRIMARY KEY,
    org_id           text        NOT NULL,
    project_id       text        NOT NULL,
    name             text        NOT NULL,
    status           text        NOT NULL,
    definition       jsonb       NOT NULL,
    source_endpoint  jsonb       NOT NULL DEFAULT '{}',
    target_endpoint  jsonb       NOT NULL DEFAULT '{}',
    sealed_secrets   jsonb       NOT NULL DEFAULT '{}',
    source_tested    boolean     NOT NULL DEFAULT false,
    target_tested    boolean     NOT NULL DEFAULT false,
    modified         boolean     NOT NULL DEFAULT false,
    objects          jsonb,
    policy           jsonb,
    precheck         jsonb,
    source_rows      bigint,
    start_time       timestamptz,
    starts           integer     NOT NULL DEFAULT 0,
    last_start_at    timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX drs_jobs_by_project ON drs_jobs (org_id, project_id, created_at);

CREATE VIEW policy_read.drs_jobs AS SELECT * FROM policy.drs_jobs;
