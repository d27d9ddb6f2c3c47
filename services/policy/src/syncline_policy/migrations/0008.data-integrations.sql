-- depends: 0007.read-models
-- AWS AppIntegrations data integrations and their associations. An integration names a source connection and its
-- objects; its one association names a destination and how it runs, and is the sync: policy compiles it into
-- `sync_specs` under the association's id. Both live in an (organisation, region); names are unique there.
-- `client_token` + `request_print` make creates idempotent: only successful creates are kept, so a failure is
-- never replayed. Configuration is kept as the client wrote it (the dialect echoes it back).
CREATE TABLE data_integrations (
    id                    text        PRIMARY KEY,
    org_id                text        NOT NULL,
    region                text        NOT NULL,
    name                  text        NOT NULL,
    description           text,
    kms_key               text        NOT NULL,
    source_uri            text,
    source_connection_id  text,
    schedule_config       jsonb,
    file_configuration    jsonb,
    object_configuration  jsonb,
    tags                  jsonb       NOT NULL DEFAULT '{}',
    client_token          text,
    request_print         text        NOT NULL DEFAULT '',
    created_at            timestamptz NOT NULL DEFAULT now(),
    created_by            text        NOT NULL DEFAULT '',
    updated_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, region, name)
);
CREATE INDEX data_integrations_by_region ON data_integrations (org_id, region, created_at, id);

CREATE TABLE data_integration_associations (
    id                           text        PRIMARY KEY,
    org_id                       text        NOT NULL,
    data_integration_id          text        NOT NULL UNIQUE REFERENCES data_integrations (id),
    client_id                    text,
    destination_uri              text,
    destination_connection_id    text,
    object_configuration         jsonb,
    client_association_metadata  jsonb,
    execution_configuration      jsonb,
    client_token                 text,
    request_print                text        NOT NULL DEFAULT '',
    created_at                   timestamptz NOT NULL DEFAULT now(),
    created_by                   text        NOT NULL DEFAULT '',
    updated_at                   timestamptz NOT NULL DEFAULT now()
);

CREATE VIEW policy_read.data_integrations AS SELECT * FROM policy.data_integrations;
CREATE VIEW policy_read.data_integration_associations AS SELECT * FROM policy.data_integration_associations;
