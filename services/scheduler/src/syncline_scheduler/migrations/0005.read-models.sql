-- depends: 0004.canceled-objects
-- The scheduler's read models: what other services may read of runs and schedules (the gateway's status and
-- execution reads, the executor's retry chains). They are a contract: a change to a table below keeps its
-- view's columns, or replaces the view in the same migration. Run status itself changes only through the run
-- ledger (`syncline_platform.run_ledger`), which scheduler and executor both call.
CREATE SCHEMA IF NOT EXISTS scheduler_read;
CREATE VIEW scheduler_read.runs AS SELECT * FROM scheduler.runs;
CREATE VIEW scheduler_read.schedules AS SELECT * FROM scheduler.schedules;
CREATE VIEW scheduler_read.syncs AS SELECT * FROM scheduler.syncs;
