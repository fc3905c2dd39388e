package store

import (
	"context"
	"fmt"
)

// Residency is an organisation's data residency policy.
type Residency struct {
	Jurisdictions []string `json:"jurisdictions,omitempty"`
	Regions       []string `json:"regions,omitempty"`
}

// Org is a stored organisation.
type Org struct {
	Meta
	Name        string
	DisplayName string
	State       string
	Residency   Residency
}

const orgCols = `t.id, t.name, t.display_name, t.state, t.residency, t.version, t.created_at, t.updated_at`

func scanOrg(sc interface{ Scan(...any) error }) (Org, error) {
	var o Org
	var created, updated Time
	err := sc.Scan(&o.ID, &o.Name, &o.DisplayName, &o.State, jsonScan{&o.Residency}, &o.Version, &created, &updated)
	o.CreatedAt, o.UpdatedAt = created.Time, updated.Time
	return o, mapErr(err)
}

// CreateOrg stores a new organisation. ErrConflict if the name is taken.
func (tx *Tx) CreateOrg(ctx context.Context, o *Org) error {
	o.created(tx.Now())
	_, err := tx.exec(ctx, `INSERT INTO orgs (id, name, display_name, state, residency, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		o.ID, o.Name, o.DisplayName, o.State, jsonText{o.Residency}, o.Version, ts(o.CreatedAt), ts(o.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create organisation %s: %w", o.Name, err)
	}
	return tx.setLabels(ctx, "org", o.ID, o.Labels)
}

// GetOrg reads an organisation by ID.
func (tx *Tx) GetOrg(ctx context.Context, id string) (*Org, error) {
	o, err := scanOrg(tx.queryRow(ctx, `SELECT `+orgCols+` FROM orgs t WHERE t.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("organisation %s: %w", id, err)
	}
	return &o, tx.loadLabels(ctx, "org", []string{o.ID}, func(_ string, l map[string]string) { o.Labels = l })
}

// GetOrgByName reads an organisation by its short name.
func (tx *Tx) GetOrgByName(ctx context.Context, name string) (*Org, error) {
	o, err := scanOrg(tx.queryRow(ctx, `SELECT `+orgCols+` FROM orgs t WHERE t.name = $1`, name))
	if err != nil {
		return nil, fmt.Errorf("organisation %s: %w", name, err)
	}
	return &o, tx.loadLabels(ctx, "org", []string{o.ID}, func(_ string, l map[string]string) { o.Labels = l })
}

// LookupOrg reads an organisation by ID or name.
func (tx *Tx) LookupOrg(ctx context.Context, idOrName string) (*Org, error) {
	if IsID(idOrName) {
		return tx.GetOrg(ctx, idOrName)
	}
	return tx.GetOrgByName(ctx, idOrName)
}

// ListOrgs lists organisations; when ids is not nil, only those.
func (tx *Tx) ListOrgs(ctx context.Context, ids []string, p Page) ([]Org, string, error) {
	var w where
	if ids != nil {
		if len(ids) == 0 {
			return nil, "", nil
		}
		in := ""
		for i, id := range ids {
			if i > 0 {
				in += ","
			}
			in += w.arg(id)
		}
		w.conds = append(w.conds, "t.id IN ("+in+")")
	}
	tail, err := w.page("org", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+orgCols+` FROM orgs t`+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list organisations: %w", err)
	}
	out, err := collect(rows, scanOrg)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(o Org) string { return o.ID })
	return out, next, attachLabels(ctx, tx, "org", out, func(o *Org) *Meta { return &o.Meta })
}

// UpdateOrg writes a changed organisation and bumps its version.
func (tx *Tx) UpdateOrg(ctx context.Context, o *Org) error {
	o.updated(tx.Now())
	err := expectOne(tx.exec(ctx, `UPDATE orgs SET display_name = $2, state = $3, residency = $4, version = $5, updated_at = $6 WHERE id = $1`,
		o.ID, o.DisplayName, o.State, jsonText{o.Residency}, o.Version, ts(o.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("update organisation %s: %w", o.ID, err)
	}
	return tx.setLabels(ctx, "org", o.ID, o.Labels)
}
