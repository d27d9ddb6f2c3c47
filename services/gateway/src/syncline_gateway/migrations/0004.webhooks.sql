-- depends: 0003.idempotency-keys
-- One webhook per organisation: where its events are delivered and the secret that signs them (sealed).
CREATE TABLE webhooks (
    id               text        PRIMARY KEY,
    org_id           text        NOT NULL UNIQUE REFERENCES organizations (id),
    endpoint         text        NOT NULL,
    sealed_secret    text        NOT NULL,
    disabled         boolean     NOT NULL DEFAULT false,
    disabled_at      timestamptz,
    disabled_reason  text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
