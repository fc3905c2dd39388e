package console

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// accountRoutes registers the pages of this file: an organisation's API
// tokens and members, and the visitor's own account.
func (c *Console) accountRoutes() {
	c.mux.Handle("GET /console/o/{org}/tokens", c.tenant(c.acctTokensPage))
	c.mux.Handle("POST /console/o/{org}/tokens", c.tenant(c.acctCreateToken))
	c.mux.Handle("POST /console/o/{org}/tokens/{id}/revoke", c.tenant(c.acctRevokeToken))
	c.mux.Handle("GET /console/o/{org}/members", c.tenant(c.acctMembersPage))
	c.mux.Handle("POST /console/o/{org}/members/{user}/role", c.tenant(c.acctChangeMemberRole))
	c.mux.Handle("POST /console/o/{org}/members/{user}/remove", c.tenant(c.acctRemoveMember))
	c.mux.Handle("POST /console/o/{org}/invitations", c.tenant(c.acctInvite))
	c.mux.Handle("POST /console/o/{org}/invitations/{id}/revoke", c.tenant(c.acctRevokeInvitation))
	c.mux.Handle("GET /console/account", c.user(c.acctAccountPage))
}

// acctOrgRoles are the organisation roles, strongest first.
var acctOrgRoles = []string{api.RoleOrgAdmin, api.RoleOrgMember, api.RoleOrgViewer}

// acctRolesUpTo are the organisation roles no stronger than role: what a
// member may give a token. The API checks it again.
func acctRolesUpTo(role string) []string {
	i := slices.Index(acctOrgRoles, role)
	if i < 0 {
		return nil
	}
	return acctOrgRoles[i:]
}

// Tokens.

type acctTokensData struct {
	Tokens []acctTokenRow
	Roles  []string
	// All says the list is every member's tokens (an org-admin's view),
	// not only the visitor's own.
	All bool
}

type acctTokenRow struct {
	api.Token
	Owner string
	Mine  bool
}

func (c *Console) acctTokensData(v *visit) (acctTokensData, error) {
	ctx := v.r.Context()
	d := acctTokensData{Roles: acctRolesUpTo(v.org.Role), All: acctIsAdmin(v)}
	owners := map[string]string{}
	var tokens []api.Token
	if d.All {
		for m, err := range v.api.AllMembers(ctx, v.org.Org, client.ListOptions{}) {
			if err != nil {
				return d, err
			}
			owners[m.User] = m.Email
		}
		for t, err := range v.api.AllOrgTokens(ctx, v.org.Org, client.ListOptions{}) {
			if err != nil {
				return d, err
			}
			tokens = append(tokens, t)
		}
	} else {
		// Members see their own tokens for this organisation.
		for t, err := range v.api.AllTokens(ctx, client.ListOptions{}) {
			if err != nil {
				return d, err
			}
			if t.Org == v.org.Org {
				tokens = append(tokens, t)
			}
		}
	}
	for _, t := range tokens {
		mine := t.User == v.me.User.ID
		owner := owners[t.User]
		if mine {
			owner = "you"
		}
		d.Tokens = append(d.Tokens, acctTokenRow{Token: t, Owner: owner, Mine: mine})
	}
	return d, nil
}

func (c *Console) acctTokensPage(v *visit) error {
	v.view.Area = "tokens"
	d, err := c.acctTokensData(v)
	if err != nil {
		return err
	}
	return v.render("acct-tokens", d)
}

type acctTokenCreated struct {
	api.TokenCreated
}

// acctCreateToken makes a token and shows its secret on the answer page itself:
// the secret never goes into a redirect, a cookie or a log.
func (c *Console) acctCreateToken(v *visit) error {
	v.view.Area = "tokens"
	f := v.form()
	in := api.TokenCreate{Name: strings.TrimSpace(f.Get("name")), Org: v.org.Org, Role: f.Get("role")}
	var err error
	if s := strings.TrimSpace(f.Get("expires_days")); s != "" {
		days, perr := strconv.Atoi(s)
		if perr != nil || days < 1 {
			err = billFieldError("expires_days", "give the lifetime as a whole number of days, at least 1")
		} else {
			in.ExpiresIn = fmt.Sprintf("%dh", days*24)
		}
	}
	var t *api.TokenCreated
	if err == nil {
		t, err = v.api.CreateToken(v.r.Context(), in)
	}
	if err != nil {
		// The API names the lifetime expires_in; the form, expires_days.
		if ae, ok := errors.AsType[*api.Error](err); ok {
			for i, e := range ae.Errors {
				if e.Location == "body.expires_in" {
					ae.Errors[i].Location = "body.expires_days"
				}
			}
		}
		d, derr := c.acctTokensData(v)
		if derr != nil {
			return derr
		}
		return v.formError("acct-tokens", d, err)
	}
	return v.render("acct-token-created", acctTokenCreated{TokenCreated: *t})
}

