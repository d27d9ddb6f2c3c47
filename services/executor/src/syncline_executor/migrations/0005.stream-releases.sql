-- depends: 0004.read-models
-- Replication slots still to give back: a deleted sync (or connector, or a terminated DRS job) is recorded here
-- by the deletion's handler and released by the executor's supervised release loop, tried again with a capped
-- backoff until done (a slot left behind keeps WAL on the customer's server until its disk fills). `sync_id` is
-- what the stream state is kept under, `run_sync_id` the sync whose last run must have stopped first; `attempts`
-- and `last_error` show how it goes. Retention purges checkpoints by their age.
CREATE TABLE stream_releases (
    sync_id          text        PRIMARY KEY,
    org_id           text        NOT NULL,
    run_sync_id      text        NOT NULL,
    requested_at     timestamptz NOT NULL DEFAULT now(),
    attempts         integer     NOT NULL DEFAULT 0,
    last_error       text,
    last_attempt_at  timestamptz,
    next_attempt_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stream_releases_due ON stream_releases (next_attempt_at);
CREATE INDEX checkpoints_by_age ON checkpoints (updated_at);
CREATE VIEW executor_read.stream_releases AS SELECT * FROM executor.stream_releases;
