-- +goose Up
-- Whether the operator drained a host, kept apart from its state so that a
-- drained host that goes down and comes back is still drained.
ALTER TABLE hosts ADD COLUMN drain BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE hosts SET drain = TRUE WHERE state = 'draining';

-- +goose Down
ALTER TABLE hosts DROP COLUMN drain;
