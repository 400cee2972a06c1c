-- PostgreSQL twin of migrations/0011_incident_peak.sql: identical.
-- An incident remembers every model it ever affected and its worst impact: `affected_json` and
-- `impact` now hold those (what a resolved incident is remembered by), while the models
-- impaired at its latest update and their impact move to these two columns (what the
-- evaluator's next update compares against). Existing rows start with both the same.
ALTER TABLE incidents ADD COLUMN affected_now_json TEXT NOT NULL DEFAULT '[]';
ALTER TABLE incidents ADD COLUMN impact_now TEXT NOT NULL DEFAULT 'none';
UPDATE incidents SET affected_now_json = affected_json, impact_now = impact;
