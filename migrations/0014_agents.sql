-- Probes from more than one place (issue 16): agents push their results here.
--
-- 1. API tokens get the `agent` scope: it may push probe results and nothing else. SQLite
--    cannot change a CHECK constraint in place, so the table is rebuilt (as in 0012).
CREATE TABLE api_tokens_new (
    id           TEXT    PRIMARY KEY,
    token_hash   TEXT    NOT NULL UNIQUE,
    scope        TEXT    NOT NULL CHECK (scope IN ('read', 'operate', 'admin', 'ingest', 'agent')),
    name         TEXT    NOT NULL,
    created_by   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
INSERT INTO api_tokens_new (id, token_hash, scope, name, created_by, created_at, last_used_at, revoked_at)
    SELECT id, token_hash, scope, name, created_by, created_at, last_used_at, revoked_at FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;

-- 2. Each result says where it was probed from: NULL is this server's own scheduler, else
--    the agent's name (its region is in `agents`).
ALTER TABLE probe_results ADD COLUMN vantage TEXT;

-- 3. The agents that have reported, with what they last said of themselves.
CREATE TABLE agents (
    name          TEXT    PRIMARY KEY,          -- the agent's token's name
    region        TEXT    NOT NULL,
    version       TEXT,
    first_seen_at INTEGER NOT NULL,             -- unix milliseconds
    last_seen_at  INTEGER NOT NULL,
    batches       INTEGER NOT NULL DEFAULT 0,
    results       INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- 4. Batches received, by the id the agent gave them: a batch sent again (the answer was
--    lost, the agent retried) is acknowledged without being stored twice. Kept 7 days,
--    far longer than an agent buffers (its disk buffer is bounded).
CREATE TABLE agent_batches (
    batch_id    TEXT    PRIMARY KEY,
    agent       TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    results     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX agent_batches_received ON agent_batches (received_at);
