-- PostgreSQL twin of migrations/0012_traffic.sql: the api_tokens rebuild (SQLite's only way to change a CHECK) is an ALTER TABLE that replaces the named CHECK in place; INTEGER is BIGINT, `WITHOUT ROWID` is left out.
-- The application's own traffic as evidence (issue 14).
--
-- 1. API tokens get the `ingest` scope: it may write observations and nothing else.
--    PostgreSQL changes the CHECK in place (named in 0004); rows and other constraints stay.
ALTER TABLE api_tokens
    DROP CONSTRAINT api_tokens_scope_check,
    ADD CONSTRAINT api_tokens_scope_check CHECK (scope IN ('read', 'operate', 'admin', 'ingest'));

-- 2. Observations are not stored one by one: the evaluator judges each as it arrives (in
--    memory), and keeps one row per model, source and minute for pages and history.
--    At 20,000 observations a second over 1,000 models that is 1,000 rows a minute instead
--    of 1.2 million. Kept as long as minute rollups of probes (`retention.minute`).
CREATE TABLE traffic_minutes (
    model_key     TEXT    NOT NULL,
    source        TEXT    NOT NULL,             -- the application or region that reported
    minute        BIGINT  NOT NULL,             -- the minute's start, unix milliseconds
    requests      BIGINT  NOT NULL,             -- every observation
    failures      BIGINT  NOT NULL,             -- provider faults (count against the model)
    client_errors BIGINT  NOT NULL,             -- auth, bad request, not found (never count)
    throttled     BIGINT  NOT NULL,             -- rate_limited: the caller's quota (never count)
    ttft_count    BIGINT  NOT NULL,             -- successes that reported a first token
    ttft_p50_ms   BIGINT,                       -- median first token of those
    total_p50_ms  BIGINT,                       -- median duration of successes
    PRIMARY KEY (model_key, minute, source)
);
CREATE INDEX traffic_minutes_minute ON traffic_minutes (minute);
