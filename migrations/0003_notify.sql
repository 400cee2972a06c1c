-- Subscriptions (webhook and email) and the delivery of events to them.
-- Secrets are never stored in clear: signing secrets (and PagerDuty routing keys) are
-- encrypted (`*_enc`), management and confirmation tokens are stored as SHA-256 hashes.

CREATE TABLE subscriptions (
    id                    TEXT PRIMARY KEY,          -- "sub_…"
    kind                  TEXT    NOT NULL CHECK (kind IN ('webhook', 'email')),
    format                TEXT    NOT NULL CHECK (format IN ('native', 'slack', 'discord', 'teams', 'pagerduty', 'email')),
    url                   TEXT,                      -- webhook target
    email                 TEXT,                      -- email subscriber, or a webhook's owner
    models_json           TEXT    NOT NULL,          -- ["provider/model", …]; [] = every model
    providers_json        TEXT    NOT NULL,          -- ["provider", …]; [] = every provider
    events_json           TEXT    NOT NULL,          -- ["model.disabled", …]; [] = every public event
    status                TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'disabled', 'unsubscribed')),
    secret_enc            TEXT,                      -- current signing secret (or routing key), encrypted
    previous_secret_enc   TEXT,                      -- the rotated-out secret, valid until …
    previous_secret_until INTEGER,
    manage_token_hash     TEXT    NOT NULL,
    confirm_token_hash    TEXT,                      -- email double opt-in
    created_at            INTEGER NOT NULL,
    confirmed_at          INTEGER,
    disabled_at           INTEGER,
    disabled_reason       TEXT,
    failing_since         INTEGER,                   -- first failure of the current failing streak
    client_addr           TEXT                       -- who created it (for abuse handling)
);
CREATE INDEX subscriptions_status ON subscriptions (status);
CREATE UNIQUE INDEX subscriptions_manage_token ON subscriptions (manage_token_hash);

-- One row per event and matching subscription, created when the outbox row is fanned out.
-- message_id is the `webhook-id`: the same on every retry, so receivers can deduplicate.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    event_id        INTEGER NOT NULL REFERENCES events (id),
    subscription_id TEXT    NOT NULL REFERENCES subscriptions (id),
    message_id      TEXT    NOT NULL UNIQUE,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'succeeded', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    UNIQUE (event_id, subscription_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, id);

-- The delivery log: every attempt with its status code and timing.
CREATE TABLE delivery_attempts (
    id          INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
    at          INTEGER NOT NULL,
    status_code INTEGER,
    duration_ms INTEGER NOT NULL,
    error       TEXT
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, at);
