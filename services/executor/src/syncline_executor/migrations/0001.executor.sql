-- depends: 0000.platform-inbox-outbox
-- The executor's own state is its inbox and outbox (from the platform migration); runs live in the
-- scheduler schema and move through guarded transitions. This file anchors future executor tables.
SELECT 1;
