-- SRE operations: routing overrides, maintenance windows, and pages sent to the on-call.

-- An SRE forces a model's routing decision (enabled or disabled) until `expires_at`.
-- At most one override per model is active (`ended_at IS NULL`); a new one ends the old.
CREATE TABLE overrides (
    id         INTEGER PRIMARY KEY,
    model_key  TEXT    NOT NULL,
    enabled    INTEGER NOT NULL,
    reason     TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at   INTEGER                          -- set on expiry (by the evaluator) or removal
);
CREATE INDEX overrides_active ON overrides (ended_at, model_key);

-- Maintenance windows: the evaluator moves the listed models to `under_maintenance` while
-- a window is in progress and raises no incident for them. Each lifecycle step is
-- announced once (the flags) in the same transaction that moves the status.
CREATE TABLE maintenances (
    id                  INTEGER PRIMARY KEY,
    title               TEXT    NOT NULL,
    body                TEXT    NOT NULL DEFAULT '',
    models_json         TEXT    NOT NULL,       -- JSON array of "provider/model" keys
    starts_at           INTEGER NOT NULL,
    ends_at             INTEGER NOT NULL,
    created_by          TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    status              TEXT    NOT NULL DEFAULT 'scheduled'
                        CHECK (status IN ('scheduled', 'in_progress', 'completed', 'cancelled')),
    scheduled_announced INTEGER NOT NULL DEFAULT 0,
    started_announced   INTEGER NOT NULL DEFAULT 0,
    completed_announced INTEGER NOT NULL DEFAULT 0,
    started_at          INTEGER,
    completed_at        INTEGER
);
CREATE INDEX maintenances_status ON maintenances (status, starts_at);

-- Pages sent to the on-call per incident and channel: when, how often, and whether the
-- channel has been told the incident resolved.
CREATE TABLE pages (
    incident_id    INTEGER NOT NULL,
    channel        TEXT    NOT NULL,
    first_paged_at INTEGER NOT NULL,
    last_paged_at  INTEGER NOT NULL,
    count          INTEGER NOT NULL,
    resolved_at    INTEGER,
    PRIMARY KEY (incident_id, channel)
);
