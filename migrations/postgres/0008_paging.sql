-- PostgreSQL twin of migrations/0008_paging.sql: INTEGER is BIGINT; otherwise the same.
-- Paging: whether PagerDuty (or a webhook channel) has been told an incident was acknowledged.
-- `pages.resolved_at` (0007) already records the resolve being sent.
ALTER TABLE pages ADD COLUMN acknowledged_at BIGINT;
