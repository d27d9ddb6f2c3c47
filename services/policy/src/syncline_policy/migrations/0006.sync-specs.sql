-- depends: 0005.schedule-keys
-- One compiled form of every sync, whatever its dialect, replacing the `sync_snapshots` view (which joined the
-- connector and bulk-sync stores' two shapes). Policy compiles each definition into the data plane's `SyncSpec`
-- whenever the definition or what it uses changes (`compilers/<dialect>.py`); the scheduler snapshots a row
-- into each new run (read only), and the executor reads only the spec.
--   definition      what a run keeps of the definition for its dialect to show (Elastic's sync-job `connector`)
--   sealed_secrets  the definition's own secrets, sealed, as its dialect shows them (Elastic's `is_set`)
--   specs           job type -> `SyncSpec`, its endpoints' secrets sealed; `{}` when Syncline has no connector
--                   for the definition (an external worker runs it)
--   error           why the definition does not compile to a spec (its runs fail with it)
CREATE TABLE sync_specs (
    org_id          text        NOT NULL,
    sync_id         text        NOT NULL,
    dialect         text        NOT NULL,
    definition      jsonb       NOT NULL,
    sealed_secrets  jsonb       NOT NULL DEFAULT '{}',
    specs           jsonb       NOT NULL DEFAULT '{}',
    error           text,
    compiled_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, sync_id)
);

-- Bulk syncs compiled before keep their spec, now with their connections' secrets in it (Elastic connectors were
-- never compiled here: policy compiles those without a row when it starts).
INSERT INTO sync_specs (org_id, sync_id, dialect, definition, specs)
SELECT s.org_id, s.id, s.dialect,
       jsonb_build_object('id', s.id, 'name', s.name, 'dialect', s.dialect),
       jsonb_build_object('full', jsonb_set(jsonb_set(s.spec, '{source,sealed_secrets}', src.sealed_secrets),
                                            '{destination,sealed_secrets}', dst.sealed_secrets))
FROM syncs s
JOIN connections src ON src.id = s.source_connection_id
JOIN connections dst ON dst.id = s.destination_connection_id
WHERE s.spec IS NOT NULL;

DROP VIEW sync_snapshots;
ALTER TABLE syncs DROP COLUMN spec;
