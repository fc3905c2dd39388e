-- +goose Up
-- Billing. Money is exact: decimal strings (TEXT), parsed with
-- shopspring/decimal, never floats. Times are UTC TEXT like every table.

-- Price plans: effective-dated per region and allocation model. A plan
-- applies from effective_from until the next plan of the same region and
-- model. rates is JSON of decimal strings (rating.Rates).
CREATE TABLE price_plans (
    id               TEXT   NOT NULL PRIMARY KEY,
    region_id        TEXT   NOT NULL REFERENCES regions (id),
    allocation_model TEXT   NOT NULL,
    effective_from   TEXT   NOT NULL,
    currency         TEXT   NOT NULL,
    rates            TEXT   NOT NULL,
    description      TEXT   NOT NULL DEFAULT '',
    version          BIGINT NOT NULL DEFAULT 1,
    created_at       TEXT   NOT NULL,
    updated_at       TEXT   NOT NULL,
    UNIQUE (region_id, allocation_model, effective_from)
);

-- Per-organisation negotiated rates or discounts, effective-dated.
CREATE TABLE price_overrides (
    id               TEXT   NOT NULL PRIMARY KEY,
    org_id           TEXT   NOT NULL REFERENCES orgs (id),
    effective_from   TEXT   NOT NULL,
    discount_percent TEXT   NOT NULL DEFAULT '0',
    rates            TEXT   NOT NULL DEFAULT '{}',
    note             TEXT   NOT NULL DEFAULT '',
    version          BIGINT NOT NULL DEFAULT 1,
    created_at       TEXT   NOT NULL,
    updated_at       TEXT   NOT NULL,
    UNIQUE (org_id, effective_from)
);

-- Usage spans: [started_at, ended_at) of unchanged billable state, opened
-- and closed in the transaction of the state change. One open span per
-- resource and meter, enforced here.
CREATE TABLE usage_spans (
    id               TEXT    NOT NULL PRIMARY KEY,
    org_id           TEXT    NOT NULL,
    vdc_id           TEXT    NOT NULL DEFAULT '',
    region_id        TEXT    NOT NULL,
    allocation_model TEXT    NOT NULL,
    resource_kind    TEXT    NOT NULL,
    resource_id      TEXT    NOT NULL,
    resource_name    TEXT    NOT NULL DEFAULT '',
    meter            TEXT    NOT NULL,
    vcpu             INTEGER NOT NULL DEFAULT 0,
    memory_mib       BIGINT  NOT NULL DEFAULT 0,
    size_gib         BIGINT  NOT NULL DEFAULT 0,
    class            TEXT    NOT NULL DEFAULT '',
    power_on_id      TEXT    NOT NULL DEFAULT '',
    started_at       TEXT    NOT NULL,
    ended_at         TEXT,
    source           TEXT    NOT NULL,
    reason           TEXT    NOT NULL DEFAULT '',
    created_at       TEXT    NOT NULL
);
CREATE UNIQUE INDEX usage_spans_one_open ON usage_spans (resource_id, meter) WHERE ended_at IS NULL;
CREATE INDEX usage_spans_by_org ON usage_spans (org_id, started_at);
CREATE INDEX usage_spans_by_end ON usage_spans (ended_at);

-- Egress counters from the agents' taps; delta_bytes is the increase since
-- the previous sample, with counter resets handled.
CREATE TABLE egress_samples (
    vm_id         TEXT   NOT NULL,
    org_id        TEXT   NOT NULL,
    sampled_at    TEXT   NOT NULL,
    counter_bytes BIGINT NOT NULL,
    delta_bytes   BIGINT NOT NULL,
    PRIMARY KEY (vm_id, sampled_at)
);

