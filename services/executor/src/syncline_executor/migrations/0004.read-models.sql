-- depends: 0003.object-outcomes
-- The executor's read models: what other services may read of a run's per-object progress and a sync's
-- positions (the gateway's execution and connector reads). They are a contract: a change to a table below keeps
-- its view's columns, or replaces the view in the same migration.
CREATE SCHEMA IF NOT EXISTS executor_read;
CREATE VIEW executor_read.checkpoints AS SELECT * FROM executor.checkpoints;
CREATE VIEW executor_read.sync_state AS SELECT * FROM executor.sync_state;
