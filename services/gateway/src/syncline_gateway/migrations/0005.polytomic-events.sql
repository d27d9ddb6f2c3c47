-- depends: 0004.webhooks
-- Polytomic events (`bulk_sync.*`), made from run events of bulk syncs and kept 48 h (`GET /api/events`), and
-- their deliveries to the organisation's webhook: each attempt signed, retried with exponential backoff until it
-- is answered 2xx or its retries are spent. `next_attempt_at` is also the lease of the replica delivering it.
CREATE TABLE events (
    id          text        PRIMARY KEY,
    org_id      text        NOT NULL,
    type        text        NOT NULL,
    payload     jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_by_org ON events (org_id, created_at);

CREATE TABLE webhook_deliveries (
    event_id         text        NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    webhook_id       text        NOT NULL,
    org_id           text        NOT NULL,
    endpoint         text        NOT NULL,
    status           text        NOT NULL DEFAULT 'pending',
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_status      integer,
    last_error       text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    PRIMARY KEY (event_id, webhook_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
