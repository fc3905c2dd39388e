package server

import (
	"context"
	"net/http"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Access levels inside an organisation.
type access int

const (
	canRead  access = iota // any role in the organisation, or a provider role
	canWrite               // org-member and up, or provider-admin
	canAdmin               // org-admin, or provider-admin
)

// orgFor resolves an organisation named in a path (ID or name) for the caller
// and checks their access. An organisation the caller cannot see is reported
// exactly like one that does not exist, so existence does not leak; one they
// can see but not change gives 403.
func (s *Server) orgFor(ctx context.Context, tx *store.Tx, p *auth.Principal, ref string, need access) (*store.Org, error) {
	o, err := tx.LookupOrg(ctx, ref)
	if err != nil {
		return nil, notFoundOr(err, "organisation", ref)
	}
	if !p.CanSeeOrg(o.ID) {
		return nil, api.NotFound("organisation", ref)
	}
	switch {
	case need == canWrite && !p.CanWriteOrg(o.ID):
		return nil, forbidden("your role in organisation %q (%s) cannot change resources", o.Name, p.OrgRole(o.ID))
	case need == canAdmin && !p.CanAdminOrg(o.ID):
		return nil, forbidden("this needs the org-admin role in organisation %q", o.Name)
	}
	return o, nil
}

// requireVerified refuses resource creation until the caller's e-mail address
// is verified, as public clouds do against abuse.
func requireVerified(p *auth.Principal) error {
	if !p.EmailVerified && !p.CanReadProvider() {
		return api.Errorf(http.StatusForbidden, api.CodeEmailNotVerified,
			"verify your e-mail address first: follow the link in the mail we sent to %s (or POST /api/v1/verify-email/resend)", p.Email)
	}
	return nil
}

// requireOrgActive refuses new resources in an organisation that billing or
// the provider has restricted.
func requireOrgActive(o *store.Org) error {
	switch o.State {
	case api.OrgActive, api.OrgWarn:
		return nil
	}
	return api.Errorf(http.StatusForbidden, api.CodeOrgRestricted,
		"organisation %q is %s: new resources cannot be created (top up or contact the provider)", o.Name, o.State)
}

// listInOrg serves one page of an organisation's objects: it authenticates
// the caller, reads the page parameters, resolves the organisation with the
// access the list needs (404 for an organisation the caller cannot see),
// runs query in a read transaction and converts the rows.
func listInOrg[R, T any](ctx context.Context, s *Server, orgRef string, lp ListParams, need access,
	query func(tx *store.Tx, o *store.Org, pg store.Page) ([]R, string, error), conv func(*R) T) (*listOut[T], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	pg, err := lp.page()
	if err != nil {
		return nil, err
	}
	var rows []R
	var next string
	err = s.store.View(ctx, func(tx *store.Tx) error {
		o, err := s.orgFor(ctx, tx, p, orgRef, need)
		if err != nil {
			return err
		}
		rows, next, err = query(tx, o, pg)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &listOut[T]{Body: listOf(rows, next, conv)}, nil
}