func (c *Console) acctRevokeToken(v *visit) error {
	v.view.Area = "tokens"
	ctx := v.r.Context()
	id := v.r.PathValue("id")
	var err error
	if acctIsAdmin(v) {
		err = v.api.RevokeOrgToken(ctx, v.org.Org, id)
	} else {
		err = v.api.RevokeToken(ctx, id)
	}
	if err != nil {
		d, derr := c.acctTokensData(v)
		if derr != nil {
			return derr
		}
		return billActionError(v, "acct-tokens", d, err)
	}
	return v.redirect(v.orgPath("tokens"), "The token is revoked: it stopped working.")
}

// Members and invitations.

type acctMembersData struct {
	Members     []api.RoleBinding
	Invitations []api.Invitation
	Roles       []string
	Admin       bool
	Me          string // the visitor's user ID
}

func (c *Console) acctMembersData(v *visit) (acctMembersData, error) {
	ctx := v.r.Context()
	d := acctMembersData{Roles: acctOrgRoles, Admin: acctIsAdmin(v), Me: v.me.User.ID}
	for m, err := range v.api.AllMembers(ctx, v.org.Org, client.ListOptions{}) {
		if err != nil {
			return d, err
		}
		d.Members = append(d.Members, m)
	}
	if d.Admin {
		// Only org-admins may read invitations.
		for in, err := range v.api.AllInvitations(ctx, v.org.Org, client.InvitationListOptions{State: "pending"}) {
			if err != nil {
				return d, err
			}
			d.Invitations = append(d.Invitations, in)
		}
	}
	return d, nil
}

func (c *Console) acctMembersPage(v *visit) error {
	v.view.Area = "members"
	d, err := c.acctMembersData(v)
	if err != nil {
		return err
	}
	return v.render("acct-members", d)
}

// acctMemberFail shows the members page again with a failed action.
func (c *Console) acctMemberFail(v *visit, err error, form bool) error {
	d, derr := c.acctMembersData(v)
	if derr != nil {
		return derr
	}
	if form {
		return v.formError("acct-members", d, err)
	}
	return billActionError(v, "acct-members", d, err)
}

func (c *Console) acctChangeMemberRole(v *visit) error {
	v.view.Area = "members"
	role := v.form().Get("role")
	b, err := v.api.AddMember(v.r.Context(), v.org.Org, api.RoleBindingCreate{User: v.r.PathValue("user"), Role: role})
	if err != nil {
		return c.acctMemberFail(v, err, false)
	}
	return v.redirect(v.orgPath("members"), fmt.Sprintf("%s is now %s.", b.Email, b.Role))
}

func (c *Console) acctRemoveMember(v *visit) error {
	v.view.Area = "members"
	user := v.r.PathValue("user")
	if err := v.api.RemoveMember(v.r.Context(), v.org.Org, user); err != nil {
		return c.acctMemberFail(v, err, false)
	}
	if user == v.me.User.ID {
		http.Redirect(v.w, v.r, "/console/account", http.StatusSeeOther)
		return nil
	}
	email := v.form().Get("email")
	return v.redirect(v.orgPath("members"), fmt.Sprintf("%s was removed, with their tokens for this organisation.", cmp.Or(email, "The member")))
}

func (c *Console) acctInvite(v *visit) error {
	v.view.Area = "members"
	f := v.form()
	in := api.InvitationCreate{Email: strings.TrimSpace(f.Get("email")), Role: f.Get("role")}
	if _, err := v.api.CreateInvitation(v.r.Context(), v.org.Org, in); err != nil {
		return c.acctMemberFail(v, err, true)
	}
	return v.redirect(v.orgPath("members"), fmt.Sprintf("We sent an invitation to %s.", in.Email))
}

func (c *Console) acctRevokeInvitation(v *visit) error {
	v.view.Area = "members"
	if err := v.api.RevokeInvitation(v.r.Context(), v.org.Org, v.r.PathValue("id")); err != nil {
		return c.acctMemberFail(v, err, false)
	}
	return v.redirect(v.orgPath("members"), "The invitation is revoked: its link no longer works.")
}

// Account.

func (c *Console) acctAccountPage(v *visit) error {
	v.view.Area = "account"
	return v.render("acct-account", v.me)
}
