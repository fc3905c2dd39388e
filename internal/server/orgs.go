package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/metering"
	"github.com/sirocco-cloud/sirocco/internal/operation"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// opOrgClose is the operation that closes an organisation.
const opOrgClose = "org.close"

func orgOf(o *store.Org) api.Organisation {
	return api.Organisation{Meta: metaOf(o.Meta), Name: o.Name, DisplayName: o.DisplayName, State: o.State,
		Residency: api.Residency{Jurisdictions: o.Residency.Jurisdictions, Regions: o.Residency.Regions}}
}

var jurisdictionRE = regexp.MustCompile(`^[A-Z]{2}$`)

// residencyFrom validates a residency policy from a request: jurisdictions
// are ISO 3166-1 alpha-2 codes, regions must exist. Duplicates are dropped.
func residencyFrom(ctx context.Context, tx *store.Tx, r api.Residency) (store.Residency, error) {
	var out store.Residency
	if len(r.Jurisdictions)+len(r.Regions) > 100 {
		return out, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "a residency policy lists at most 100 jurisdictions and regions")
	}
	for _, j := range r.Jurisdictions {
		if !jurisdictionRE.MatchString(j) {
			return out, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation,
				"residency jurisdiction %q: use an ISO 3166-1 alpha-2 code in capitals, e.g. AU", j)
		}
		if !slices.Contains(out.Jurisdictions, j) {
			out.Jurisdictions = append(out.Jurisdictions, j)
		}
	}
	for _, g := range r.Regions {
		if _, err := tx.GetRegion(ctx, g); errors.Is(err, store.ErrNotFound) {
			return out, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "residency region %q does not exist", g)
		} else if err != nil {
			return out, err
		}
		if !slices.Contains(out.Regions, g) {
			out.Regions = append(out.Regions, g)
		}
	}
	return out, nil
}

// refuseClosed refuses changes to a closed organisation.
func refuseClosed(o *store.Org) error {
	if o.State == api.OrgClosed {
		return api.Errorf(http.StatusConflict, api.CodeConflict, "organisation %q is closed", o.Name)
	}
	return nil
}

