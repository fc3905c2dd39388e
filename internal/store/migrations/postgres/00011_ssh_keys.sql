-- +goose Up
-- SSH public keys an organisation registers once and names when it creates
-- VMs. A VM keeps a copy of the key text it was created with, so deleting a
-- key never changes a VM.
CREATE TABLE ssh_keys (
    id          TEXT NOT NULL PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs (id),
    name        TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL DEFAULT '',
    UNIQUE (org_id, name)
);

-- +goose Down
DROP TABLE ssh_keys;
