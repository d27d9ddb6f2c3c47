-- depends: 0001.executor
-- The executor's own state. `checkpoints`: per run and object, the source position of the last batch that is
-- durable in the destination, and the object's counters; a retried run resumes from here. `sync_state`: what
-- outlives runs, per sync and object (incremental cursors, the change stream's replication slot and position).
CREATE TABLE checkpoints (
    run_id        text        NOT NULL,
    object        text        NOT NULL,
    position      jsonb,
    done          boolean     NOT NULL DEFAULT false,
    rows_read     bigint      NOT NULL DEFAULT 0,
    rows_written  bigint      NOT NULL DEFAULT 0,
    rows_deleted  bigint      NOT NULL DEFAULT 0,
    bytes         bigint      NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, object)
);
CREATE TABLE sync_state (
    sync_id     text        NOT NULL,
    object      text        NOT NULL,
    state       jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sync_id, object)
);
