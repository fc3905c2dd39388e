package store

import (
	"context"
	"fmt"
	"time"
)

// PricePlan is a stored price plan of one region and allocation model,
// in force from EffectiveFrom until the next plan of the same region and
// model. Rates is JSON of exact decimal strings (rating.Rates); the store
// keeps it as given. Price plans carry no labels.
type PricePlan struct {
	Meta
	RegionID      string
	Model         string
	EffectiveFrom time.Time
	Currency      string
	Rates         string
	Description   string
}

const pricePlanCols = `t.id, t.region_id, t.allocation_model, t.effective_from, t.currency, t.rates, t.description,
	t.version, t.created_at, t.updated_at`

func scanPricePlan(sc interface{ Scan(...any) error }) (PricePlan, error) {
	var p PricePlan
	var from, created, updated Time
	err := sc.Scan(&p.ID, &p.RegionID, &p.Model, &from, &p.Currency, &p.Rates, &p.Description, &p.Version, &created, &updated)
	p.EffectiveFrom, p.CreatedAt, p.UpdatedAt = from.Time, created.Time, updated.Time
	return p, mapErr(err)
}

// CreatePricePlan stores a new plan. ErrConflict if the region already has
// a plan of that model from the same instant, or the region does not exist.
func (tx *Tx) CreatePricePlan(ctx context.Context, p *PricePlan) error {
	p.created(tx.Now())
	p.EffectiveFrom = p.EffectiveFrom.UTC().Truncate(time.Microsecond)
	_, err := tx.exec(ctx, `INSERT INTO price_plans (id, region_id, allocation_model, effective_from, currency, rates, description,
		version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		p.ID, p.RegionID, p.Model, ts(p.EffectiveFrom), p.Currency, p.Rates, p.Description, p.Version, ts(p.CreatedAt), ts(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create price plan for %s %s from %s: %w", p.RegionID, p.Model, ts(p.EffectiveFrom), err)
	}
	return nil
}

// GetPricePlan reads a plan by ID.
func (tx *Tx) GetPricePlan(ctx context.Context, id string) (*PricePlan, error) {
	p, err := scanPricePlan(tx.queryRow(ctx, `SELECT `+pricePlanCols+` FROM price_plans t WHERE t.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("price plan %s: %w", id, err)
	}
	return &p, nil
}

// ListPricePlans lists every plan, by region, model and effective date:
// few enough (regions × models × price changes) to need no paging.
func (tx *Tx) ListPricePlans(ctx context.Context) ([]PricePlan, error) {
	rows, err := tx.query(ctx, `SELECT `+pricePlanCols+` FROM price_plans t ORDER BY t.region_id, t.allocation_model, t.effective_from`)
	if err != nil {
		return nil, fmt.Errorf("list price plans: %w", err)
	}
	return collect(rows, scanPricePlan)
}

// PricePlanAt returns the plan of region and model in force at at: the one
// with the latest effective date not after it. ErrNotFound if none is.
func (tx *Tx) PricePlanAt(ctx context.Context, regionID, model string, at time.Time) (*PricePlan, error) {
	p, err := scanPricePlan(tx.queryRow(ctx, `SELECT `+pricePlanCols+` FROM price_plans t
		WHERE t.region_id = $1 AND t.allocation_model = $2 AND t.effective_from <= $3 ORDER BY t.effective_from DESC LIMIT 1`,
		regionID, model, ts(at)))
	if err != nil {
		return nil, fmt.Errorf("price plan for %s %s at %s: %w", regionID, model, ts(at), err)
	}
	return &p, nil
}

// DeletePricePlan removes a plan that is not yet in force (its effective
// date after the store's clock). A plan in force, or once in force, is
// ErrConflict: bills were rated by it and history is not rewritten; a new
// plan from a later date replaces it.
func (tx *Tx) DeletePricePlan(ctx context.Context, id string) error {
	return tx.deleteFuture(ctx, "price plan", "price_plans", id, "")
}

