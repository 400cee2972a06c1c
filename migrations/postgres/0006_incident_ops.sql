-- PostgreSQL twin of migrations/0006_incident_ops.sql: INTEGER is BIGINT, and the 0/1 flag `notify` is BOOLEAN with DEFAULT TRUE (SQLite: INTEGER DEFAULT 1).
-- Incident operations by SREs: acknowledgement (who and when), a postmortem link, and the
-- last choice of whether subscribers were notified of a hand-made change.
ALTER TABLE incidents ADD COLUMN acknowledged_at BIGINT;
ALTER TABLE incidents ADD COLUMN acknowledged_by TEXT;
ALTER TABLE incidents ADD COLUMN postmortem_url TEXT;
ALTER TABLE incidents ADD COLUMN notify BOOLEAN NOT NULL DEFAULT TRUE;