func (s *Server) orgRoutes() {
	s.ops.Handle(opOrgClose, s.closeOrg)
	tags := []string{"Organisations"}

	register(s, huma.Operation{OperationID: "list-orgs", Method: http.MethodGet, Path: "/api/v1/orgs", Summary: "List organisations",
		Description: "Provider roles see every organisation; everyone else sees the organisations they have a role in.", Tags: tags},
		func(ctx context.Context, in *struct{ ListParams }) (*listOut[api.Organisation], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			pg, err := in.page()
			if err != nil {
				return nil, err
			}
			var ids []string // nil: all of them
			if !p.CanReadProvider() {
				ids = make([]string, 0, len(p.Orgs))
				for id := range p.Orgs {
					ids = append(ids, id)
				}
				slices.Sort(ids)
			}
			var rows []store.Org
			var next string
			err = s.store.View(ctx, func(tx *store.Tx) error {
				rows, next, err = tx.ListOrgs(ctx, ids, pg)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &listOut[api.Organisation]{Body: listOf(rows, next, orgOf)}, nil
		})

	register(s, huma.Operation{OperationID: "create-org", Method: http.MethodPost, Path: "/api/v1/orgs", Summary: "Create an organisation",
		Description: "Provider admins only; tenants sign up instead. Grant roles in it with POST /api/v1/orgs/{org}/members.",
		Tags:        tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct{ Body api.OrganisationCreate }) (*createdOut[api.Organisation], error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			if err := validateLabels(in.Body.Labels); err != nil {
				return nil, err
			}
			if store.IsID(in.Body.Name) {
				return nil, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "organisation name %q looks like an ID: choose another", in.Body.Name)
			}
			var o *store.Org
			err := s.store.Tx(ctx, func(tx *store.Tx) error {
				r, err := residencyFrom(ctx, tx, in.Body.Residency)
				if err != nil {
					return err
				}
				o = &store.Org{Meta: store.Meta{Labels: in.Body.Labels}, Name: in.Body.Name, DisplayName: in.Body.DisplayName,
					State: api.OrgActive, Residency: r}
				if err := tx.CreateOrg(ctx, o); err != nil {
					return conflictOr(err, api.CodeAlreadyExists, "organisation %q already exists", o.Name)
				}
				return s.audit(ctx, tx, "org.create", "org", o.ID, o.ID, "name "+o.Name)
			})
			if err != nil {
				return nil, err
			}
			return &createdOut[api.Organisation]{Location: "/api/v1/orgs/" + o.ID, ETag: etag(o.Version), Body: orgOf(o)}, nil
		})

	register(s, huma.Operation{OperationID: "get-org", Method: http.MethodGet, Path: "/api/v1/orgs/{org}", Summary: "Get an organisation", Tags: tags},
		func(ctx context.Context, in *struct {
			Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		}) (*bodyOut[api.Organisation], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			var o *store.Org
			err = s.store.View(ctx, func(tx *store.Tx) error {
				o, err = s.orgFor(ctx, tx, p, in.Org, canRead)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.Organisation]{ETag: etag(o.Version), Body: orgOf(o)}, nil
		})

	register(s, huma.Operation{OperationID: "update-org", Method: http.MethodPatch, Path: "/api/v1/orgs/{org}", Summary: "Update an organisation",
		Description: "Org admins change the display name, labels and residency policy; only the provider changes the state. " +
			"A residency policy that an existing VDC would violate is refused with 409 residency_violation.",
		Tags: tags},
		func(ctx context.Context, in *struct {
			Org     string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
			IfMatch string `header:"If-Match" doc:"ETag from a previous read; the update fails with 412 if the organisation changed since"`
			Body    api.OrganisationUpdate
		}) (*bodyOut[api.Organisation], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			var o *store.Org
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				var err error
				if o, err = s.orgFor(ctx, tx, p, in.Org, canAdmin); err != nil {
					return err
				}
				if err := checkIfMatch(in.IfMatch, o.Version); err != nil {
					return err
				}
				if err := refuseClosed(o); err != nil {
					return err
				}
				var changed []string
				if st := in.Body.State; st != nil && *st != o.State {
					if !p.CanAdminProvider() {
						return forbidden("only the provider can change an organisation's state")
					}
					if *st == api.OrgClosed {
						return api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation,
							"close an organisation with DELETE /api/v1/orgs/%s, which also revokes its tokens and deletes its VDCs", o.Name)
					}
					changed = append(changed, fmt.Sprintf("state %s -> %s", o.State, *st))
					o.State = *st
				}
				if in.Body.DisplayName != nil {
					o.DisplayName = *in.Body.DisplayName
					changed = append(changed, "display_name")
				}
				if in.Body.Labels != nil {
					if err := validateLabels(*in.Body.Labels); err != nil {
						return err
					}
					o.Labels = *in.Body.Labels
					changed = append(changed, "labels")
				}
				if in.Body.Residency != nil {
					r, err := residencyFrom(ctx, tx, *in.Body.Residency)
					if err != nil {
						return err
					}
					if err := s.checkResidencyKeepsVDCs(ctx, tx, o.ID, r); err != nil {
						return err
					}
					o.Residency = r
					changed = append(changed, fmt.Sprintf("residency jurisdictions=%v regions=%v", r.Jurisdictions, r.Regions))
				}
				if err := tx.UpdateOrg(ctx, o); err != nil {
					return err
				}
				return s.audit(ctx, tx, "org.update", "org", o.ID, o.ID, strings.Join(changed, "; "))
			})
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.Organisation]{ETag: etag(o.Version), Body: orgOf(o)}, nil
		})

	register(s, huma.Operation{OperationID: "close-org", Method: http.MethodDelete, Path: "/api/v1/orgs/{org}", Summary: "Close an organisation",
		Description: "Org admins or the provider. Returns an operation (kind org.close) that revokes the organisation's tokens and " +
			"pending invitations, deletes its VDCs and marks it closed. Its records (audit, invoices) are kept.",
		Tags: tags, DefaultStatus: http.StatusAccepted},
		func(ctx context.Context, in *struct {
			Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		}) (*acceptOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			var op *store.Operation
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canAdmin)
				if err != nil {
					return err
				}
				if o.State == api.OrgClosed {
					return api.Errorf(http.StatusConflict, api.CodeConflict, "organisation %q is already closed", o.Name)
				}
				pending, _, err := tx.ListOperations(ctx, store.OperationFilter{Kind: opOrgClose, TargetKind: "org", TargetID: o.ID}, store.Page{})
				if err != nil {
					return err
				}
				for _, prev := range pending {
					if !prev.Done() {
						return api.Errorf(http.StatusConflict, api.CodeConflict, "organisation %q is already being closed by operation %s", o.Name, prev.ID)
					}
				}
				op = &store.Operation{OrgID: o.ID, Kind: opOrgClose, TargetKind: "org", TargetID: o.ID, CreatedBy: p.UserID}
				if err := s.ops.Enqueue(ctx, tx, op); err != nil {
					return err
				}
				return s.audit(ctx, tx, "org.close", "org", o.ID, o.ID, "operation "+op.ID)
			})
			if err != nil {
				return nil, err
			}
			s.ops.Kick()
			return &acceptOut{Location: "/api/v1/operations/" + op.ID, Body: operation.ToAPI(op)}, nil
		})

	s.memberRoutes()
}

