-- depends: 0000.platform-inbox-outbox
-- Connector definitions (the sync's source and destination index), one row per organisation and id.
CREATE TABLE connectors (
    org_id          text        NOT NULL,
    id              text        NOT NULL,
    name            text,
    description     text,
    index_name      text,
    service_type    text,
    language        text,
    is_native       boolean     NOT NULL DEFAULT false,
    status          text        NOT NULL,
    configuration   jsonb       NOT NULL DEFAULT '{}',
    sealed_secrets  jsonb       NOT NULL DEFAULT '{}',
    scheduling      jsonb       NOT NULL DEFAULT '{}',
    filtering       jsonb       NOT NULL DEFAULT '[]',
    sync_cursor     jsonb,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id)
);
