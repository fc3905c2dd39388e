-- +goose Up
CREATE TABLE provider (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    name           TEXT    NOT NULL,
    currency       TEXT    NOT NULL,
    branding       TEXT    NOT NULL DEFAULT '{}',
    signup_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    trial_amount   TEXT    NOT NULL DEFAULT '0',
    trial_days     INTEGER NOT NULL DEFAULT 30,
    version        BIGINT  NOT NULL DEFAULT 1,
    updated_at     TEXT    NOT NULL
);

CREATE TABLE labels (
    kind        TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (kind, resource_id, key)
);
CREATE INDEX labels_by_value ON labels (kind, key, value);

CREATE TABLE regions (
    id           TEXT   PRIMARY KEY,
    display_name TEXT   NOT NULL DEFAULT '',
    jurisdiction TEXT   NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1,
    created_at   TEXT   NOT NULL,
    updated_at   TEXT   NOT NULL
);

CREATE TABLE zones (
    id           TEXT   PRIMARY KEY,
    region_id    TEXT   NOT NULL REFERENCES regions (id),
    display_name TEXT   NOT NULL DEFAULT '',
    version      BIGINT NOT NULL DEFAULT 1,
    created_at   TEXT   NOT NULL,
    updated_at   TEXT   NOT NULL
);
CREATE INDEX zones_by_region ON zones (region_id);

CREATE TABLE hosts (
    id                TEXT    PRIMARY KEY,
    zone_id           TEXT    NOT NULL REFERENCES zones (id),
    state             TEXT    NOT NULL,
    vcpu              INTEGER NOT NULL DEFAULT 0,
    memory_mib        BIGINT  NOT NULL DEFAULT 0,
    disk_gib          BIGINT  NOT NULL DEFAULT 0,
    cpu_overcommit    REAL    NOT NULL DEFAULT 4,
    memory_overcommit REAL    NOT NULL DEFAULT 1,
    acceleration      TEXT    NOT NULL DEFAULT '',
    agent_version     TEXT    NOT NULL DEFAULT '',
    last_heartbeat    TEXT,
    version           BIGINT  NOT NULL DEFAULT 1,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL
);
CREATE INDEX hosts_by_zone ON hosts (zone_id);