// checkResidencyKeepsVDCs refuses a residency policy that an existing VDC of
// the organisation would violate: data already placed must stay compliant.
func (s *Server) checkResidencyKeepsVDCs(ctx context.Context, tx *store.Tx, orgID string, r store.Residency) error {
	placed, err := tx.OrgVDCPlacements(ctx, orgID)
	if err != nil {
		return err
	}
	policy := api.Residency{Jurisdictions: r.Jurisdictions, Regions: r.Regions}
	for _, v := range placed {
		if !policy.Allows(v.RegionID, v.Jurisdiction) {
			return api.Errorf(http.StatusConflict, api.CodeResidency,
				"VDC %q is in zone %s (region %s, jurisdiction %s), which the new residency policy does not allow: delete or move it first",
				v.Name, v.ZoneID, v.RegionID, v.Jurisdiction)
		}
	}
	return nil
}

// closeOrg runs an org.close operation. It is idempotent: a run that finds
// the organisation closed has nothing left to do.
func (s *Server) closeOrg(ctx context.Context, op *store.Operation, progress operation.Progress) error {
	// The organisation's VMs (with their disks and snapshots) go first:
	// their hosts delete them and the rows go when the hosts stop reporting
	// them. Only then does the last transaction remove the VDCs.
	progress(5, "deleting VMs")
	if err := s.deleteOrgVMs(ctx, op.TargetID); err != nil {
		return err
	}
	progress(50, "revoking tokens and invitations, deleting VDCs")
	return s.store.Tx(ctx, func(tx *store.Tx) error {
		o, err := tx.GetOrg(ctx, op.TargetID)
		if err != nil {
			return err
		}
		if o.State == api.OrgClosed {
			return nil
		}
		if err := tx.DeleteOrgTokens(ctx, o.ID); err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		invitations, err := tx.RevokeOrgInvitations(ctx, o.ID)
		if err != nil {
			return err
		}
		// Its public addresses go back to the pools and its networks go
		// (its VMs, and so their NICs, are gone already).
		ips, _, err := tx.ListPublicIPs(ctx, store.PublicIPFilter{OrgID: o.ID}, store.Page{Limit: store.MaxLimit})
		if err != nil {
			return err
		}
		for i := range ips {
			if err := metering.PublicIPReleased(ctx, tx, &ips[i]); err != nil {
				return err
			}
			if err := tx.ReleasePublicIP(ctx, ips[i].ID); err != nil {
				return err
			}
		}
		nets, _, err := tx.ListNetworks(ctx, store.NetworkFilter{OrgID: o.ID}, store.Page{Limit: store.MaxLimit})
		if err != nil {
			return err
		}
		for _, n := range nets {
			if err := tx.DeleteNetwork(ctx, n.ID); err != nil {
				return err
			}
		}
		vdcs, err := tx.DeleteOrgVDCs(ctx, o.ID)
		if err != nil {
			return err
		}
		o.State = api.OrgClosed
		if err := tx.UpdateOrg(ctx, o); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, &store.AuditEvent{
			ActorType:    "system",
			OrgID:        o.ID,
			Action:       opOrgClose,
			ResourceKind: "org",
			ResourceID:   o.ID,
			Outcome:      "success",
			Detail: fmt.Sprintf("closed by operation %s: tokens revoked, %d pending invitations revoked, %d VDCs deleted",
				op.ID, invitations, vdcs),
		})
	})
}

