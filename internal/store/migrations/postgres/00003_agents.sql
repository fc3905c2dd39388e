-- +goose Up
-- One-time tokens an operator hands to a new hypervisor host's agent.
CREATE TABLE join_tokens (
    hash       TEXT NOT NULL PRIMARY KEY,
    host_id    TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    created_by TEXT NOT NULL DEFAULT '',
    expires_at TEXT NOT NULL,
    used_at    TEXT,
    created_at TEXT NOT NULL
);
-- The hash of the credential a joined agent authenticates with, and the
-- agent protocol version it speaks.
ALTER TABLE hosts ADD COLUMN agent_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN protocol INTEGER NOT NULL DEFAULT 0;
CREATE INDEX hosts_by_agent_hash ON hosts (agent_hash);

-- +goose Down
DROP INDEX hosts_by_agent_hash;
ALTER TABLE hosts DROP COLUMN protocol;
ALTER TABLE hosts DROP COLUMN agent_hash;
DROP TABLE join_tokens;
