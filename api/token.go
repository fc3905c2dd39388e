package api

import "time"

// Token is an API token. Its secret is shown once, at creation; only a hash
// is stored.
type Token struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix" doc:"First characters of the secret, to recognise it"`
	User       string     `json:"user"`
	Org        string     `json:"org,omitempty" doc:"Organisation the token acts in; empty for a provider token"`
	Role       string     `json:"role"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
}

// TokenSummary identifies the token a request used.
type TokenSummary struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Org  string `json:"org,omitempty"`
	Role string `json:"role"`
}

// TokenCreate makes a token for the caller. The role may not exceed the
// caller's own role in Org (or provider role, for a provider token).
type TokenCreate struct {
	Name      string     `json:"name" minLength:"1" maxLength:"100"`
	Org       string     `json:"org,omitempty" doc:"Organisation ID or name; empty for a provider token"`
	Role      string     `json:"role" enum:"provider-admin,provider-viewer,org-admin,org-member,org-viewer"`
	ExpiresIn string     `json:"expires_in,omitempty" doc:"Lifetime as a Go duration, e.g. 720h; default 90 days" example:"720h"`
	ExpiresAt *time.Time `json:"expires_at,omitempty" doc:"Absolute expiry; overrides expires_in"`
}

// TokenCreated is the new token with its secret.
type TokenCreated struct {
	Token
	Secret string `json:"secret" doc:"The bearer token; shown only now"`
}