func (s *Server) memberRoutes() {
	tags := []string{"Organisations"}

	register(s, huma.Operation{OperationID: "list-members", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/members",
		Summary: "List an organisation's members", Description: "Any role in the organisation may read who else is in it.", Tags: tags},
		func(ctx context.Context, in *struct {
			Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
			ListParams
		}) (*listOut[api.RoleBinding], error) {
			return listInOrg(ctx, s, in.Org, in.ListParams, canRead, func(tx *store.Tx, o *store.Org, pg store.Page) ([]store.RoleBinding, string, error) {
				return tx.ListScopeBindings(ctx, o.ID, pg)
			}, bindingOf)
		})

	register(s, huma.Operation{OperationID: "put-member", Method: http.MethodPost, Path: "/api/v1/orgs/{org}/members",
		Summary: "Grant a role in an organisation",
		Description: "Org admins. Gives an existing user (by ID or e-mail) an organisation role, replacing their earlier role there. " +
			"To add someone without an account, send an invitation. The last org-admin cannot be demoted.",
		Tags: tags},
		func(ctx context.Context, in *struct {
			Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
			Body api.RoleBindingCreate
		}) (*struct{ Body api.RoleBinding }, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			if !auth.IsOrgRole(in.Body.Role) {
				return nil, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation,
					"role %q is not an organisation role (org-admin, org-member, org-viewer)", in.Body.Role)
			}
			var b *store.RoleBinding
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canAdmin)
				if err != nil {
					return err
				}
				if err := refuseClosed(o); err != nil {
					return err
				}
				u, err := bindingUser(ctx, tx, in.Body)
				if err != nil {
					return err
				}
				if err := keepLastAdmin(ctx, tx, u.ID, o.ID, in.Body.Role); err != nil {
					return err
				}
				b = &store.RoleBinding{UserID: u.ID, OrgID: o.ID, Role: in.Body.Role}
				if err := tx.PutRoleBinding(ctx, b); err != nil {
					return err
				}
				return s.audit(ctx, tx, "member.grant", "role_binding", b.ID, o.ID, u.Email+" "+b.Role)
			})
			if err != nil {
				return nil, err
			}
			return &struct{ Body api.RoleBinding }{Body: bindingOf(b)}, nil
		})

	register(s, huma.Operation{OperationID: "remove-member", Method: http.MethodDelete, Path: "/api/v1/orgs/{org}/members/{user}",
		Summary:     "Remove a member from an organisation",
		Description: "Org admins. Also revokes the member's tokens for this organisation. The last org-admin cannot be removed.",
		Tags:        tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *struct {
			Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
			User string `path:"user" maxLength:"254" doc:"User ID or e-mail address"`
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
				b, err := scopeBinding(ctx, tx, in.User, o.ID)
				if err != nil {
					return notFoundOr(err, "member", in.User)
				}
				if err := keepLastAdmin(ctx, tx, b.UserID, o.ID, ""); err != nil {
					return err
				}
				if err := tx.DeleteRoleBinding(ctx, b.ID); err != nil {
					return err
				}
				if err := tx.DeleteUserScopeTokens(ctx, b.UserID, o.ID); err != nil {
					return err
				}
				return s.audit(ctx, tx, "member.remove", "role_binding", b.ID, o.ID, b.Email+" "+b.Role)
			})
			return nil, err
		})
}

