-- +goose Up
-- Where background readers of append-only tables (the audit log) have got
-- to: one named position each, moved in the transaction of the work it
-- records.
CREATE TABLE cursors (
    name  TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE cursors;
