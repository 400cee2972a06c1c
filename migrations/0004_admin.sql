-- Admin access: accounts, sessions, API tokens, the audit log, and failed sign-ins.
-- Nothing secret is stored in clear: passwords as argon2id PHC strings, session and API
-- tokens as SHA-256 hashes. CSRF tokens are not stored at all: each is an HMAC of its
-- session's hash under the service key, so they cannot be forged without that key.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,      -- lower-cased, so sign-in ignores case
    password_hash TEXT    NOT NULL,             -- argon2id PHC string (salt and parameters inside)
    created_at    INTEGER NOT NULL,
    disabled_at   INTEGER
);

CREATE TABLE sessions (
    id_hash      TEXT    PRIMARY KEY,           -- SHA-256 of the cookie's token
    id           TEXT    NOT NULL UNIQUE,       -- "ses_…": public, for listing and revoking
    user_id      INTEGER NOT NULL REFERENCES users (id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,              -- absolute end, whatever the activity
    last_seen_at INTEGER NOT NULL,              -- the idle limit counts from here
    revoked_at   INTEGER,
    client_addr  TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id           TEXT    PRIMARY KEY,           -- "tok_…": public
    token_hash   TEXT    NOT NULL UNIQUE,       -- SHA-256 of the "mw_…" token, shown once
    scope        TEXT    NOT NULL CHECK (scope IN ('read', 'operate', 'admin')),
    name         TEXT    NOT NULL,
    created_by   TEXT    NOT NULL,              -- the actor that created it
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

-- Every change made by a person, a token or the command line: who, when, what, from where.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,               -- user email, token id, or "cli"
    actor_kind  TEXT    NOT NULL CHECK (actor_kind IN ('user', 'token', 'system')),
    action      TEXT    NOT NULL,               -- e.g. "session.login", "token.create"
    target      TEXT,
    detail_json TEXT    NOT NULL DEFAULT '{}',
    client_addr TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);

-- Failed sign-ins, kept in the database so a lock-out survives a restart. `key` is
-- "email:<address>" or "addr:<ip>"; rows older than the lock-out window are pruned.
CREATE TABLE login_failures (
    id  INTEGER PRIMARY KEY,
    key TEXT    NOT NULL,
    at  INTEGER NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at);