CREATE TABLE sizes (
    id          TEXT    PRIMARY KEY,
    description TEXT    NOT NULL DEFAULT '',
    vcpu        INTEGER NOT NULL,
    memory_mib  BIGINT  NOT NULL,
    disk_gib    BIGINT  NOT NULL,
    price_class TEXT    NOT NULL DEFAULT '',
    deprecated  BOOLEAN NOT NULL DEFAULT FALSE,
    version     BIGINT  NOT NULL DEFAULT 1,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

CREATE TABLE orgs (
    id           TEXT   PRIMARY KEY,
    name         TEXT   NOT NULL UNIQUE,
    display_name TEXT   NOT NULL DEFAULT '',
    state        TEXT   NOT NULL,
    residency    TEXT   NOT NULL DEFAULT '{}',
    version      BIGINT NOT NULL DEFAULT 1,
    created_at   TEXT   NOT NULL,
    updated_at   TEXT   NOT NULL
);

CREATE TABLE users (
    id             TEXT    PRIMARY KEY,
    email          TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL DEFAULT '',
    password_hash  TEXT    NOT NULL,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    version        BIGINT  NOT NULL DEFAULT 1,
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
);

-- org_id is '' for provider-wide roles.
CREATE TABLE role_bindings (
    id         TEXT NOT NULL PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id     TEXT NOT NULL,
    role       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (user_id, org_id)
);
CREATE INDEX role_bindings_by_org ON role_bindings (org_id);

CREATE TABLE invitations (
    id          TEXT NOT NULL PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    state       TEXT NOT NULL,
    invited_by  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    accepted_at TEXT
);
CREATE INDEX invitations_by_org ON invitations (org_id);

-- org_id is '' for provider tokens.
CREATE TABLE tokens (
    id           TEXT NOT NULL PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id       TEXT NOT NULL,
    role         TEXT NOT NULL,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    expires_at   TEXT,
    last_used_at TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX tokens_by_user ON tokens (user_id);

CREATE TABLE sessions (
    id         TEXT NOT NULL PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- One-time tokens sent by mail: e-mail verification and password reset.
CREATE TABLE mail_tokens (
    hash       TEXT NOT NULL PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE vdcs (
    id               TEXT    NOT NULL PRIMARY KEY,
    org_id           TEXT    NOT NULL REFERENCES orgs (id),
    name             TEXT    NOT NULL,
    description      TEXT    NOT NULL DEFAULT '',
    zone_id          TEXT    NOT NULL REFERENCES zones (id),
    allocation_model TEXT    NOT NULL,
    quota_vcpu       INTEGER NOT NULL,
    quota_memory_mib BIGINT  NOT NULL,
    quota_disk_gib   BIGINT  NOT NULL,
    quota_vms        INTEGER NOT NULL,
    quota_public_ips INTEGER NOT NULL,
    state            TEXT    NOT NULL,
    version          BIGINT  NOT NULL DEFAULT 1,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE operations (
    id               TEXT    NOT NULL PRIMARY KEY,
    org_id           TEXT    NOT NULL DEFAULT '',
    kind             TEXT    NOT NULL,
    target_kind      TEXT    NOT NULL,
    target_id        TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    progress         INTEGER NOT NULL DEFAULT 0,
    message          TEXT    NOT NULL DEFAULT '',
    error            TEXT    NOT NULL DEFAULT '',
    input            TEXT    NOT NULL DEFAULT '{}',
    created_by       TEXT    NOT NULL DEFAULT '',
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    attempts         INTEGER NOT NULL DEFAULT 0,
    lease_holder     TEXT    NOT NULL DEFAULT '',
    lease_until      TEXT    NOT NULL DEFAULT '',
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    finished_at      TEXT
);
CREATE INDEX operations_by_org ON operations (org_id, id);
CREATE INDEX operations_by_state ON operations (state, lease_until);

CREATE TABLE audit_events (
    id            TEXT    NOT NULL PRIMARY KEY,
    time          TEXT    NOT NULL,
    actor_type    TEXT    NOT NULL,
    actor_id      TEXT    NOT NULL DEFAULT '',
    actor_email   TEXT    NOT NULL DEFAULT '',
    actor_token   TEXT    NOT NULL DEFAULT '',
    org_id        TEXT    NOT NULL DEFAULT '',
    action        TEXT    NOT NULL,
    resource_kind TEXT    NOT NULL DEFAULT '',
    resource_id   TEXT    NOT NULL DEFAULT '',
    outcome       TEXT    NOT NULL,
    status        INTEGER NOT NULL DEFAULT 0,
    source_ip     TEXT    NOT NULL DEFAULT '',
    request_id    TEXT    NOT NULL DEFAULT '',
    detail        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_by_org ON audit_events (org_id, id);
CREATE INDEX audit_by_time ON audit_events (time);

CREATE TABLE idempotency_keys (
    principal    TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    status       INTEGER NOT NULL DEFAULT 0,
    content_type TEXT    NOT NULL DEFAULT '',
    location     TEXT    NOT NULL DEFAULT '',
    body         TEXT    NOT NULL DEFAULT '',
    created_at   TEXT    NOT NULL,
    PRIMARY KEY (principal, key)
);

CREATE TABLE leases (
    name        TEXT NOT NULL PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    acquired_at TEXT NOT NULL
);

-- +goose Down
DROP TABLE leases;
DROP TABLE idempotency_keys;
DROP TABLE audit_events;
DROP TABLE operations;
DROP TABLE vdcs;
DROP TABLE mail_tokens;
DROP TABLE sessions;
DROP TABLE tokens;
DROP TABLE invitations;
DROP TABLE role_bindings;
DROP TABLE users;
DROP TABLE orgs;
DROP TABLE sizes;
DROP TABLE hosts;
DROP TABLE zones;
DROP TABLE regions;
DROP TABLE labels;
DROP TABLE provider;
