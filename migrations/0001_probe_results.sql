-- Raw probe results, rollups per minute/hour/day, and rollup watermarks.
-- Times are INTEGER unix milliseconds UTC: compact, sortable, and free of text-format drift.

CREATE TABLE probe_results (
    id          INTEGER PRIMARY KEY,
    model_key   TEXT    NOT NULL,  -- "provider/model"
    started_at  INTEGER NOT NULL,  -- unix milliseconds UTC
    outcome     TEXT    NOT NULL,  -- an Outcome::as_str name
    http_status INTEGER,
    headers_ms  INTEGER,
    ttft_ms     INTEGER,
    total_ms    INTEGER NOT NULL,
    request_id  TEXT,
    error       TEXT
);

-- Per-model history reads (results_since, latest_results).
CREATE INDEX probe_results_model_time ON probe_results (model_key, started_at);
-- Rollups read every model's results of a time range, and retention deletes by age:
-- both would scan the whole table without an index led by started_at.
CREATE INDEX probe_results_time ON probe_results (started_at);

-- One row per model and completed bucket that had at least one probe.
-- n_<class> columns follow Outcome::ALL; percentiles are nearest-rank, NULL without samples.
CREATE TABLE rollups (
    model_key      TEXT    NOT NULL,
    granularity    TEXT    NOT NULL CHECK (granularity IN ('minute', 'hour', 'day')),
    bucket_start   INTEGER NOT NULL,  -- unix milliseconds UTC, aligned to the granularity
    probes         INTEGER NOT NULL,
    n_ok           INTEGER NOT NULL,
    n_timeout      INTEGER NOT NULL,
    n_connect      INTEGER NOT NULL,
    n_http_5xx     INTEGER NOT NULL,
    n_overloaded   INTEGER NOT NULL,
    n_rate_limited INTEGER NOT NULL,
    n_auth         INTEGER NOT NULL,
    n_bad_request  INTEGER NOT NULL,
    n_not_found    INTEGER NOT NULL,
    n_malformed    INTEGER NOT NULL,
    n_empty        INTEGER NOT NULL,
    ttft_p50       INTEGER,
    ttft_p95       INTEGER,
    ttft_p99       INTEGER,
    total_p50      INTEGER,
    total_p95      INTEGER,
    total_p99      INTEGER,
    PRIMARY KEY (model_key, granularity, bucket_start)
) WITHOUT ROWID;

-- Retention deletes by granularity and age across all models.
CREATE INDEX rollups_time ON rollups (granularity, bucket_start);

-- Small named integers; today the rollup watermarks ("rollup_watermark_<granularity>").
CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER
);
