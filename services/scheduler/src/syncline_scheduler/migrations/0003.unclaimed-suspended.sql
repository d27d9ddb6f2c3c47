-- depends: 0002.schedules
-- Suspended runs are requested again too when no executor takes them: the index of unclaimed runs covers them.
DROP INDEX runs_unclaimed;
CREATE INDEX runs_unclaimed ON runs (requested_at) WHERE status IN ('pending', 'suspended');
