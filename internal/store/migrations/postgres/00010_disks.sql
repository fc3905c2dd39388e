-- +goose Up
-- Data disks: block volumes of a VDC, attached to at most one VM. A disk
-- is bound to the host that holds its file from its first attachment on
-- (host_id NULL until then): it attaches only to VMs of that host. A
-- deleted disk stays, in state deleting, until its host stops reporting
-- the file; its name is free again at once.
CREATE TABLE disks (
    id         TEXT    NOT NULL PRIMARY KEY,
    org_id     TEXT    NOT NULL REFERENCES orgs (id),
    vdc_id     TEXT    NOT NULL REFERENCES vdcs (id),
    name       TEXT    NOT NULL,
    size_gib   BIGINT  NOT NULL,
    state      TEXT    NOT NULL,
    host_id    TEXT    REFERENCES hosts (id),
    vm_id      TEXT    REFERENCES vms (id) ON DELETE SET NULL,
    position   INTEGER NOT NULL DEFAULT 0,
    version    BIGINT  NOT NULL DEFAULT 1,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);
CREATE UNIQUE INDEX disks_live_name ON disks (org_id, name) WHERE state <> 'deleting';
CREATE INDEX disks_by_org_id ON disks (org_id, id);
CREATE INDEX disks_by_vdc ON disks (vdc_id, id);
CREATE INDEX disks_by_host ON disks (host_id);
CREATE INDEX disks_by_vm ON disks (vm_id, position);

-- +goose Down
DROP INDEX disks_by_vm;
DROP INDEX disks_by_host;
DROP INDEX disks_by_vdc;
DROP INDEX disks_by_org_id;
DROP INDEX disks_live_name;
DROP TABLE disks;