-- Rated lines: the output of rating one window. Re-rating the same input is
-- a no-op (same input_hash); changed input adds a delta line.
CREATE TABLE rated_lines (
    id            TEXT NOT NULL PRIMARY KEY,
    org_id        TEXT NOT NULL,
    vdc_id        TEXT NOT NULL DEFAULT '',
    resource_kind TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    resource_name TEXT NOT NULL DEFAULT '',
    meter         TEXT NOT NULL,
    window_start  TEXT NOT NULL,
    window_end    TEXT NOT NULL,
    quantity      TEXT NOT NULL,
    unit          TEXT NOT NULL,
    unit_price    TEXT NOT NULL,
    amount        TEXT NOT NULL,
    currency      TEXT NOT NULL,
    plan_id       TEXT NOT NULL,
    input_hash    TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    posted_txn    TEXT NOT NULL DEFAULT '',
    invoice_id    TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    UNIQUE (org_id, resource_id, meter, window_start, input_hash)
);
CREATE INDEX rated_lines_by_org_window ON rated_lines (org_id, window_start);
CREATE INDEX rated_lines_unposted ON rated_lines (posted_txn);
CREATE INDEX rated_lines_by_window ON rated_lines (window_start);

-- How far rating has got: windows before rated_until are rated.
CREATE TABLE rating_watermark (
    id          INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    rated_until TEXT    NOT NULL
);

-- Credit grants. trial_key (the verified e-mail) makes a trial once per
-- address.
CREATE TABLE credit_grants (
    id           TEXT    NOT NULL PRIMARY KEY,
    org_id       TEXT    NOT NULL REFERENCES orgs (id),
    kind         TEXT    NOT NULL,
    amount       TEXT    NOT NULL,
    currency     TEXT    NOT NULL,
    priority     INTEGER NOT NULL DEFAULT 0,
    effective_at TEXT    NOT NULL,
    expires_at   TEXT,
    trial_key    TEXT UNIQUE,
    granted_by   TEXT    NOT NULL DEFAULT '',
    reason       TEXT    NOT NULL DEFAULT '',
    expired_at   TEXT,
    created_at   TEXT    NOT NULL
);
CREATE INDEX credit_grants_by_org ON credit_grants (org_id);

-- The double-entry ledger, append-only: every transaction's entries sum
-- to zero per currency.
CREATE TABLE ledger_txns (
    id              TEXT NOT NULL PRIMARY KEY,
    org_id          TEXT NOT NULL DEFAULT '',
    kind            TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    booked_at       TEXT NOT NULL,
    memo            TEXT NOT NULL DEFAULT ''
);
CREATE TABLE ledger_entries (
    id       TEXT NOT NULL PRIMARY KEY,
    txn_id   TEXT NOT NULL REFERENCES ledger_txns (id),
    account  TEXT NOT NULL,
    amount   TEXT NOT NULL,
    currency TEXT NOT NULL
);
CREATE INDEX ledger_entries_by_account ON ledger_entries (account);
CREATE INDEX ledger_entries_by_txn ON ledger_entries (txn_id);

-- Enforcement state beside orgs.state: warnings fired for the current
-- credit, when grace and suspension began, the provider's override.
CREATE TABLE org_billing (
    org_id          TEXT NOT NULL PRIMARY KEY REFERENCES orgs (id),
    warned          TEXT NOT NULL DEFAULT '[]',
    grace_since     TEXT,
    suspended_since TEXT,
    override        TEXT NOT NULL DEFAULT '',
    updated_at      TEXT NOT NULL
);

-- Invoices and credit notes. number is assigned, gapless, when finalized.
CREATE TABLE invoices (
    id           TEXT   NOT NULL PRIMARY KEY,
    org_id       TEXT   NOT NULL REFERENCES orgs (id),
    kind         TEXT   NOT NULL,
    corrects     TEXT   NOT NULL DEFAULT '',
    number       BIGINT UNIQUE,
    period_start TEXT   NOT NULL,
    period_end   TEXT   NOT NULL,
    state        TEXT   NOT NULL,
    currency     TEXT   NOT NULL,
    subtotal     TEXT   NOT NULL DEFAULT '0',
    credits      TEXT   NOT NULL DEFAULT '0',
    total        TEXT   NOT NULL DEFAULT '0',
    finalized_at TEXT,
    paid_at      TEXT,
    voided_at    TEXT,
    version      BIGINT NOT NULL DEFAULT 1,
    created_at   TEXT   NOT NULL,
    updated_at   TEXT   NOT NULL
);
CREATE UNIQUE INDEX invoices_one_per_period ON invoices (org_id, period_start) WHERE kind = 'invoice';
CREATE TABLE invoice_lines (
    id             TEXT    NOT NULL PRIMARY KEY,
    invoice_id     TEXT    NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,
    description    TEXT    NOT NULL,
    resource_kind  TEXT    NOT NULL DEFAULT '',
    resource_id    TEXT    NOT NULL DEFAULT '',
    meter          TEXT    NOT NULL DEFAULT '',
    quantity       TEXT    NOT NULL,
    unit           TEXT    NOT NULL,
    unit_price     TEXT    NOT NULL,
    amount         TEXT    NOT NULL,
    rated_line_ids TEXT    NOT NULL DEFAULT '[]'
);
CREATE TABLE invoice_numbers (
    id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    next BIGINT  NOT NULL
);