// bindingUser finds the existing user a role binding request names.
func bindingUser(ctx context.Context, tx *store.Tx, in api.RoleBindingCreate) (*store.User, error) {
	switch {
	case in.User == "" && in.Email == "":
		return nil, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "name the user by id (user) or e-mail address (email)")
	case in.User != "" && in.Email != "":
		return nil, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "give either user or email, not both")
	case in.User != "":
		u, err := tx.GetUser(ctx, in.User)
		return u, notFoundOr(err, "user", in.User)
	}
	u, err := tx.GetUserByEmail(ctx, in.Email)
	return u, notFoundOr(err, "user", in.Email)
}

// scopeBinding finds the binding of a user (by ID or e-mail) in a scope (an
// organisation, or "" for provider roles). ErrNotFound when there is none.
func scopeBinding(ctx context.Context, tx *store.Tx, user, orgID string) (*store.RoleBinding, error) {
	var u *store.User
	var err error
	if strings.Contains(user, "@") {
		u, err = tx.GetUserByEmail(ctx, user)
	} else {
		u, err = tx.GetUser(ctx, user)
	}
	if err != nil {
		return nil, err
	}
	bs, err := tx.ListRoleBindings(ctx, u.ID, orgID, true)
	if err != nil {
		return nil, err
	}
	if len(bs) == 0 {
		return nil, store.ErrNotFound
	}
	return &bs[0], nil
}

// keepLastAdmin refuses to take the admin role of a scope (an organisation, or
// "" for provider-wide) from its last holder: giving them newRole, or removing
// their binding when newRole is "". Nobody could manage the scope afterwards.
func keepLastAdmin(ctx context.Context, tx *store.Tx, userID, orgID, newRole string) error {
	admin := api.RoleOrgAdmin
	if orgID == "" {
		admin = api.RoleProviderAdmin
	}
	if newRole == admin {
		return nil
	}
	bs, err := tx.ListRoleBindings(ctx, userID, orgID, true)
	if err != nil {
		return err
	}
	if len(bs) == 0 || bs[0].Role != admin {
		return nil
	}
	n, err := tx.CountRoleBindings(ctx, orgID, admin)
	if err != nil {
		return err
	}
	if n <= 1 {
		where := "the installation"
		if orgID != "" {
			where = "organisation " + bs[0].OrgName
		}
		return api.Errorf(http.StatusConflict, api.CodeConflict,
			"%s is the last %s of %s: make someone else %s first", bs[0].Email, admin, where, admin)
	}
	return nil
}

// deleteOrgVMs asks every host to delete an organisation's VMs and waits
// until they are gone.
func (s *Server) deleteOrgVMs(ctx context.Context, orgID string) error {
	hosts := map[string]bool{}
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		clear(hosts)
		for pg := (store.Page{Limit: store.MaxLimit}); ; {
			vms, next, err := tx.ListVMs(ctx, store.VMFilter{OrgID: orgID}, pg)
			if err != nil {
				return err
			}
			for i := range vms {
				v := &vms[i]
				hosts[v.HostID] = true
				if v.Power == store.PowerDeleted {
					continue
				}
				v.Power = store.PowerDeleted
				if err := tx.UpdateVM(ctx, v, true); err != nil {
					return err
				}
			}
			if next == "" {
				return nil
			}
			pg.Cursor = next
		}
	})
	if err != nil {
		return err
	}
	for h := range hosts {
		s.hub.kickHost(h)
	}
	for {
		wake := s.hub.vmWait()
		var left int
		err := s.store.View(ctx, func(tx *store.Tx) error {
			vms, _, err := tx.ListVMs(ctx, store.VMFilter{OrgID: orgID}, store.Page{Limit: 1})
			left = len(vms)
			return err
		})
		if err != nil || left == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-time.After(time.Second):
		}
	}
}
