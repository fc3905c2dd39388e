package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func (s *Server) invitationOf(i *store.Invitation) api.Invitation {
	return api.Invitation{ID: i.ID, Org: i.OrgID, Email: i.Email, Role: i.Role, State: i.StateAt(s.cfg.Now()),
		ExpiresAt: i.ExpiresAt, CreatedAt: i.CreatedAt}
}

type (
	invitationIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Body api.InvitationCreate
	}
	invitationOut struct {
		Body api.Invitation
	}
	invitationListIn struct {
		Org   string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		State string `query:"state" enum:"pending,accepted,revoked,expired" doc:"Keep invitations in this state"`
		ListParams
	}
	invitationPath struct {
		Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		ID  string `path:"id" maxLength:"200"`
	}
	membershipOut struct {
		Body api.Membership
	}
)

func (s *Server) invitationRoutes() {
	tags := []string{"Invitations"}

	register(s, huma.Operation{OperationID: "create-invitation", Method: http.MethodPost, Path: "/api/v1/orgs/{org}/invitations",
		Summary: "Invite someone to an organisation",
		Description: "Org-admins only, with a verified e-mail address. Mails a link to the address; the invitation works once and expires after 7 days. " +
			"Refused while the address is a member or has a pending invitation.",
		Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *invitationIn) (*invitationOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			email := store.NormalizeEmail(in.Body.Email)
			var inv *store.Invitation
			var o *store.Org
			var prov *store.Provider
			var token string
			var existing bool
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				var err error
				if o, err = s.orgFor(ctx, tx, p, in.Org, canAdmin); err != nil {
					return err
				}
				if err := requireVerified(p); err != nil {
					return err
				}
				u, err := tx.GetUserByEmail(ctx, email)
				switch {
				case errors.Is(err, store.ErrNotFound):
					existing = false
				case err != nil:
					return err
				default:
					existing = true
					bs, err := tx.ListRoleBindings(ctx, u.ID, o.ID, true)
					if err != nil {
						return err
					}
					if len(bs) > 0 {
						return api.Errorf(http.StatusConflict, api.CodeAlreadyExists,
							"%s is already a member of %s (%s): change their role under /api/v1/orgs/%s/members", email, o.Name, bs[0].Role, o.Name)
					}
				}
				pending, err := tx.HasPendingInvitation(ctx, o.ID, email, s.cfg.Now())
				if err != nil {
					return err
				}
				if pending {
					return api.Errorf(http.StatusConflict, api.CodeAlreadyExists,
						"%s already has a pending invitation to %s: revoke it first to send a new one", email, o.Name)
				}
				var hash string
				token, hash = auth.NewSecret(auth.PrefixMail)
				inv = &store.Invitation{OrgID: o.ID, Email: email, Role: in.Body.Role, TokenHash: hash, InvitedBy: p.UserID,
					ExpiresAt: s.cfg.Now().Add(inviteTTL)}
				if err := tx.CreateInvitation(ctx, inv); err != nil {
					return err
				}
				if prov, err = tx.GetProvider(ctx); err != nil {
					return err
				}
				return s.audit(ctx, tx, "invitation.create", "invitation", inv.ID, o.ID, email+" as "+inv.Role)
			})
			if err != nil {
				return nil, err
			}
			s.sendMail(ctx, s.invitationMail(prov, inv, token, o.Name, p.Email, existing))
			return &invitationOut{Body: s.invitationOf(inv)}, nil
		})

	register(s, huma.Operation{OperationID: "list-invitations", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/invitations",
		Summary: "List an organisation's invitations", Description: "Org-admins only. Oldest first.", Tags: tags},
		func(ctx context.Context, in *invitationListIn) (*listOut[api.Invitation], error) {
			return listInOrg(ctx, s, in.Org, in.ListParams, canAdmin, func(tx *store.Tx, o *store.Org, pg store.Page) ([]store.Invitation, string, error) {
				return tx.ListInvitations(ctx, o.ID, in.State, s.cfg.Now(), pg)
			}, s.invitationOf)
		})

	register(s, huma.Operation{OperationID: "revoke-invitation", Method: http.MethodDelete, Path: "/api/v1/orgs/{org}/invitations/{id}",
		Summary: "Revoke an invitation", Description: "Org-admins only. Only a pending invitation can be revoked; its link stops working.",
		Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *invitationPath) (*emptyOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canAdmin)
				if err != nil {
					return err
				}
				inv, err := tx.GetInvitation(ctx, o.ID, in.ID)
				if err != nil {
					return notFoundOr(err, "invitation", in.ID)
				}
				if st := inv.StateAt(s.cfg.Now()); st != store.InvitationPending {
					return api.Errorf(http.StatusConflict, api.CodeConflict, "the invitation is %s, not pending: there is nothing to revoke", st)
				}
				if err := tx.RevokeInvitation(ctx, inv.ID); err != nil {
					return err
				}
				return s.audit(ctx, tx, "invitation.revoke", "invitation", inv.ID, o.ID, inv.Email)
			})
			return nil, err
		})

	register(s, huma.Operation{OperationID: "accept-invitation", Method: http.MethodPost, Path: "/api/v1/invitations/accept",
		Summary: "Accept an invitation",
		Description: "Takes the token from the invitation mail. If the invited address has no account yet, one is made with the given name and password " +
			"(the address counts as verified). If it has one, the caller must be logged in as that user; name and password are then ignored.",
		Tags: tags, Security: []map[string][]string{{}, {"bearer": {}}, {"session": {}}}},
		func(ctx context.Context, in *struct{ Body api.InvitationAccept }) (*membershipOut, error) {
			m, err := s.acceptInvitation(ctx, &in.Body)
			if err != nil {
				return nil, err
			}
			return &membershipOut{Body: *m}, nil
		})
}

