-- PostgreSQL twin of migrations/0014_agents.sql: the api_tokens rebuild (SQLite's only way to change a CHECK) is an ALTER TABLE that replaces the named CHECK in place; INTEGER is BIGINT, `WITHOUT ROWID` is left out.
-- Probes from more than one place (issue 16): agents push their results here.
--
-- 1. API tokens get the `agent` scope: it may push probe results and nothing else.
--    PostgreSQL changes the CHECK in place (as in 0012).
ALTER TABLE api_tokens
    DROP CONSTRAINT api_tokens_scope_check,
    ADD CONSTRAINT api_tokens_scope_check CHECK (scope IN ('read', 'operate', 'admin', 'ingest', 'agent'));

-- 2. Each result says where it was probed from: NULL is this server's own scheduler, else
--    the agent's name (its region is in `agents`).
ALTER TABLE probe_results ADD COLUMN vantage TEXT;

-- 3. The agents that have reported, with what they last said of themselves.
CREATE TABLE agents (
    name          TEXT    PRIMARY KEY,          -- the agent's token's name
    region        TEXT    NOT NULL,
    version       TEXT,
    first_seen_at BIGINT  NOT NULL,             -- unix milliseconds
    last_seen_at  BIGINT  NOT NULL,
    batches       BIGINT  NOT NULL DEFAULT 0,
    results       BIGINT  NOT NULL DEFAULT 0
);

-- 4. Batches received, by the id the agent gave them: a batch sent again (the answer was
--    lost, the agent retried) is acknowledged without being stored twice. Kept 7 days,
--    far longer than an agent buffers (its disk buffer is bounded).
CREATE TABLE agent_batches (
    batch_id    TEXT    PRIMARY KEY,
    agent       TEXT    NOT NULL,
    received_at BIGINT  NOT NULL,
    results     BIGINT  NOT NULL
);
CREATE INDEX agent_batches_received ON agent_batches (received_at);
