-- The application's own traffic as evidence (issue 14).
--
-- 1. API tokens get the `ingest` scope: it may write observations and nothing else. SQLite
--    cannot change a CHECK constraint in place, so the table is rebuilt (nothing refers to
--    it by foreign key).
CREATE TABLE api_tokens_new (
    id           TEXT    PRIMARY KEY,           -- "tok_…": public
    token_hash   TEXT    NOT NULL UNIQUE,       -- SHA-256 of the "mw_…" token, shown once
    scope        TEXT    NOT NULL CHECK (scope IN ('read', 'operate', 'admin', 'ingest')),
    name         TEXT    NOT NULL,
    created_by   TEXT    NOT NULL,              -- the actor that created it
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
INSERT INTO api_tokens_new (id, token_hash, scope, name, created_by, created_at, last_used_at, revoked_at)
    SELECT id, token_hash, scope, name, created_by, created_at, last_used_at, revoked_at FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;

-- 2. Observations are not stored one by one: the evaluator judges each as it arrives (in
--    memory), and keeps one row per model, source and minute for pages and history.
--    At 20,000 observations a second over 1,000 models that is 1,000 rows a minute instead
--    of 1.2 million. Kept as long as minute rollups of probes (`retention.minute`).
CREATE TABLE traffic_minutes (
    model_key     TEXT    NOT NULL,
    source        TEXT    NOT NULL,             -- the application or region that reported
    minute        INTEGER NOT NULL,             -- the minute's start, unix milliseconds
    requests      INTEGER NOT NULL,             -- every observation
    failures      INTEGER NOT NULL,             -- provider faults (count against the model)
    client_errors INTEGER NOT NULL,             -- auth, bad request, not found (never count)
    throttled     INTEGER NOT NULL,             -- rate_limited: the caller's quota (never count)
    ttft_count    INTEGER NOT NULL,             -- successes that reported a first token
    ttft_p50_ms   INTEGER,                      -- median first token of those
    total_p50_ms  INTEGER,                      -- median duration of successes
    PRIMARY KEY (model_key, minute, source)
) WITHOUT ROWID;
CREATE INDEX traffic_minutes_minute ON traffic_minutes (minute);
