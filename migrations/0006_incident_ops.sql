-- Incident operations by SREs: acknowledgement (who and when), a postmortem link, and the
-- last choice of whether subscribers were notified of a hand-made change.
ALTER TABLE incidents ADD COLUMN acknowledged_at INTEGER;
ALTER TABLE incidents ADD COLUMN acknowledged_by TEXT;
ALTER TABLE incidents ADD COLUMN postmortem_url TEXT;
ALTER TABLE incidents ADD COLUMN notify INTEGER NOT NULL DEFAULT 1;
