-- PostgreSQL twin of migrations/0010_probe_trigger.sql: identical.
-- Why each probe was sent: 'scheduled', or an extra probe the evaluator asked for
-- ('confirm' while in doubt, 'recovery' while a model is disabled). Extra probes cost money,
-- so they are counted by reason; rows from before this migration were all scheduled.
ALTER TABLE probe_results ADD COLUMN trigger TEXT NOT NULL DEFAULT 'scheduled';