// deleteFuture deletes row id of table (of organisation orgID unless
// empty) if its effective_from is after the store's clock, and tells a row
// in force (ErrConflict) from a missing one (ErrNotFound).
func (tx *Tx) deleteFuture(ctx context.Context, what, table, id, orgID string) error {
	var w where
	w.add("id = ?", id)
	if orgID != "" {
		w.add("org_id = ?", orgID)
	}
	var from Time
	if err := mapErr(tx.queryRow(ctx, `SELECT effective_from FROM `+table+w.String(), w.args...).Scan(&from)); err != nil {
		return fmt.Errorf("delete %s %s: %w", what, id, err)
	}
	if !from.After(tx.Now()) {
		return fmt.Errorf("delete %s %s: in force since %s: %w", what, id, ts(from.Time), ErrConflict)
	}
	if err := expectOne(tx.exec(ctx, `DELETE FROM `+table+w.String(), w.args...)); err != nil {
		return fmt.Errorf("delete %s %s: %w", what, id, err)
	}
	return nil
}

// PriceOverride is an organisation's negotiated prices from EffectiveFrom
// until its next override: Rates (JSON of rating.PartialRates) replace the
// plan's, then DiscountPercent (an exact decimal string) comes off every
// line. Overrides carry no labels.
type PriceOverride struct {
	Meta
	OrgID           string
	EffectiveFrom   time.Time
	DiscountPercent string
	Rates           string
	Note            string
}

const priceOverrideCols = `t.id, t.org_id, t.effective_from, t.discount_percent, t.rates, t.note, t.version, t.created_at, t.updated_at`

func scanPriceOverride(sc interface{ Scan(...any) error }) (PriceOverride, error) {
	var o PriceOverride
	var from, created, updated Time
	err := sc.Scan(&o.ID, &o.OrgID, &from, &o.DiscountPercent, &o.Rates, &o.Note, &o.Version, &created, &updated)
	o.EffectiveFrom, o.CreatedAt, o.UpdatedAt = from.Time, created.Time, updated.Time
	return o, mapErr(err)
}

// CreatePriceOverride stores a new override. ErrConflict if the
// organisation already has one from the same instant, or does not exist.
func (tx *Tx) CreatePriceOverride(ctx context.Context, o *PriceOverride) error {
	o.created(tx.Now())
	o.EffectiveFrom = o.EffectiveFrom.UTC().Truncate(time.Microsecond)
	if o.DiscountPercent == "" {
		o.DiscountPercent = "0"
	}
	if o.Rates == "" {
		o.Rates = "{}"
	}
	_, err := tx.exec(ctx, `INSERT INTO price_overrides (id, org_id, effective_from, discount_percent, rates, note, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		o.ID, o.OrgID, ts(o.EffectiveFrom), o.DiscountPercent, o.Rates, o.Note, o.Version, ts(o.CreatedAt), ts(o.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create price override for organisation %s from %s: %w", o.OrgID, ts(o.EffectiveFrom), err)
	}
	return nil
}

// ListPriceOverrides lists the overrides of organisation orgID (every
// organisation if empty) by organisation and effective date.
func (tx *Tx) ListPriceOverrides(ctx context.Context, orgID string) ([]PriceOverride, error) {
	var w where
	if orgID != "" {
		w.add("t.org_id = ?", orgID)
	}
	rows, err := tx.query(ctx, `SELECT `+priceOverrideCols+` FROM price_overrides t`+w.String()+` ORDER BY t.org_id, t.effective_from`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list price overrides: %w", err)
	}
	return collect(rows, scanPriceOverride)
}

// PriceOverrideAt returns organisation orgID's override in force at at, or
// ErrNotFound when it has none.
func (tx *Tx) PriceOverrideAt(ctx context.Context, orgID string, at time.Time) (*PriceOverride, error) {
	o, err := scanPriceOverride(tx.queryRow(ctx, `SELECT `+priceOverrideCols+` FROM price_overrides t
		WHERE t.org_id = $1 AND t.effective_from <= $2 ORDER BY t.effective_from DESC LIMIT 1`, orgID, ts(at)))
	if err != nil {
		return nil, fmt.Errorf("price override of organisation %s at %s: %w", orgID, ts(at), err)
	}
	return &o, nil
}

// DeletePriceOverride removes an override of organisation orgID that is
// not yet in force. One in force is ErrConflict, as for plans: bills were
// rated by it; a new override from a later date (say, with no discount)
// ends it. Another organisation's override is ErrNotFound.
func (tx *Tx) DeletePriceOverride(ctx context.Context, orgID, id string) error {
	return tx.deleteFuture(ctx, "price override", "price_overrides", id, orgID)
}
