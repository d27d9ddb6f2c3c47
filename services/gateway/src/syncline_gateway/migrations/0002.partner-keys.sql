-- depends: 0001.organizations
-- Partner keys may act for any organisation (Polytomic's `organization_id` on creates).
ALTER TABLE api_keys ADD COLUMN partner boolean NOT NULL DEFAULT false;
