-- One row that `/readyz` updates: proof that the database takes a write (not just that a
-- connection is open). The CHECK keeps it a single row.
CREATE TABLE health (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL            -- unix ms of the last readiness check
);
INSERT INTO health (id, checked_at) VALUES (1, 0);