func (s *Server) acceptInvitation(ctx context.Context, in *api.InvitationAccept) (*api.Membership, error) {
	tokenHash := auth.HashSecret(in.Token)
	// A new account needs a password hash, which is too slow to compute in
	// the transaction; find out first whether one is needed.
	var newUser bool
	err := s.store.View(ctx, func(tx *store.Tx) error {
		inv, err := tx.GetInvitationByHash(ctx, tokenHash)
		if err != nil {
			return invalidTokenOr(err, "invitation")
		}
		if inv.StateAt(s.cfg.Now()) != store.InvitationPending {
			return invalidTokenOr(store.ErrNotFound, "invitation")
		}
		_, err = tx.GetUserByEmail(ctx, inv.Email)
		newUser = errors.Is(err, store.ErrNotFound)
		if newUser {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var hash string
	name := strings.TrimSpace(in.Name)
	if newUser {
		if name == "" {
			return nil, invalidField("body.name", "your name is required to create your account", in.Name)
		}
		if len(in.Password) < minPassword {
			return nil, invalidField("body.password", "a password of at least %d characters is required to create your account", nil, minPassword)
		}
		if hash, err = auth.HashPassword(in.Password); err != nil {
			return nil, err
		}
	}

	ri := info(ctx)
	var m api.Membership
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		now := s.cfg.Now()
		inv, err := tx.GetInvitationByHash(ctx, tokenHash)
		if err != nil {
			return invalidTokenOr(err, "invitation")
		}
		u, err := tx.GetUserByEmail(ctx, inv.Email)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if hash == "" {
				return api.Errorf(http.StatusConflict, api.CodeConflict, "the account of %s was deleted meanwhile: try again", inv.Email)
			}
			u = &store.User{Email: inv.Email, Name: name, PasswordHash: hash, EmailVerified: true}
			if err := tx.CreateUser(ctx, u); err != nil {
				return conflictOr(err, api.CodeConflict, "an account for %s was created meanwhile: log in as %s, then accept", inv.Email, inv.Email)
			}
		case err != nil:
			return err
		default:
			p := ri.principal
			switch {
			case p == nil && ri.authErr != nil:
				return ri.authErr
			case p == nil:
				return api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated,
					"%s already has an account: log in as %s, then accept the invitation", inv.Email, inv.Email)
			case p.UserID != u.ID:
				return forbidden("this invitation is for %s, but you are logged in as %s", inv.Email, p.Email)
			}
			if !u.EmailVerified {
				// The invitation reached them: they control the address.
				u.EmailVerified = true
				if err := tx.UpdateUser(ctx, u); err != nil {
					return err
				}
			}
		}
		if err := tx.AcceptInvitation(ctx, inv.ID, now); err != nil {
			return invalidTokenOr(err, "invitation")
		}
		b := &store.RoleBinding{UserID: u.ID, OrgID: inv.OrgID, Role: inv.Role}
		if err := tx.PutRoleBinding(ctx, b); err != nil {
			return err
		}
		m = api.Membership{Org: b.OrgID, OrgName: b.OrgName, Role: b.Role}
		return s.auditAs(ctx, tx, u, "invitation.accept", "invitation", inv.ID, inv.OrgID, inv.Email+" as "+inv.Role)
	})
	if err != nil {
		return nil, err
	}
	return &m, nil
}
