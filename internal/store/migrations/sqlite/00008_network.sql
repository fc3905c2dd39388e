-- +goose Up
-- Tenant networks: an L2 segment of a VDC (a VXLAN VNI between hosts) with
-- a subnet, a gateway and DNS servers handed out by DHCP.
CREATE TABLE networks (
    id         TEXT    NOT NULL PRIMARY KEY,
    org_id     TEXT    NOT NULL REFERENCES orgs (id),
    vdc_id     TEXT    NOT NULL REFERENCES vdcs (id),
    name       TEXT    NOT NULL,
    cidr       TEXT    NOT NULL,
    gateway    TEXT    NOT NULL,
    dns        TEXT    NOT NULL DEFAULT '[]',
    vni        INTEGER NOT NULL UNIQUE,
    mtu        INTEGER NOT NULL DEFAULT 1450,
    state      TEXT    NOT NULL,
    version    BIGINT  NOT NULL DEFAULT 1,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    UNIQUE (vdc_id, name)
);

-- A VM's network interfaces, with the MAC and address IPAM gave them.
CREATE TABLE nics (
    id         TEXT    NOT NULL PRIMARY KEY,
    vm_id      TEXT    NOT NULL REFERENCES vms (id) ON DELETE CASCADE,
    network_id TEXT    NOT NULL REFERENCES networks (id),
    position   INTEGER NOT NULL,
    mac        TEXT    NOT NULL UNIQUE,
    ip         TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    UNIQUE (network_id, ip),
    UNIQUE (vm_id, position)
);

-- The provider's public address pools per region, and their addresses.
CREATE TABLE public_ip_pools (
    id         TEXT   NOT NULL PRIMARY KEY,
    region_id  TEXT   NOT NULL REFERENCES regions (id),
    name       TEXT   NOT NULL UNIQUE,
    cidr       TEXT   NOT NULL,
    gateway    TEXT   NOT NULL,
    first_ip   TEXT   NOT NULL,
    last_ip    TEXT   NOT NULL,
    uplink     TEXT   NOT NULL,
    version    BIGINT NOT NULL DEFAULT 1,
    created_at TEXT   NOT NULL,
    updated_at TEXT   NOT NULL
);
CREATE TABLE public_ips (
    id           TEXT   NOT NULL PRIMARY KEY,
    pool_id      TEXT   NOT NULL REFERENCES public_ip_pools (id),
    region_id    TEXT   NOT NULL,
    address      TEXT   NOT NULL UNIQUE,
    org_id       TEXT   NOT NULL,
    vdc_id       TEXT   NOT NULL DEFAULT '',
    nic_id       TEXT   NOT NULL DEFAULT '',
    version      BIGINT NOT NULL DEFAULT 1,
    created_at   TEXT   NOT NULL,
    updated_at   TEXT   NOT NULL
);
CREATE INDEX public_ips_by_org ON public_ips (org_id);

-- Firewall rules per VM: ingress from outside is denied unless a rule
-- allows it.
CREATE TABLE firewall_rules (
    id          TEXT    NOT NULL PRIMARY KEY,
    org_id      TEXT    NOT NULL,
    vm_id       TEXT    NOT NULL REFERENCES vms (id) ON DELETE CASCADE,
    direction   TEXT    NOT NULL,
    protocol    TEXT    NOT NULL,
    port_from   INTEGER NOT NULL DEFAULT 0,
    port_to     INTEGER NOT NULL DEFAULT 0,
    cidr        TEXT    NOT NULL DEFAULT '0.0.0.0/0',
    description TEXT    NOT NULL DEFAULT '',
    created_at  TEXT    NOT NULL
);
CREATE INDEX firewall_rules_by_vm ON firewall_rules (vm_id);

-- The address a host's agent uses for VXLAN between hosts.
ALTER TABLE hosts ADD COLUMN underlay_ip TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE hosts DROP COLUMN underlay_ip;
DROP INDEX firewall_rules_by_vm;
DROP TABLE firewall_rules;
DROP INDEX public_ips_by_org;
DROP TABLE public_ips;
DROP TABLE public_ip_pools;
DROP TABLE nics;
DROP TABLE networks;
