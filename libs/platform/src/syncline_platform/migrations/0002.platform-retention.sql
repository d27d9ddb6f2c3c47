-- depends: 0001.platform-outbox-parked
-- Retention: the inbox and parked outbox rows are purged by age (`SYNCLINE_RETENTION__…`), in batches.
CREATE INDEX inbox_by_age ON inbox (handled_at);
CREATE INDEX outbox_parked_by_age ON outbox_parked (parked_at);
