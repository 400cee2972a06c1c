-- Official status: what providers publish about themselves, beside what we observe (issue 15).
--
-- One row per provider's source: whether it could be read at the last poll and, if not, why.
CREATE TABLE official_sources (
    provider_id  TEXT    PRIMARY KEY,
    kind         TEXT    NOT NULL,              -- statuspage, incidentio, feed, google_cloud, simulated
    available    INTEGER NOT NULL,              -- 1 when the last poll read the page
    reason       TEXT,                          -- why it could not be read (shown publicly)
    checked_at   INTEGER NOT NULL,              -- the last poll, unix milliseconds
    read_at      INTEGER,                       -- the last poll that read it
    changed_at   INTEGER NOT NULL               -- when `available` or `reason` last changed
);

-- The published state of each component the operator mapped to models, since when.
CREATE TABLE official_components (
    provider_id  TEXT    NOT NULL,
    component    TEXT    NOT NULL,              -- as configured: the published name or id
    state        TEXT    NOT NULL,              -- our state words
    since        INTEGER NOT NULL,
    PRIMARY KEY (provider_id, component)
);

-- Every change of those states: the history, and the provider's acknowledgement times.
CREATE TABLE official_component_changes (
    id           INTEGER PRIMARY KEY,
    provider_id  TEXT    NOT NULL,
    component    TEXT    NOT NULL,
    previous     TEXT,                          -- NULL for the first reading
    state        TEXT    NOT NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX official_component_changes_at ON official_component_changes (provider_id, at);

-- Published incidents and maintenances of the last 90 days, whether or not they name a
-- mapped component (those that do not are problems outside what we probe).
CREATE TABLE official_incidents (
    provider_id       TEXT    NOT NULL,
    incident_id       TEXT    NOT NULL,         -- the page's id
    name              TEXT    NOT NULL,
    url               TEXT,
    status            TEXT    NOT NULL,         -- as published
    impact            TEXT,                     -- our state words, when declared
    maintenance       INTEGER NOT NULL,
    components_json   TEXT    NOT NULL,         -- the configured components it names
    published_at      INTEGER NOT NULL,         -- by the page, or when we first saw it
    first_seen_at     INTEGER NOT NULL,
    resolved_at       INTEGER,
    starts_at         INTEGER,                  -- a maintenance's planned window
    ends_at           INTEGER,
    adopted_window_id INTEGER,                  -- our maintenance window made from it
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (provider_id, incident_id)
);
CREATE INDEX official_incidents_published ON official_incidents (provider_id, published_at);
