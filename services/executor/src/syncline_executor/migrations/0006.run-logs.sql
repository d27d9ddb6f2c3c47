-- depends: 0004.read-models
-- Per-run log lines: what the executor did as it worked (a run started, an object moved with its counts, an
-- object failed or was canceled, a stream's changes applied, the run ended), for people reading a run. `seq`
-- orders lines (and is the cursor of a client following them); at most a bounded number per run are kept (the
-- executor stops writing at its limit, except the line that ends the run). The gateway reads them through
-- `executor_read.run_logs`, always for a run of the caller's organisation.
-- The retention loop purges the lines of deleted runs (`at` indexed for it).
CREATE TABLE run_logs (
    seq      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id   text        NOT NULL,
    org_id   text        NOT NULL,
    sync_id  text        NOT NULL,
    at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    level    text        NOT NULL CHECK (level IN ('info', 'warning', 'error')),
    message  text        NOT NULL,
    object   text,
    counts   jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX run_logs_run ON run_logs (run_id, seq);
CREATE INDEX run_logs_at ON run_logs (at);

CREATE VIEW executor_read.run_logs AS
    SELECT seq, run_id, org_id, sync_id, at, level, message, object, counts FROM executor.run_logs;
