-- PostgreSQL twin of migrations/0009_update_notified.sql: the 0/1 flag `notified` is BOOLEAN with DEFAULT TRUE (SQLite: INTEGER DEFAULT 1).
-- Whether subscribers were told of each incident update, so the Statuspage API can say
-- `deliver_notifications` per update as Statuspage does. Older updates were all announced.
ALTER TABLE incident_updates ADD COLUMN notified BOOLEAN NOT NULL DEFAULT TRUE;
