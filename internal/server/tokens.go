package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Token lifetimes.
const (
	tokenDefaultTTL = 90 * 24 * time.Hour
	tokenMaxTTL     = 365 * 24 * time.Hour
	tokenMinTTL     = time.Minute
	// tokenPrefixLen is how much of a secret is kept in clear to recognise it:
	// the fixed "sirocco_" and four random characters.
	tokenPrefixLen = 12
)

func tokenOf(k *store.Token) api.Token {
	return api.Token{ID: k.ID, Name: k.Name, Prefix: k.Prefix, User: k.UserID, Org: k.OrgID, Role: k.Role,
		ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, CreatedAt: k.CreatedAt}
}

func invalidExpiry(format string, args ...any) *api.Error {
	return api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, format, args...)
}

// tokenExpiry works out when a new token expires. ceiling, when set, is the
// expiry of the token making the request: a token cannot mint one that
// outlives it, or a leaked short-lived token could be turned into a lasting one.
func tokenExpiry(in api.TokenCreate, now time.Time, ceiling *time.Time) (time.Time, error) {
	var exp time.Time
	explicit := true
	switch {
	case in.ExpiresAt != nil:
		exp = in.ExpiresAt.UTC()
		if !exp.After(now) {
			return exp, invalidExpiry("expires_at %s is not in the future", exp.Format(time.RFC3339))
		}
		if exp.After(now.Add(tokenMaxTTL)) {
			return exp, invalidExpiry("expires_at %s is more than a year away", exp.Format(time.RFC3339))
		}
	case in.ExpiresIn != "":
		d, err := time.ParseDuration(in.ExpiresIn)
		if err != nil {
			return exp, invalidExpiry("expires_in %q is not a duration such as 720h or 30m", in.ExpiresIn)
		}
		if d < tokenMinTTL || d > tokenMaxTTL {
			return exp, invalidExpiry("expires_in %s: a token lives from 1m to 8760h (a year)", in.ExpiresIn)
		}
		exp = now.Add(d)
	default:
		exp, explicit = now.Add(tokenDefaultTTL), false
	}
	if ceiling != nil && exp.After(*ceiling) {
		if explicit {
			return exp, invalidExpiry("a token cannot outlive the token that creates it, which expires at %s", ceiling.UTC().Format(time.RFC3339))
		}
		exp = *ceiling
	}
	// Stored with microseconds: answer with what a later read shows.
	return exp.UTC().Truncate(time.Microsecond), nil
}

// tokenWithin reports whether the caller's current rights cover a token's
// scope, so a narrow token cannot revoke a broader one of the same user.
func tokenWithin(p *auth.Principal, k *store.Token) bool {
	if p.TokenID == "" {
		return true // a console session holds all of the user's roles
	}
	if k.OrgID == "" {
		return p.Provider != "" && auth.Within(k.Role, p.Provider)
	}
	return auth.Within(k.Role, p.OrgRole(k.OrgID))
}

// tokenCreatedOut is the answer to a token creation. no-store keeps the
// secret out of caches, and out of the idempotency record.
type tokenCreatedOut struct {
	Location     string `header:"Location"`
	CacheControl string `header:"Cache-Control"`
	Body         api.TokenCreated
}

