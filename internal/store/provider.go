package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Provider is the installation's single settings row.
type Provider struct {
	Name          string
	Currency      string
	Branding      Branding
	SignupEnabled bool
	// TrialAmount is an exact decimal string in Currency, never a float.
	TrialAmount string
	TrialDays   int
	// GraceHours is how long an organisation out of credit stays in grace
	// before it is suspended; RetentionDays how long it stays suspended
	// before it is closed.
	GraceHours    int
	RetentionDays int
	// Version is 0 while the defaults have never been saved.
	Version   int64
	UpdatedAt time.Time
}

// Branding is how the console looks for the provider's tenants; stored as JSON.
type Branding struct {
	DisplayName  string `json:"display_name,omitempty"`
	LogoURL      string `json:"logo_url,omitempty"`
	PrimaryColor string `json:"primary_color,omitempty"`
	AccentColor  string `json:"accent_color,omitempty"`
	SupportEmail string `json:"support_email,omitempty"`
	SupportURL   string `json:"support_url,omitempty"`
}

// DefaultProvider is what a new installation uses until an admin (or the
// seeding code) saves settings.
func DefaultProvider() Provider {
	return Provider{Name: "Sirocco", Currency: "USD", SignupEnabled: true, TrialAmount: "0.00", TrialDays: 30, GraceHours: 72, RetentionDays: 30}
}

// GetProvider reads the provider settings, or the defaults when none were saved.
func (tx *Tx) GetProvider(ctx context.Context) (*Provider, error) {
	var p Provider
	var updated Time
	err := mapErr(tx.queryRow(ctx, `SELECT name, currency, branding, signup_enabled, trial_amount, trial_days, grace_hours, retention_days, version, updated_at
		FROM provider WHERE id = 1`).Scan(&p.Name, &p.Currency, jsonScan{&p.Branding}, &p.SignupEnabled, &p.TrialAmount, &p.TrialDays,
		&p.GraceHours, &p.RetentionDays, &p.Version, &updated))
	if errors.Is(err, ErrNotFound) {
		d := DefaultProvider()
		return &d, nil
	}
	if err != nil {
		return nil, fmt.Errorf("provider settings: %w", err)
	}
	p.UpdatedAt = updated.Time
	return &p, nil
}

// PutProvider saves the provider settings, creating the row the first time,
// and bumps p's version.
func (tx *Tx) PutProvider(ctx context.Context, p *Provider) error {
	p.Version++
	p.UpdatedAt = tx.Now()
	_, err := tx.exec(ctx, `INSERT INTO provider (id, name, currency, branding, signup_enabled, trial_amount, trial_days,
			grace_hours, retention_days, version, updated_at)
		VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, currency = excluded.currency, branding = excluded.branding,
			signup_enabled = excluded.signup_enabled, trial_amount = excluded.trial_amount, trial_days = excluded.trial_days,
			grace_hours = excluded.grace_hours, retention_days = excluded.retention_days,
			version = excluded.version, updated_at = excluded.updated_at`,
		p.Name, p.Currency, jsonText{p.Branding}, p.SignupEnabled, p.TrialAmount, p.TrialDays, p.GraceHours, p.RetentionDays,
		p.Version, ts(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("save provider settings: %w", err)
	}
	return nil
}
