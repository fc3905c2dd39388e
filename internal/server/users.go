package server

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func userOf(u *store.User) api.User {
	return api.User{Meta: metaOf(u.Meta), Email: u.Email, Name: u.Name, EmailVerified: u.EmailVerified}
}

func bindingOf(b *store.RoleBinding) api.RoleBinding {
	return api.RoleBinding{ID: b.ID, User: b.UserID, Email: b.Email, Org: b.OrgID, Role: b.Role, CreatedAt: b.CreatedAt}
}

func (s *Server) userRoutes() {
	tags := []string{"Users"}

	register(s, huma.Operation{OperationID: "list-users", Method: http.MethodGet, Path: "/api/v1/users", Summary: "List users",
		Description: "Provider roles only.", Tags: tags},
		func(ctx context.Context, in *struct {
			ListParams
			Email string `query:"email" maxLength:"254" doc:"Only the user with this e-mail address"`
		}) (*listOut[api.User], error) {
			if _, err := requireProviderRead(ctx); err != nil {
				return nil, err
			}
			pg, err := in.page()
			if err != nil {
				return nil, err
			}
			var rows []store.User
			var next string
			err = s.store.View(ctx, func(tx *store.Tx) error {
				rows, next, err = tx.ListUsers(ctx, store.UserFilter{Email: in.Email}, pg)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &listOut[api.User]{Body: listOf(rows, next, userOf)}, nil
		})

	register(s, huma.Operation{OperationID: "get-user", Method: http.MethodGet, Path: "/api/v1/users/{id}", Summary: "Get a user",
		Description: "Provider roles, or the user themself.", Tags: tags},
		func(ctx context.Context, in *idPath) (*bodyOut[api.User], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			if !p.CanReadProvider() && p.UserID != in.ID {
				return nil, api.NotFound("user", in.ID)
			}
			var u *store.User
			err = s.store.View(ctx, func(tx *store.Tx) error {
				u, err = tx.GetUser(ctx, in.ID)
				return notFoundOr(err, "user", in.ID)
			})
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.User]{ETag: etag(u.Version), Body: userOf(u)}, nil
		})

	register(s, huma.Operation{OperationID: "delete-user", Method: http.MethodDelete, Path: "/api/v1/users/{id}", Summary: "Delete a user",
		Description: "Provider admins. Removes the user's roles, tokens and sessions; their audit trail stays. You cannot delete yourself.",
		Tags:        tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *idPath) (*emptyOut, error) {
			p, err := requireProviderAdmin(ctx)
			if err != nil {
				return nil, err
			}
			if in.ID == p.UserID {
				return nil, api.Errorf(http.StatusConflict, api.CodeConflict, "you cannot delete yourself")
			}
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				u, err := tx.GetUser(ctx, in.ID)
				if err != nil {
					return notFoundOr(err, "user", in.ID)
				}
				if err := tx.DeleteUser(ctx, u.ID); err != nil {
					return err
				}
				return s.audit(ctx, tx, "user.delete", "user", u.ID, "", u.Email)
			})
			return nil, err
		})

	s.providerBindingRoutes()
}

// providerBindingRoutes manage provider-wide roles; organisation roles are
// managed as members of each organisation.
func (s *Server) providerBindingRoutes() {
	tags := []string{"Users"}

	register(s, huma.Operation{OperationID: "list-role-bindings", Method: http.MethodGet, Path: "/api/v1/role-bindings",
		Summary: "List provider role bindings", Description: "Provider admins. Organisation roles are listed per organisation, as members.", Tags: tags},
		func(ctx context.Context, in *struct{ ListParams }) (*listOut[api.RoleBinding], error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			pg, err := in.page()
			if err != nil {
				return nil, err
			}
			var rows []store.RoleBinding
			var next string
			err = s.store.View(ctx, func(tx *store.Tx) error {
				rows, next, err = tx.ListScopeBindings(ctx, "", pg)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &listOut[api.RoleBinding]{Body: listOf(rows, next, bindingOf)}, nil
		})

	register(s, huma.Operation{OperationID: "put-role-binding", Method: http.MethodPost, Path: "/api/v1/role-bindings",
		Summary: "Grant a provider role",
		Description: "Provider admins. Gives an existing user (by ID or e-mail) a provider role, replacing their earlier one. " +
			"The last provider-admin cannot be demoted.",
		Tags: tags},
		func(ctx context.Context, in *struct{ Body api.RoleBindingCreate }) (*struct{ Body api.RoleBinding }, error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			if !auth.IsProviderRole(in.Body.Role) {
				return nil, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation,
					"role %q is not a provider role (provider-admin, provider-viewer); grant organisation roles with POST /api/v1/orgs/{org}/members", in.Body.Role)
			}
			var b *store.RoleBinding
			err := s.store.Tx(ctx, func(tx *store.Tx) error {
				u, err := bindingUser(ctx, tx, in.Body)
				if err != nil {
					return err
				}
				if err := keepLastAdmin(ctx, tx, u.ID, "", in.Body.Role); err != nil {
					return err
				}
				b = &store.RoleBinding{UserID: u.ID, Role: in.Body.Role}
				if err := tx.PutRoleBinding(ctx, b); err != nil {
					return err
				}
				return s.audit(ctx, tx, "role_binding.grant", "role_binding", b.ID, "", u.Email+" "+b.Role)
			})
			if err != nil {
				return nil, err
			}
			return &struct{ Body api.RoleBinding }{Body: bindingOf(b)}, nil
		})

	register(s, huma.Operation{OperationID: "delete-role-binding", Method: http.MethodDelete, Path: "/api/v1/role-bindings/{id}",
		Summary:     "Remove a provider role",
		Description: "Provider admins. Also revokes the user's provider tokens. The last provider-admin cannot be removed.",
		Tags:        tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *idPath) (*emptyOut, error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			err := s.store.Tx(ctx, func(tx *store.Tx) error {
				b, err := tx.GetRoleBinding(ctx, in.ID)
				if err != nil {
					return notFoundOr(err, "role binding", in.ID)
				}
				if b.OrgID != "" {
					// Organisation roles are managed through the organisation's members.
					return api.NotFound("role binding", in.ID)
				}
				if err := keepLastAdmin(ctx, tx, b.UserID, "", ""); err != nil {
					return err
				}
				if err := tx.DeleteRoleBinding(ctx, b.ID); err != nil {
					return err
				}
				if err := tx.DeleteUserScopeTokens(ctx, b.UserID, ""); err != nil {
					return err
				}
				return s.audit(ctx, tx, "role_binding.delete", "role_binding", b.ID, "", b.Email+" "+b.Role)
			})
			return nil, err
		})
}
