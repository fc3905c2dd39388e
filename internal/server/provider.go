package server

import (
	"context"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Provider settings formats. The OpenAPI schema states them too; checking
// again here keeps the rules in force whatever the schema layer lets through
// and gives the bounds the schema cannot (the amount's integer digits).
var (
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
	// amountPattern is an exact decimal: up to 12 integer digits, up to 6
	// decimals. Amounts stay strings end to end; money is never a float.
	amountPattern = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]{1,6})?$`)
	colorPattern  = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

func providerOf(p *store.Provider) api.Provider {
	b := p.Branding
	return api.Provider{
		Name:     p.Name,
		Currency: p.Currency,
		Branding: api.Branding{DisplayName: b.DisplayName, LogoURL: b.LogoURL, PrimaryColor: b.PrimaryColor,
			AccentColor: b.AccentColor, SupportEmail: b.SupportEmail, SupportURL: b.SupportURL},
		SignupEnabled: p.SignupEnabled,
		TrialCredit:   api.TrialCredit{Amount: p.TrialAmount, Days: p.TrialDays},
		Enforcement:   api.Enforcement{GraceHours: p.GraceHours, RetentionDays: p.RetentionDays},
		Version:       p.Version,
		UpdatedAt:     p.UpdatedAt,
	}
}

// invalidField is a 422 naming the offending request field.
func invalidField(location, format string, value any, args ...any) *api.Error {
	e := api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, format, args...)
	e.Errors = []api.ErrorDetail{{Location: location, Message: e.Detail, Value: value}}
	return e
}

// validateProvider checks settings about to be saved.
func validateProvider(p *store.Provider) error {
	if strings.TrimSpace(p.Name) == "" {
		return invalidField("body.name", "the provider name cannot be blank", p.Name)
	}
	if !currencyPattern.MatchString(p.Currency) {
		return invalidField("body.currency", "currency %q is not an ISO 4217 code (three capital letters, e.g. EUR)", p.Currency, p.Currency)
	}
	if !amountPattern.MatchString(p.TrialAmount) {
		return invalidField("body.trial_credit.amount",
			"trial amount %q is not an exact decimal (digits, optionally a point and up to 6 decimals, e.g. 50.00)", p.TrialAmount, p.TrialAmount)
	}
	if p.TrialDays < 0 || p.TrialDays > 3650 {
		return invalidField("body.trial_credit.days", "trial days must be between 0 and 3650", p.TrialDays)
	}
	b := p.Branding
	for _, c := range []struct{ loc, v string }{{"body.branding.primary_color", b.PrimaryColor}, {"body.branding.accent_color", b.AccentColor}} {
		if c.v != "" && !colorPattern.MatchString(c.v) {
			return invalidField(c.loc, "colour %q is not #rrggbb", c.v, c.v)
		}
	}
	// The console puts these in links and image sources: only web addresses.
	for _, c := range []struct{ loc, v string }{{"body.branding.logo_url", b.LogoURL}, {"body.branding.support_url", b.SupportURL}} {
		if c.v == "" {
			continue
		}
		if u, err := url.Parse(c.v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return invalidField(c.loc, "%q is not an absolute http(s) URL", c.v, c.v)
		}
	}
	if b.SupportEmail != "" {
		if a, err := mail.ParseAddress(b.SupportEmail); err != nil || a.Address != b.SupportEmail {
			return invalidField("body.branding.support_email", "%q is not a plain e-mail address", b.SupportEmail, b.SupportEmail)
		}
	}
	return nil
}

func (s *Server) providerRoutes() {
	tags := []string{"Provider"}
	register(s, huma.Operation{OperationID: "get-provider", Method: http.MethodGet, Path: "/api/v1/provider", Summary: "Get provider settings",
		Description: "Public: the console shows the provider's name and branding before anyone logs in.",
		Tags:        tags, Security: []map[string][]string{{}}},
		func(ctx context.Context, _ *struct{}) (*bodyOut[api.Provider], error) {
			var p *store.Provider
			err := s.store.View(ctx, func(tx *store.Tx) error {
				var err error
				p, err = tx.GetProvider(ctx)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.Provider]{ETag: etag(p.Version), Body: providerOf(p)}, nil
		})

	register(s, huma.Operation{OperationID: "update-provider", Method: http.MethodPatch, Path: "/api/v1/provider", Summary: "Update provider settings",
		Description: "Provider admins only. Absent fields stay as they are; branding and trial_credit, when given, replace the whole object. " +
			"A new trial credit applies to organisations signing up from now on.",
		Tags: tags},
		func(ctx context.Context, in *struct {
			IfMatch string `header:"If-Match" doc:"ETag from a previous read; the update fails with 412 if the settings changed since"`
			Body    api.ProviderUpdate
		}) (*bodyOut[api.Provider], error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			var p *store.Provider
			err := s.store.Tx(ctx, func(tx *store.Tx) error {
				var err error
				if p, err = tx.GetProvider(ctx); err != nil {
					return err
				}
				if err := checkIfMatch(in.IfMatch, p.Version); err != nil {
					return err
				}
				b := in.Body
				var changed []string
				if b.Name != nil {
					p.Name, changed = *b.Name, append(changed, "name")
				}
				if b.Currency != nil {
					p.Currency, changed = *b.Currency, append(changed, "currency")
				}
				if b.Branding != nil {
					p.Branding, changed = store.Branding(*b.Branding), append(changed, "branding")
				}
				if b.SignupEnabled != nil {
					p.SignupEnabled, changed = *b.SignupEnabled, append(changed, "signup_enabled")
				}
				if b.TrialCredit != nil {
					p.TrialAmount, p.TrialDays, changed = b.TrialCredit.Amount, b.TrialCredit.Days, append(changed, "trial_credit")
				}
				if b.Enforcement != nil {
					p.GraceHours, p.RetentionDays, changed = b.Enforcement.GraceHours, b.Enforcement.RetentionDays, append(changed, "enforcement")
				}
				if err := validateProvider(p); err != nil {
					return err
				}
				if err := tx.PutProvider(ctx, p); err != nil {
					return err
				}
				detail := ""
				if len(changed) > 0 {
					detail = "changed: " + strings.Join(changed, ", ")
				}
				return s.audit(ctx, tx, "provider.update", "provider", "", "", detail)
			})
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.Provider]{ETag: etag(p.Version), Body: providerOf(p)}, nil
		})
}
