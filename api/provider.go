package api

import "time"

// Provider is the installation-wide settings of the cloud's operator.
type Provider struct {
	Name          string      `json:"name" doc:"The provider's name, shown to tenants"`
	Currency      string      `json:"currency" doc:"ISO 4217 currency of all prices and invoices" example:"AUD"`
	Branding      Branding    `json:"branding"`
	SignupEnabled bool        `json:"signup_enabled" doc:"Whether anyone may sign up"`
	TrialCredit   TrialCredit `json:"trial_credit"`
	Enforcement   Enforcement `json:"enforcement"`
	Version       int64       `json:"version"`
	UpdatedAt     time.Time   `json:"updated_at"`
}

// Branding is how the console looks for the provider's tenants.
type Branding struct {
	DisplayName  string `json:"display_name,omitempty" maxLength:"100"`
	LogoURL      string `json:"logo_url,omitempty" maxLength:"2000"`
	PrimaryColor string `json:"primary_color,omitempty" pattern:"^#[0-9a-fA-F]{6}$" example:"#0b5fff"`
	AccentColor  string `json:"accent_color,omitempty" pattern:"^#[0-9a-fA-F]{6}$"`
	SupportEmail string `json:"support_email,omitempty" maxLength:"254"`
	SupportURL   string `json:"support_url,omitempty" maxLength:"2000"`
}

// TrialCredit is what a new organisation receives at sign-up.
type TrialCredit struct {
	Amount string `json:"amount" pattern:"^[0-9]+(\\.[0-9]{1,6})?$" doc:"Exact decimal amount in the provider's currency" example:"50.00"`
	Days   int    `json:"days" minimum:"0" maximum:"3650" doc:"Days until the trial credit expires"`
}

// Enforcement is how long an organisation out of credit stays in grace
// (new resources refused) before it is suspended (VMs powered off), and how
// long it stays suspended before it is closed.
type Enforcement struct {
	GraceHours    int `json:"grace_hours" minimum:"0" maximum:"8760" example:"72"`
	RetentionDays int `json:"retention_days" minimum:"0" maximum:"3650" example:"30"`
}

// ProviderUpdate changes provider settings; absent fields stay as they are.
type ProviderUpdate struct {
	Name          *string      `json:"name,omitempty" minLength:"1" maxLength:"100"`
	Currency      *string      `json:"currency,omitempty" pattern:"^[A-Z]{3}$"`
	Branding      *Branding    `json:"branding,omitempty"`
	SignupEnabled *bool        `json:"signup_enabled,omitempty"`
	TrialCredit   *TrialCredit `json:"trial_credit,omitempty"`
	Enforcement   *Enforcement `json:"enforcement,omitempty"`
}
