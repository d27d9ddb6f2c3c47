-- depends: 0000.platform-inbox-outbox
-- An outbox row the broker refuses for what it is (over the message size limit, say) is tried a few times and
-- then parked here with the broker's reason, so the rows after it flow and it is not re-sent forever; an
-- operator reads, fixes or drops it (`attempts` and `last_error` count the refusals of a row still waiting).
ALTER TABLE outbox ADD COLUMN attempts integer NOT NULL DEFAULT 0, ADD COLUMN last_error text;

CREATE TABLE outbox_parked (
    seq         bigint      PRIMARY KEY,
    topic       text        NOT NULL,
    key         text        NOT NULL,
    headers     jsonb       NOT NULL,
    payload     jsonb       NOT NULL,
    created_at  timestamptz NOT NULL,
    attempts    integer     NOT NULL,
    error       text        NOT NULL,
    parked_at   timestamptz NOT NULL DEFAULT now()
);
