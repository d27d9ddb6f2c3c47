-- depends: 0003.unclaimed-suspended
-- Objects of a run asked to stop on their own (Polytomic's per-schema cancel): the executor reads them when it
-- claims the run and at each check-in, stops their work and goes on with the run's other objects.
ALTER TABLE runs ADD COLUMN canceled_objects text[] NOT NULL DEFAULT '{}';
