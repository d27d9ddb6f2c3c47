-- depends: 0005.read-models
-- `claim_seq` counts the claims of a run: every move to in_progress (an executor's claim, a resumed suspended
-- run, an external worker's claim) takes the next number, and the mover holding it passes it to every check-in,
-- checkpoint, destination commit and finish. A mover whose number is no longer the run's (the sweep ended the
-- run, another executor claimed it again) is fenced out: it writes nothing more. The view gains both columns.
-- `delete_on_end`: a run deleted while it moved (Elastic's sync job delete, a connector deleted with its jobs) is
-- asked to stop first; its record goes once it ended, after its one terminal event.
ALTER TABLE runs ADD COLUMN claim_seq integer NOT NULL DEFAULT 0,
                 ADD COLUMN delete_on_end boolean NOT NULL DEFAULT false;
CREATE OR REPLACE VIEW scheduler_read.runs AS SELECT * FROM scheduler.runs;
-- Retention: decided ticks are purged by age.
CREATE INDEX ticks_by_decision ON ticks (decided_at);
