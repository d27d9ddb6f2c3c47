-- depends: 0001.runs
-- Schedules. `syncs` holds each sync's retry policy, whether it is active and its run of failures;
-- `schedules` one row per schedule with its next fire time (claimed with FOR UPDATE SKIP LOCKED, so each due
-- tick fires on one replica); `ticks` what each due tick did (the unique key makes a second fire of the same
-- tick impossible); `retries` failed runs waiting for their backoff.
CREATE TABLE syncs (
    org_id                text        NOT NULL,
    sync_id               text        NOT NULL,
    active                boolean     NOT NULL DEFAULT true,
    retry                 jsonb       NOT NULL,
    consecutive_failures  integer     NOT NULL DEFAULT 0,
    configured_at         timestamptz NOT NULL,
    deactivated_at        timestamptz,
    PRIMARY KEY (org_id, sync_id)
);

CREATE TABLE schedules (
    org_id          text        NOT NULL,
    sync_id         text        NOT NULL,
    schedule_id     text        NOT NULL,
    kind            text        NOT NULL,
    definition      jsonb       NOT NULL,
    fingerprint     text        NOT NULL,
    configured_at   timestamptz NOT NULL,
    next_fire_at    timestamptz,
    last_due_at     timestamptz,
    last_fired_at   timestamptz,
    last_run_id     text,
    error           text,
    PRIMARY KEY (org_id, sync_id, schedule_id),
    FOREIGN KEY (org_id, sync_id) REFERENCES syncs ON DELETE CASCADE
);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE next_fire_at IS NOT NULL;

CREATE TABLE ticks (
    id            bigserial   PRIMARY KEY,
    org_id        text        NOT NULL,
    sync_id       text        NOT NULL,
    schedule_id   text        NOT NULL,
    due_at        timestamptz NOT NULL,
    decided_at    timestamptz NOT NULL,
    decided_by    text        NOT NULL,
    outcome       text        NOT NULL,
    reason        text,
    catch_up      boolean     NOT NULL DEFAULT false,
    missed_ticks  integer     NOT NULL DEFAULT 0,
    run_id        text,
    UNIQUE (org_id, sync_id, schedule_id, due_at)
);

CREATE TABLE retries (
    failed_run_id   text        PRIMARY KEY,
    org_id          text        NOT NULL,
    sync_id         text        NOT NULL,
    attempt         integer     NOT NULL,
    due_at          timestamptz NOT NULL
);
CREATE INDEX retries_due ON retries (due_at);

-- What a run needs for scheduling: its attempt and what it retries, the tick that fired it, when its request
-- was last published (an unclaimed run is published again), and whether its end was accounted for.
ALTER TABLE runs
    ADD COLUMN attempt       integer     NOT NULL DEFAULT 1,
    ADD COLUMN retry_of      text,
    ADD COLUMN schedule_id   text,
    ADD COLUMN due_at        timestamptz,
    ADD COLUMN catch_up      boolean     NOT NULL DEFAULT false,
    ADD COLUMN options       jsonb       NOT NULL DEFAULT '{}',
    ADD COLUMN requested_at  timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN settled_at    timestamptz;
CREATE INDEX runs_active ON runs (org_id, sync_id) WHERE status IN ('pending', 'in_progress', 'canceling', 'suspended');
CREATE INDEX runs_unclaimed ON runs (requested_at) WHERE status = 'pending';
CREATE INDEX runs_running ON runs (last_seen) WHERE status IN ('in_progress', 'canceling');