-- Budgets and the alerts they fired (once per period and threshold).
CREATE TABLE budgets (
    id         TEXT   NOT NULL PRIMARY KEY,
    org_id     TEXT   NOT NULL REFERENCES orgs (id),
    vdc_id     TEXT   NOT NULL DEFAULT '',
    name       TEXT   NOT NULL,
    amount     TEXT   NOT NULL,
    thresholds TEXT   NOT NULL DEFAULT '[50,80,100]',
    emails     TEXT   NOT NULL DEFAULT '[]',
    version    BIGINT NOT NULL DEFAULT 1,
    created_at TEXT   NOT NULL,
    updated_at TEXT   NOT NULL,
    UNIQUE (org_id, name)
);
CREATE TABLE budget_alerts (
    budget_id    TEXT    NOT NULL REFERENCES budgets (id) ON DELETE CASCADE,
    period_start TEXT    NOT NULL,
    threshold    INTEGER NOT NULL,
    fired_at     TEXT    NOT NULL,
    PRIMARY KEY (budget_id, period_start, threshold)
);

-- Webhooks of organisations (org_id) and of the provider (org_id '').
CREATE TABLE webhooks (
    id          TEXT    NOT NULL PRIMARY KEY,
    org_id      TEXT    NOT NULL DEFAULT '',
    url         TEXT    NOT NULL,
    secret      TEXT    NOT NULL,
    event_types TEXT    NOT NULL DEFAULT '[]',
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    version     BIGINT  NOT NULL DEFAULT 1,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE TABLE webhook_deliveries (
    id              TEXT    NOT NULL PRIMARY KEY,
    webhook_id      TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    next_attempt_at TEXT    NOT NULL,
    delivered_at    TEXT,
    created_at      TEXT    NOT NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);

-- Enforcement timing, per provider.
ALTER TABLE provider ADD COLUMN grace_hours INTEGER NOT NULL DEFAULT 72;
ALTER TABLE provider ADD COLUMN retention_days INTEGER NOT NULL DEFAULT 30;

-- +goose Down
ALTER TABLE provider DROP COLUMN retention_days;
ALTER TABLE provider DROP COLUMN grace_hours;
DROP INDEX webhook_deliveries_due;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE budget_alerts;
DROP TABLE budgets;
DROP TABLE invoice_numbers;
DROP TABLE invoice_lines;
DROP INDEX invoices_one_per_period;
DROP TABLE invoices;
DROP TABLE org_billing;
DROP INDEX ledger_entries_by_txn;
DROP INDEX ledger_entries_by_account;
DROP TABLE ledger_entries;
DROP TABLE ledger_txns;
DROP INDEX credit_grants_by_org;
DROP TABLE credit_grants;
DROP TABLE rating_watermark;
DROP INDEX rated_lines_by_window;
DROP INDEX rated_lines_unposted;
DROP INDEX rated_lines_by_org_window;
DROP TABLE rated_lines;
DROP TABLE egress_samples;
DROP INDEX usage_spans_by_end;
DROP INDEX usage_spans_by_org;
DROP INDEX usage_spans_one_open;
DROP TABLE usage_spans;
DROP TABLE price_overrides;
DROP TABLE price_plans;
