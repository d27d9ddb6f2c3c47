-- depends: 0001.connectors
-- The rest of Elastic's connector document: check-in time, pipeline, features, API key ids, last-sync facts
-- reported by external workers.
ALTER TABLE connectors
    ADD COLUMN last_seen          timestamptz,
    ADD COLUMN pipeline           jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN features           jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN api_key_id         text,
    ADD COLUMN api_key_secret_id  text,
    ADD COLUMN last_sync          jsonb NOT NULL DEFAULT '{}';
