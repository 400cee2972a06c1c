-- Whether subscribers were told of each incident update, so the Statuspage API can say
-- `deliver_notifications` per update as Statuspage does. Older updates were all announced.
ALTER TABLE incident_updates ADD COLUMN notified INTEGER NOT NULL DEFAULT 1;
