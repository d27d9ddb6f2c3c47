-- depends: 0004.sync-snapshots
-- Schedule ids are chosen by clients (Polytomic's `schedules: [{"id": "nightly", …}]`): they are unique within
-- one sync, not across syncs or organisations. A schedule is keyed by its organisation, its sync and its id, and
-- its organisation is the sync's (the composite reference holds them together).
ALTER TABLE syncs ADD CONSTRAINT syncs_org_id_id_key UNIQUE (org_id, id);

ALTER TABLE sync_schedules ADD COLUMN org_id text;
UPDATE sync_schedules ss SET org_id = s.org_id FROM syncs s WHERE s.id = ss.sync_id;
ALTER TABLE sync_schedules ALTER COLUMN org_id SET NOT NULL;
ALTER TABLE sync_schedules DROP CONSTRAINT sync_schedules_pkey;
ALTER TABLE sync_schedules ADD PRIMARY KEY (org_id, sync_id, id);
ALTER TABLE sync_schedules DROP CONSTRAINT sync_schedules_sync_id_fkey;
ALTER TABLE sync_schedules ADD CONSTRAINT sync_schedules_sync_fkey
    FOREIGN KEY (org_id, sync_id) REFERENCES syncs (org_id, id) ON DELETE CASCADE;
