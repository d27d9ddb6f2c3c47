-- depends: 0002.partner-keys
-- Idempotency keys: the first outcome of a request made with a key (status, body), replayed to every later
-- request with the same key for 24 hours. `status IS NULL` while the first request is still in flight.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL,
    key          text        NOT NULL,
    fingerprint  text        NOT NULL,
    status       integer,
    headers      jsonb       NOT NULL DEFAULT '{}',
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
