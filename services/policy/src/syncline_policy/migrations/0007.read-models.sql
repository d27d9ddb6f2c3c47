-- depends: 0006.sync-specs
-- Policy's read models: what other services may read of policy's data (the gateway's reads, the scheduler's
-- snapshot of a compiled spec). They are a contract: a change to a table below keeps its view's columns, or
-- replaces the view in the same migration. Every other table of the `policy` schema is private to policy.
CREATE SCHEMA IF NOT EXISTS policy_read;
CREATE VIEW policy_read.connectors AS SELECT * FROM policy.connectors;
CREATE VIEW policy_read.connections AS SELECT * FROM policy.connections;
CREATE VIEW policy_read.syncs AS SELECT * FROM policy.syncs;
CREATE VIEW policy_read.sync_schedules AS SELECT * FROM policy.sync_schedules;
CREATE VIEW policy_read.sync_objects AS SELECT * FROM policy.sync_objects;
CREATE VIEW policy_read.sync_specs AS SELECT * FROM policy.sync_specs;
