-- Inbox: the messages this service handled, recorded in the same transaction as their effect.
CREATE TABLE inbox (
    consumer    text        NOT NULL,
    message_id  text        NOT NULL,
    handled_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

-- Outbox: events written in the transaction that produced them; the relay publishes and deletes them.
CREATE TABLE outbox (
    seq         bigserial   PRIMARY KEY,
    topic       text        NOT NULL,
    key         text        NOT NULL,
    headers     jsonb       NOT NULL,
    payload     jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
