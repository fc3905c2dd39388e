package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/billing/enforce"
	"github.com/sirocco-cloud/sirocco/internal/billing/ledger"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// creditLedger and creditEnforcer work on the server's store; they hold no
// state, so building them per request costs nothing.
func (s *Server) creditLedger() *ledger.Ledger { return &ledger.Ledger{Store: s.store} }

func (s *Server) creditEnforcer() *enforce.Enforcer {
	return &enforce.Enforcer{Store: s.store, Ledger: s.creditLedger(), Log: s.log}
}

func creditGrantOf(g *ledger.GrantBalance) api.CreditGrant {
	return api.CreditGrant{
		ID:               g.ID,
		Kind:             g.Kind,
		Amount:           g.Amount,
		Remaining:        g.Remaining.String(),
		RemainingDisplay: ledger.Display(g.Remaining, g.Currency),
		Currency:         g.Currency,
		Priority:         g.Priority,
		EffectiveAt:      g.EffectiveAt,
		ExpiresAt:        g.ExpiresAt,
		ExpiredAt:        g.ExpiredAt,
		Usable:           g.Usable,
		Reason:           g.Reason,
		GrantedBy:        g.GrantedBy,
		CreatedAt:        g.CreatedAt,
	}
}

func balanceOf(o *store.Org, b *store.OrgBilling, bal *ledger.Balance, now time.Time) api.Balance {
	out := api.Balance{
		Currency:         bal.Currency,
		Available:        bal.Available.String(),
		AvailableDisplay: bal.Display,
		CreditRemaining:  bal.Credit.String(),
		CreditDisplay:    ledger.Display(bal.Credit, bal.Currency),
		Owed:             bal.Owed.String(),
		OwedDisplay:      ledger.Display(bal.Owed, bal.Currency),
		Accrued:          bal.Accrued.String(),
		AccruedDisplay:   ledger.Display(bal.Accrued, bal.Currency),
		State:            o.State,
		Override:         b.Override,
		Grants:           []api.CreditGrant{},
		AsOf:             now.UTC(),
		Warnings:         slices.Clone(b.Warned),
	}
	for i := range bal.Grants {
		out.Grants = append(out.Grants, creditGrantOf(&bal.Grants[i]))
	}
	return out
}

// Inputs of the credit endpoints.
type (
	creditOrgPath struct {
		Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
	}
	creditGrantIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Body api.CreditGrantCreate
	}
	creditOverrideIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Body api.BillingOverride
	}
	balanceOut struct {
		Body api.Balance
	}
	creditCreatedOut struct {
		Location string `header:"Location"`
		Body     api.CreditGrant
	}
)

