-- +goose Up
-- The image catalog: public images have org_id '' (the provider's).
CREATE TABLE images (
    id           TEXT    NOT NULL PRIMARY KEY,
    org_id       TEXT    NOT NULL DEFAULT '',
    name         TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    kind         TEXT    NOT NULL,
    os           TEXT    NOT NULL DEFAULT '',
    cmdline      TEXT    NOT NULL DEFAULT '',
    min_disk_gib BIGINT  NOT NULL DEFAULT 0,
    state        TEXT    NOT NULL,
    message      TEXT    NOT NULL DEFAULT '',
    source       TEXT    NOT NULL DEFAULT '',
    -- JSON: the stored files ([{name, size, sha256, virtual_size}]) and the
    -- checksums the uploader promised ({"disk": "<sha256>"}).
    files        TEXT    NOT NULL DEFAULT '[]',
    expect       TEXT    NOT NULL DEFAULT '{}',
    version      BIGINT  NOT NULL DEFAULT 1,
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    UNIQUE (org_id, name)
);

-- Which hosts hold a verified copy of an image in their cache, as their
-- agents report it.
CREATE TABLE image_copies (
    image_id    TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    host_id     TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    reported_at TEXT NOT NULL,
    PRIMARY KEY (image_id, host_id)
);
CREATE INDEX image_copies_by_host ON image_copies (host_id);

-- VMs: desired state (power, size, one-shot actions by generation) written
-- by the API, observed state written from the host's reports.
CREATE TABLE vms (
    id                  TEXT    NOT NULL PRIMARY KEY,
    org_id              TEXT    NOT NULL REFERENCES orgs (id),
    vdc_id              TEXT    NOT NULL REFERENCES vdcs (id),
    name                TEXT    NOT NULL,
    hostname            TEXT    NOT NULL,
    image_id            TEXT    NOT NULL REFERENCES images (id),
    size_id             TEXT    NOT NULL,
    vcpu                INTEGER NOT NULL,
    memory_mib          BIGINT  NOT NULL,
    disk_gib            BIGINT  NOT NULL,
    host_id             TEXT    NOT NULL REFERENCES hosts (id),
    anti_affinity       TEXT    NOT NULL DEFAULT '',
    ssh_keys            TEXT    NOT NULL DEFAULT '[]',
    user_data           TEXT    NOT NULL DEFAULT '',
    power               TEXT    NOT NULL,
    generation          BIGINT  NOT NULL DEFAULT 1,
    stop_timeout        INTEGER NOT NULL DEFAULT 60,
    reboot_at           BIGINT  NOT NULL DEFAULT 0,
    force_off_at        BIGINT  NOT NULL DEFAULT 0,
    revert_at           BIGINT  NOT NULL DEFAULT 0,
    revert_to           TEXT    NOT NULL DEFAULT '',
    state               TEXT    NOT NULL,
    message             TEXT    NOT NULL DEFAULT '',
    observed_generation BIGINT  NOT NULL DEFAULT 0,
    observed_at         TEXT,
    version             BIGINT  NOT NULL DEFAULT 1,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    UNIQUE (org_id, name)
);
CREATE INDEX vms_by_host ON vms (host_id);
CREATE INDEX vms_by_vdc ON vms (vdc_id);
CREATE INDEX vms_by_image ON vms (image_id);
CREATE INDEX vms_by_group ON vms (org_id, anti_affinity);

CREATE TABLE vm_snapshots (
    id         TEXT   NOT NULL PRIMARY KEY,
    vm_id      TEXT   NOT NULL REFERENCES vms (id) ON DELETE CASCADE,
    org_id     TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    state      TEXT   NOT NULL,
    version    BIGINT NOT NULL DEFAULT 1,
    created_at TEXT   NOT NULL,
    updated_at TEXT   NOT NULL,
    UNIQUE (vm_id, name)
);

-- Rises whenever the desired state of a VM on the host changes, so that an
-- agent's long-poll knows when to answer.
ALTER TABLE hosts ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE hosts DROP COLUMN generation;
DROP TABLE vm_snapshots;
DROP INDEX vms_by_group;
DROP INDEX vms_by_image;
DROP INDEX vms_by_vdc;
DROP INDEX vms_by_host;
DROP TABLE vms;
DROP INDEX image_copies_by_host;
DROP TABLE image_copies;
DROP TABLE images;
