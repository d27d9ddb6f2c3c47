-- depends: 0002.executor-state
-- How an object of a run ended when it did not simply move: `failed` (with its error; the run's other objects
-- went on) or `canceled` (a per-object cancel). NULL while it moves and once it is done.
ALTER TABLE checkpoints ADD COLUMN outcome text CHECK (outcome IN ('failed', 'canceled')),
                        ADD COLUMN error   text;
