-- The evaluator's memory and output: per-model states, their history, incidents with their
-- timelines, events, and the outbox that a dispatcher delivers from.
-- State change, events, incident rows and outbox rows are written in one transaction.

-- Current state per model; resumed at start so a restart repeats and loses no event.
CREATE TABLE model_states (
    model_key       TEXT PRIMARY KEY,       -- "provider/model"
    state           TEXT    NOT NULL,       -- a ModelState name
    enabled         INTEGER NOT NULL,       -- routing decision: 1 enabled, 0 disabled
    since           INTEGER NOT NULL,       -- unix ms of the last state change
    reasons_json    TEXT    NOT NULL,       -- reasons of the last evaluation
    evidence_json   TEXT    NOT NULL,       -- evidence of the last evaluation
    recent_json     TEXT    NOT NULL,       -- hysteresis: candidates of recent evaluations
    evaluated_at    INTEGER NOT NULL
);

-- Every state change with its reasons and evidence, for the model's history.
CREATE TABLE state_changes (
    id            INTEGER PRIMARY KEY,
    model_key     TEXT    NOT NULL,
    at            INTEGER NOT NULL,
    from_state    TEXT    NOT NULL,
    to_state      TEXT    NOT NULL,
    enabled       INTEGER NOT NULL,
    reasons_json  TEXT    NOT NULL,
    evidence_json TEXT    NOT NULL
);
CREATE INDEX state_changes_model_time ON state_changes (model_key, at);

CREATE TABLE incidents (
    id               INTEGER PRIMARY KEY,
    provider_id      TEXT    NOT NULL,
    title            TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    impact           TEXT    NOT NULL CHECK (impact IN ('none', 'minor', 'major', 'critical')),
    affected_json    TEXT    NOT NULL,      -- model keys
    automatic        INTEGER NOT NULL,      -- opened by the evaluator (1) or by a person (0)
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    monitoring_since INTEGER,
    resolved_at      INTEGER
);
CREATE INDEX incidents_open ON incidents (provider_id) WHERE resolved_at IS NULL;

-- The incident's timeline.
CREATE TABLE incident_updates (
    id            INTEGER PRIMARY KEY,
    incident_id   INTEGER NOT NULL REFERENCES incidents (id),
    at            INTEGER NOT NULL,
    status        TEXT    NOT NULL,
    impact        TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    affected_json TEXT    NOT NULL
);
CREATE INDEX incident_updates_incident ON incident_updates (incident_id, at);

-- Everything announced. `public` is 0 for what only SREs see (misconfiguration, our network).
CREATE TABLE events (
    id           INTEGER PRIMARY KEY,
    type         TEXT    NOT NULL,
    occurred_at  INTEGER NOT NULL,
    provider_id  TEXT,
    model_key    TEXT,
    incident_id  INTEGER REFERENCES incidents (id),
    public       INTEGER NOT NULL,
    payload_json TEXT    NOT NULL
);
CREATE INDEX events_model_time ON events (model_key, occurred_at);

-- One row per event awaiting delivery; the dispatcher marks `done_at`.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL REFERENCES events (id),
    created_at  INTEGER NOT NULL,
    done_at     INTEGER
);
CREATE INDEX outbox_pending ON outbox (id) WHERE done_at IS NULL;
