-- depends: 0003.connections-syncs
-- What a new run of a sync sees, for the scheduler to snapshot (read only): an Elastic connector as it is, or a
-- bulk sync's compiled `SyncSpec` (`syncs.spec`, written by policy whenever the sync or its selection changes).
-- A bulk sync's endpoint secrets are read from its connections now, so a changed password reaches the next run.
ALTER TABLE syncs ADD COLUMN spec jsonb;

CREATE VIEW sync_snapshots AS
SELECT c.org_id, c.id,
       jsonb_build_object(
           'id', c.id, 'configuration', c.configuration, 'filtering', c.filtering, 'index_name', c.index_name,
           'language', c.language, 'service_type', c.service_type, 'sync_cursor', c.sync_cursor
       ) AS snapshot,
       c.sealed_secrets
FROM connectors c
UNION ALL
SELECT s.org_id, s.id,
       jsonb_build_object(
           'id', s.id, 'name', s.name, 'dialect', s.dialect,
           'spec', jsonb_set(jsonb_set(s.spec, '{source,sealed_secrets}', src.sealed_secrets),
                             '{destination,sealed_secrets}', dst.sealed_secrets)
       ) AS snapshot,
       '{}'::jsonb AS sealed_secrets
FROM syncs s
JOIN connections src ON src.id = s.source_connection_id
JOIN connections dst ON dst.id = s.destination_connection_id
WHERE s.spec IS NOT NULL;