func (s *Server) tokenRoutes() {
	tags := []string{"Tokens"}

	register(s, huma.Operation{OperationID: "create-token", Method: http.MethodPost, Path: "/api/v1/tokens", Summary: "Create an API token",
		Description: "Makes a bearer token for the caller, scoped to one organisation and an organisation role, or (without org) " +
			"to a provider role. The role cannot exceed the caller's own there. The secret is in this answer only. " +
			"Tokens expire: by default after 90 days, at most after a year.",
		Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct{ Body api.TokenCreate }) (*tokenCreatedOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			role := in.Body.Role
			secret, hash := auth.NewSecret(auth.PrefixToken)
			var k *store.Token
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				var orgID, limit, where string
				if in.Body.Org != "" {
					if !auth.IsOrgRole(role) {
						return api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation,
							"an organisation token takes an organisation role (org-admin, org-member, org-viewer), not %q", role)
					}
					o, err := tx.LookupOrg(ctx, in.Body.Org)
					if err != nil {
						return notFoundOr(err, "organisation", in.Body.Org)
					}
					if !p.CanSeeOrg(o.ID) {
						return api.NotFound("organisation", in.Body.Org)
					}
					if err := refuseClosed(o); err != nil {
						return err
					}
					// A provider-admin acts as org-admin everywhere, so may make any organisation token.
					orgID, limit, where = o.ID, p.OrgRole(o.ID), "in organisation "+o.Name
				} else {
					if !auth.IsProviderRole(role) {
						return api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation,
							"a token without org is a provider token and takes a provider role; set org to make an organisation token")
					}
					if p.Provider == "" {
						return forbidden("provider tokens need a provider role")
					}
					limit, where = p.Provider, "as provider"
				}
				if !auth.Within(role, limit) {
					return forbidden("role %s exceeds your role %s %s", role, limit, where)
				}
				var ceiling *time.Time
				if p.TokenID != "" {
					parent, err := tx.GetToken(ctx, p.TokenID)
					if err != nil {
						return err
					}
					ceiling = parent.ExpiresAt
				}
				exp, err := tokenExpiry(in.Body, s.cfg.Now(), ceiling)
				if err != nil {
					return err
				}
				k = &store.Token{UserID: p.UserID, OrgID: orgID, Role: role, Name: in.Body.Name,
					Prefix: secret[:tokenPrefixLen], Hash: hash, ExpiresAt: &exp}
				if err := tx.CreateToken(ctx, k); err != nil {
					return err
				}
				return s.audit(ctx, tx, "token.create", "token", k.ID, orgID,
					fmt.Sprintf("%s %s, expires %s", k.Name, k.Role, exp.Format(time.RFC3339)))
			})
			if err != nil {
				return nil, err
			}
			return &tokenCreatedOut{Location: "/api/v1/tokens/" + k.ID, CacheControl: "no-store",
				Body: api.TokenCreated{Token: tokenOf(k), Secret: secret}}, nil
		})

	register(s, huma.Operation{OperationID: "list-tokens", Method: http.MethodGet, Path: "/api/v1/tokens", Summary: "List your API tokens",
		Description: "The caller's own tokens, without their secrets.", Tags: tags},
		func(ctx context.Context, in *struct{ ListParams }) (*listOut[api.Token], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			pg, err := in.page()
			if err != nil {
				return nil, err
			}
			var rows []store.Token
			var next string
			err = s.store.View(ctx, func(tx *store.Tx) error {
				rows, next, err = tx.ListTokens(ctx, p.UserID, "", pg)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &listOut[api.Token]{Body: listOf(rows, next, tokenOf)}, nil
		})

	register(s, huma.Operation{OperationID: "get-token", Method: http.MethodGet, Path: "/api/v1/tokens/{id}", Summary: "Get one of your API tokens", Tags: tags},
		func(ctx context.Context, in *idPath) (*struct{ Body api.Token }, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			var k *store.Token
			err = s.store.View(ctx, func(tx *store.Tx) error {
				k, err = tx.GetToken(ctx, in.ID)
				if err == nil && k.UserID != p.UserID {
					return api.NotFound("token", in.ID)
				}
				return notFoundOr(err, "token", in.ID)
			})
			if err != nil {
				return nil, err
			}
			return &struct{ Body api.Token }{Body: tokenOf(k)}, nil
		})

	register(s, huma.Operation{OperationID: "revoke-token", Method: http.MethodDelete, Path: "/api/v1/tokens/{id}", Summary: "Revoke one of your API tokens",
		Description: "The token stops working at once. A token cannot revoke a token of broader scope.", Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *idPath) (*emptyOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				k, err := tx.GetToken(ctx, in.ID)
				if err != nil {
					return notFoundOr(err, "token", in.ID)
				}
				if k.UserID != p.UserID {
					return api.NotFound("token", in.ID)
				}
				if !tokenWithin(p, k) {
					return forbidden("token %s has a broader scope than the token you are using: revoke it with that scope or from the console", k.ID)
				}
				if err := tx.DeleteToken(ctx, k.ID); err != nil {
					return err
				}
				return s.audit(ctx, tx, "token.revoke", "token", k.ID, k.OrgID, k.Name)
			})
			return nil, err
		})

	register(s, huma.Operation{OperationID: "list-org-tokens", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/tokens",
		Summary: "List an organisation's API tokens", Description: "Org admins: every member's tokens for this organisation, without secrets.", Tags: tags},
		func(ctx context.Context, in *struct {
			Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
			ListParams
		}) (*listOut[api.Token], error) {
			return listInOrg(ctx, s, in.Org, in.ListParams, canAdmin, func(tx *store.Tx, o *store.Org, pg store.Page) ([]store.Token, string, error) {
				return tx.ListTokens(ctx, "", o.ID, pg)
			}, tokenOf)
		})

	register(s, huma.Operation{OperationID: "revoke-org-token", Method: http.MethodDelete, Path: "/api/v1/orgs/{org}/tokens/{id}",
		Summary: "Revoke a token of an organisation", Description: "Org admins revoke any member's token for this organisation.",
		Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *struct {
			Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
			ID  string `path:"id" maxLength:"200"`
		}) (*emptyOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canAdmin)
				if err != nil {
					return err
				}
				k, err := tx.GetToken(ctx, in.ID)
				if err != nil {
					return notFoundOr(err, "token", in.ID)
				}
				if k.OrgID != o.ID {
					return api.NotFound("token", in.ID)
				}
				if err := tx.DeleteToken(ctx, k.ID); err != nil {
					return err
				}
				return s.audit(ctx, tx, "token.revoke", "token", k.ID, o.ID, k.Name)
			})
			return nil, err
		})
}
