-- depends: 0000.platform-inbox-outbox
-- Runs (sync jobs / executions). The scheduler creates them; their status moves only through guarded
-- UPDATEs that follow the transition table (the executor claims, checks in and finishes runs here).
CREATE TABLE runs (
    id                        text        PRIMARY KEY,
    org_id                    text        NOT NULL,
    sync_id                   text        NOT NULL,
    job_type                  text        NOT NULL,
    trigger_method            text        NOT NULL,
    status                    text        NOT NULL DEFAULT 'pending',
    connector                 jsonb       NOT NULL,
    sealed_secrets            jsonb       NOT NULL DEFAULT '{}',
    worker_hostname           text,
    error                     text,
    rows_read                 bigint      NOT NULL DEFAULT 0,
    indexed_document_count    bigint      NOT NULL DEFAULT 0,
    deleted_document_count    bigint      NOT NULL DEFAULT 0,
    indexed_document_volume   bigint      NOT NULL DEFAULT 0,
    total_document_count      bigint,
    metadata                  jsonb       NOT NULL DEFAULT '{}',
    created_at                timestamptz NOT NULL DEFAULT now(),
    started_at                timestamptz,
    last_seen                 timestamptz,
    completed_at              timestamptz,
    cancelation_requested_at  timestamptz,
    canceled_at               timestamptz
);
CREATE INDEX runs_by_sync ON runs (org_id, sync_id, created_at);
CREATE INDEX runs_by_org ON runs (org_id, created_at);