// readBalance reads an organisation's balance as the caller may see it.
func (s *Server) readBalance(ctx context.Context, ref string) (*balanceOut, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	var out api.Balance
	err = s.store.View(ctx, func(tx *store.Tx) error {
		o, err := s.orgFor(ctx, tx, p, ref, canRead)
		if err != nil {
			return err
		}
		b, err := tx.GetOrgBilling(ctx, o.ID)
		if err != nil {
			return err
		}
		bal, err := s.creditLedger().Balance(ctx, tx, o.ID, now)
		if err != nil {
			return err
		}
		out = balanceOf(o, b, &bal, now)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &balanceOut{Body: out}, nil
}

// reenforce brings an organisation to the state its new balance or override
// calls for, at once rather than at the loop's next turn. The change is
// committed already; if this fails the loop catches up within a minute.
func (s *Server) reenforce(ctx context.Context, orgID string) {
	if err := s.creditEnforcer().RunOrg(context.WithoutCancel(ctx), orgID, s.cfg.Now()); err != nil {
		s.log.ErrorContext(ctx, "enforce after a billing change", "org", orgID, "err", err)
	}
}

func (s *Server) creditRoutes() {
	tags := []string{"Billing"}

	register(s, huma.Operation{OperationID: "get-balance", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/balance",
		Summary: "Get the balance",
		Description: "The real-time balance: credit left on usable grants, minus what is owed, minus usage not charged yet " +
			"(rated and unrated, priced now). Exact amounts are decimal strings; the *_display fields are rounded half-up " +
			"to the currency's minor unit. Any role in the organisation may read it.",
		Tags: tags},
		func(ctx context.Context, in *creditOrgPath) (*balanceOut, error) {
			return s.readBalance(ctx, in.Org)
		})

	register(s, huma.Operation{OperationID: "list-credits", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/credits",
		Summary: "List credit grants", Description: "Every credit grant of the organisation in burn order, with what is left of it.",
		Tags: tags},
		func(ctx context.Context, in *creditOrgPath) (*listOut[api.CreditGrant], error) {
			b, err := s.readBalance(ctx, in.Org)
			if err != nil {
				return nil, err
			}
			return &listOut[api.CreditGrant]{Body: &api.List[api.CreditGrant]{Items: b.Body.Grants}}, nil
		})

	register(s, huma.Operation{OperationID: "grant-credit", Method: http.MethodPost, Path: "/api/v1/orgs/{org}/credits",
		Summary: "Grant credit",
		Description: "Gives an organisation credit in the provider's currency: a paid top-up or a promotional credit. " +
			"Provider admins only. Service comes back at once when the balance turns positive.",
		Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *creditGrantIn) (*creditCreatedOut, error) {
			p, err := requireProviderAdmin(ctx)
			if err != nil {
				return nil, err
			}
			b := in.Body
			amount, err := decimal.NewFromString(b.Amount)
			if err != nil || !amount.IsPositive() {
				return nil, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "amount %q must be a decimal above zero", b.Amount)
			}
			now := s.cfg.Now().UTC()
			if b.ExpiresAt != nil && !b.ExpiresAt.After(now) {
				return nil, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "expires_at %s is not in the future", b.ExpiresAt.Format(time.RFC3339))
			}
			var g *store.CreditGrant
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canAdmin)
				if err != nil {
					return err
				}
				g = &store.CreditGrant{OrgID: o.ID, Kind: b.Kind, Amount: b.Amount, Priority: b.Priority, EffectiveAt: now,
					ExpiresAt: b.ExpiresAt, GrantedBy: p.Email, Reason: b.Reason}
				if err := s.creditLedger().Grant(ctx, tx, g); err != nil {
					return err
				}
				return s.audit(ctx, tx, "credit.grant", "credit_grant", g.ID, o.ID,
					fmt.Sprintf("%s credit %s %s: %s", g.Kind, g.Amount, g.Currency, g.Reason))
			})
			if err != nil {
				return nil, err
			}
			s.reenforce(ctx, g.OrgID)
			gb := ledger.GrantBalance{CreditGrant: *g, Remaining: amount, Usable: true}
			return &creditCreatedOut{Location: "/api/v1/orgs/" + g.OrgID + "/credits", Body: creditGrantOf(&gb)}, nil
		})

	register(s, huma.Operation{OperationID: "set-billing-override", Method: http.MethodPut, Path: "/api/v1/orgs/{org}/billing-override",
		Summary: "Pin the organisation's billing state",
		Description: "Provider admins only. state \"active\" keeps the organisation active whatever its balance; \"suspended\" " +
			"suspends it (its VMs are powered off); \"\" hands control back to billing. Answers with the balance.",
		Tags: tags},
		func(ctx context.Context, in *creditOverrideIn) (*balanceOut, error) {
			p, err := requireProviderAdmin(ctx)
			if err != nil {
				return nil, err
			}
			var orgID string
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canAdmin)
				if err != nil {
					return err
				}
				orgID = o.ID
				b, err := tx.GetOrgBilling(ctx, o.ID)
				if err != nil {
					return err
				}
				from := b.Override
				b.Override = in.Body.State
				if err := tx.PutOrgBilling(ctx, b); err != nil {
					return err
				}
				return s.audit(ctx, tx, "org.billing_override", "org", o.ID, o.ID,
					fmt.Sprintf("override %q -> %q: %s", from, b.Override, in.Body.Reason))
			})
			if err != nil {
				return nil, err
			}
			s.reenforce(ctx, orgID)
			return s.readBalance(ctx, orgID)
		})
}
