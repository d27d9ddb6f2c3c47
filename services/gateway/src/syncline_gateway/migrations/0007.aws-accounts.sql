-- depends: 0005.polytomic-events
-- The AWS dialect's own state. `aws_accounts`: each organisation's stable 12-digit AWS account id, made on first
-- use, which its ARNs carry. `aws_queued_runs`: on-demand runs of data integration associations that wait for
-- the association's running run to end (an association never runs twice at once); `not_before` is also the lease
-- of the replica trying to start one.
CREATE TABLE aws_accounts (
    org_id      text        PRIMARY KEY REFERENCES organizations (id),
    account_id  text        NOT NULL UNIQUE CHECK (account_id ~ '^[0-9]{12}$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE aws_queued_runs (
    org_id          text        NOT NULL,
    association_id  text        NOT NULL,
    queued_at       timestamptz NOT NULL DEFAULT now(),
    not_before      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, association_id)
);
CREATE INDEX aws_queued_runs_due ON aws_queued_runs (not_before);
