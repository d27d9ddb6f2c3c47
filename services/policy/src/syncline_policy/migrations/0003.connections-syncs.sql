-- depends: 0002.connector-fields
-- Connections (sources and destinations) and the syncs between them, shared by the dialects that speak of
-- connections and syncs (Polytomic's bulk syncs first). Names are unique per organisation.
CREATE TABLE connections (
    id                    text        PRIMARY KEY,
    org_id                text        NOT NULL,
    name                  text        NOT NULL,
    type                  text        NOT NULL,
    configuration         jsonb       NOT NULL DEFAULT '{}',
    sealed_secrets        jsonb       NOT NULL DEFAULT '{}',
    status                text        NOT NULL,
    status_error          text        NOT NULL DEFAULT '',
    checked_at            timestamptz,
    healthcheck_interval  text,
    policies              jsonb       NOT NULL DEFAULT '[]',
    created_at            timestamptz NOT NULL DEFAULT now(),
    created_by            text        NOT NULL DEFAULT '',
    updated_at            timestamptz NOT NULL DEFAULT now(),
    updated_by            text        NOT NULL DEFAULT '',
    UNIQUE (org_id, name)
);
CREATE INDEX connections_by_org ON connections (org_id, name, id);

CREATE TABLE syncs (
    id                          text        PRIMARY KEY,
    org_id                      text        NOT NULL,
    dialect                     text        NOT NULL,
    name                        text        NOT NULL,
    source_connection_id        text        NOT NULL REFERENCES connections (id),
    destination_connection_id   text        NOT NULL REFERENCES connections (id),
    active                      boolean     NOT NULL DEFAULT false,
    mode                        text        NOT NULL,
    source_configuration        jsonb       NOT NULL DEFAULT '{}',
    destination_configuration   jsonb       NOT NULL DEFAULT '{}',
    add_new_objects             text        NOT NULL,
    add_new_fields              text        NOT NULL,
    normalize_names             text        NOT NULL,
    data_cutoff_timestamp       timestamptz,
    disable_record_timestamps   boolean     NOT NULL DEFAULT false,
    concurrency_limit           integer,
    resync_concurrency_limit    integer,
    policies                    jsonb       NOT NULL DEFAULT '[]',
    created_at                  timestamptz NOT NULL DEFAULT now(),
    created_by                  text        NOT NULL DEFAULT '',
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    updated_by                  text        NOT NULL DEFAULT '',
    UNIQUE (org_id, dialect, name)
);
CREATE INDEX syncs_by_update ON syncs (org_id, updated_at DESC, id);
CREATE INDEX syncs_by_source ON syncs (source_connection_id);
CREATE INDEX syncs_by_destination ON syncs (destination_connection_id);

-- A sync's schedules: `spec` is the dialect's own form (rendered back to the client), `compiled` the
-- scheduler's model (syncline_contracts.schedules.Schedule).
CREATE TABLE sync_schedules (
    id          text        PRIMARY KEY,
    sync_id     text        NOT NULL REFERENCES syncs (id) ON DELETE CASCADE,
    position    integer     NOT NULL,
    is_default  boolean     NOT NULL DEFAULT false,
    spec        jsonb       NOT NULL,
    compiled    jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text        NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text        NOT NULL DEFAULT ''
);
CREATE INDEX sync_schedules_by_sync ON sync_schedules (sync_id, position);
CREATE UNIQUE INDEX sync_schedules_one_default ON sync_schedules (sync_id) WHERE is_default;

-- The selection: one row per source object the sync knows of (enabled or not), with its field choices.
CREATE TABLE sync_objects (
    sync_id                 text        NOT NULL REFERENCES syncs (id) ON DELETE CASCADE,
    id                      text        NOT NULL,
    position                integer     NOT NULL,
    enabled                 boolean     NOT NULL DEFAULT false,
    output_name             text        NOT NULL,
    user_output_name        text        NOT NULL DEFAULT '',
    partition_key           text        NOT NULL DEFAULT '',
    tracking_field          text        NOT NULL DEFAULT '',
    data_cutoff_timestamp   timestamptz,
    disable_data_cutoff     boolean     NOT NULL DEFAULT false,
    history_enabled         boolean     NOT NULL DEFAULT false,
    fields                  jsonb       NOT NULL DEFAULT '[]',
    filters                 jsonb       NOT NULL DEFAULT '[]',
    updated_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sync_id, id)
);
