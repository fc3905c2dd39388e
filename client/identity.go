package client

import (
	"context"
	"fmt"
	"iter"
	"net/http"

	"github.com/sirocco-cloud/sirocco/api"
)

// Signup creates a user and their organisation. The user must verify their
// e-mail address (VerifyEmail with the token from the mail) before creating
// resources.
func (c *Client) Signup(ctx context.Context, s api.Signup, opts ...CallOption) (*api.SignupResult, error) {
	return send[api.SignupResult](ctx, c, http.MethodPost, path("signup"), s, opts)
}

// VerifyEmail confirms an e-mail address with the token from the mail and
// returns the user it belongs to.
func (c *Client) VerifyEmail(ctx context.Context, token string) (*api.User, error) {
	return send[api.User](ctx, c, http.MethodPost, path("verify-email"), api.TokenRequest{Token: token}, nil)
}

// ResendVerification sends the caller a new verification mail.
func (c *Client) ResendVerification(ctx context.Context) error {
	_, err := c.do(ctx, request{method: http.MethodPost, path: path("verify-email", "resend")})
	return err
}

// Login authenticates with e-mail and password. It returns the value of the
// session cookie (use it with WithSession, e.g. to mint a token) and the
// logged-in caller.
func (c *Client) Login(ctx context.Context, email, password string) (session string, me *api.Me, err error) {
	me = &api.Me{}
	res, err := c.do(ctx, request{method: http.MethodPost, path: path("login"), body: api.Login{Email: email, Password: password}, out: me})
	if err != nil {
		return "", nil, err
	}
	for _, ck := range res.Cookies() {
		if ck.Name == SessionCookie && ck.Value != "" {
			return ck.Value, me, nil
		}
	}
	return "", nil, fmt.Errorf("login: the server set no %s cookie", SessionCookie)
}

// Logout ends the session the client was made with (WithSession).
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.do(ctx, request{method: http.MethodPost, path: path("logout")})
	return err
}

// Me returns the caller: the user, their roles and the token in use.
func (c *Client) Me(ctx context.Context) (*api.Me, error) {
	return get[api.Me](ctx, c, path("me"), nil)
}

// PasswordReset asks for a password reset mail. The answer is the same
// whether or not the address is known.
func (c *Client) PasswordReset(ctx context.Context, email string) error {
	_, err := c.do(ctx, request{method: http.MethodPost, path: path("password-reset"), body: api.PasswordResetRequest{Email: email}})
	return err
}

// PasswordResetConfirm sets a new password with the token from a reset mail.
func (c *Client) PasswordResetConfirm(ctx context.Context, token, password string) error {
	_, err := c.do(ctx, request{method: http.MethodPost, path: path("password-reset", "confirm"),
		body: api.PasswordReset{Token: token, Password: password}})
	return err
}

// Users.

// UserListOptions select users.
type UserListOptions struct {
	ListOptions
	Email string // only the user with this address
}

// ListUsers returns one page of users (provider roles).
func (c *Client) ListUsers(ctx context.Context, opts UserListOptions) (*api.List[api.User], error) {
	q := opts.values()
	setIf(q, "email", opts.Email)
	return list[api.User](ctx, c, path("users"), q)
}

// AllUsers walks every user.
func (c *Client) AllUsers(ctx context.Context, opts UserListOptions) iter.Seq2[api.User, error] {
	return all(ctx, opts.ListOptions, func(ctx context.Context, lo ListOptions) (*api.List[api.User], error) {
		o := opts
		o.ListOptions = lo
		return c.ListUsers(ctx, o)
	})
}

// GetUser returns a user (provider roles, or the user themself).
func (c *Client) GetUser(ctx context.Context, id string) (*api.User, error) {
	return get[api.User](ctx, c, path("users", id), nil)
}

// DeleteUser deletes a user (provider-admin).
func (c *Client) DeleteUser(ctx context.Context, id string, opts ...CallOption) error {
	return c.del(ctx, path("users", id), opts)
}

// Provider role bindings.

// ListRoleBindings returns one page of provider-wide role bindings.
func (c *Client) ListRoleBindings(ctx context.Context, opts ListOptions) (*api.List[api.RoleBinding], error) {
	return list[api.RoleBinding](ctx, c, path("role-bindings"), opts.values())
}

// AllRoleBindings walks every provider-wide role binding.
func (c *Client) AllRoleBindings(ctx context.Context, opts ListOptions) iter.Seq2[api.RoleBinding, error] {
	return all(ctx, opts, c.ListRoleBindings)
}

// CreateRoleBinding grants a provider role to a user (provider-admin).
func (c *Client) CreateRoleBinding(ctx context.Context, b api.RoleBindingCreate, opts ...CallOption) (*api.RoleBinding, error) {
	return send[api.RoleBinding](ctx, c, http.MethodPost, path("role-bindings"), b, opts)
}

// DeleteRoleBinding revokes a provider role binding (provider-admin).
func (c *Client) DeleteRoleBinding(ctx context.Context, id string, opts ...CallOption) error {
	return c.del(ctx, path("role-bindings", id), opts)
}

// Tokens.

// CreateToken makes an API token for the caller. The secret is in the answer
// and nowhere else, ever.
func (c *Client) CreateToken(ctx context.Context, t api.TokenCreate, opts ...CallOption) (*api.TokenCreated, error) {
	return send[api.TokenCreated](ctx, c, http.MethodPost, path("tokens"), t, opts)
}

// ListTokens returns one page of the caller's own tokens.
func (c *Client) ListTokens(ctx context.Context, opts ListOptions) (*api.List[api.Token], error) {
	return list[api.Token](ctx, c, path("tokens"), opts.values())
}

// AllTokens walks every token of the caller's.
func (c *Client) AllTokens(ctx context.Context, opts ListOptions) iter.Seq2[api.Token, error] {
	return all(ctx, opts, c.ListTokens)
}

// GetToken returns one of the caller's tokens.
func (c *Client) GetToken(ctx context.Context, id string) (*api.Token, error) {
	return get[api.Token](ctx, c, path("tokens", id), nil)
}

// RevokeToken revokes one of the caller's tokens.
func (c *Client) RevokeToken(ctx context.Context, id string, opts ...CallOption) error {
	return c.del(ctx, path("tokens", id), opts)
}

// ListOrgTokens returns one page of every token acting in an organisation
// (org-admin).
func (c *Client) ListOrgTokens(ctx context.Context, org string, opts ListOptions) (*api.List[api.Token], error) {
	return list[api.Token](ctx, c, path("orgs", org, "tokens"), opts.values())
}

// AllOrgTokens walks every token acting in an organisation.
func (c *Client) AllOrgTokens(ctx context.Context, org string, opts ListOptions) iter.Seq2[api.Token, error] {
	return all(ctx, opts, func(ctx context.Context, lo ListOptions) (*api.List[api.Token], error) {
		return c.ListOrgTokens(ctx, org, lo)
	})
}

// RevokeOrgToken revokes any token acting in an organisation (org-admin).
func (c *Client) RevokeOrgToken(ctx context.Context, org, id string, opts ...CallOption) error {
	return c.del(ctx, path("orgs", org, "tokens", id), opts)
}
