package auth

import "github.com/sirocco-cloud/sirocco/api"

// rank orders roles within their scope; higher includes lower.
var rank = map[string]int{
	api.RoleOrgViewer:      1,
	api.RoleOrgMember:      2,
	api.RoleOrgAdmin:       3,
	api.RoleProviderViewer: 1,
	api.RoleProviderAdmin:  3,
}

// IsProviderRole reports whether role is provider-wide.
func IsProviderRole(role string) bool {
	return role == api.RoleProviderAdmin || role == api.RoleProviderViewer
}

// IsOrgRole reports whether role applies within an organisation.
func IsOrgRole(role string) bool {
	return role == api.RoleOrgAdmin || role == api.RoleOrgMember || role == api.RoleOrgViewer
}

// Within reports whether role grants no more than limit (both in one scope).
func Within(role, limit string) bool {
	if IsProviderRole(role) != IsProviderRole(limit) {
		return false
	}
	return rank[role] <= rank[limit]
}

// lesser returns the weaker of two roles of one scope.
func lesser(a, b string) string {
	if rank[a] <= rank[b] {
		return a
	}
	return b
}

// Principal is an authenticated caller with their effective roles. A token
// narrows its user's roles to the token's scope and role; a console session
// carries all of them.
type Principal struct {
	UserID        string
	Email         string
	EmailVerified bool
	// TokenID and TokenName are set when a bearer token authenticated the request.
	TokenID   string
	TokenName string
	// SessionID is set when a console session cookie authenticated the request.
	SessionID string
	// Provider is the effective provider role, or "".
	Provider string
	// Orgs maps organisation ID to the effective role there.
	Orgs map[string]string
}

// Binding is one role a user holds: in an organisation, or provider-wide when Org is "".
type Binding struct {
	Org  string
	Role string
}

// TokenScope is what a token allows: one organisation and role, or (Org "")
// a provider role.
type TokenScope struct {
	Org  string
	Role string
}

// Resolve computes effective roles from a user's bindings, narrowed by a
// token's scope when scope is not nil. A binding the user lost after the token
// was made stops applying at once.
func Resolve(p *Principal, bindings []Binding, scope *TokenScope) {
	p.Orgs = map[string]string{}
	p.Provider = ""
	for _, b := range bindings {
		switch {
		case b.Org == "" && IsProviderRole(b.Role):
			if scope == nil {
				p.Provider = b.Role
			} else if scope.Org == "" && IsProviderRole(scope.Role) {
				p.Provider = lesser(b.Role, scope.Role)
			} else if scope.Org != "" && IsOrgRole(scope.Role) {
				// A provider's token for one organisation acts there with the
				// organisation role its provider role implies, and nowhere else.
				p.grant(scope.Org, lesser(impliedOrgRole(b.Role), scope.Role))
			}
		case b.Org != "" && IsOrgRole(b.Role):
			if scope == nil {
				p.grant(b.Org, b.Role)
			} else if scope.Org == b.Org && IsOrgRole(scope.Role) {
				p.grant(b.Org, lesser(b.Role, scope.Role))
			}
		}
	}
}

// grant gives role in org unless the caller already holds a higher one there.
func (p *Principal) grant(org, role string) {
	if rank[role] > rank[p.Orgs[org]] {
		p.Orgs[org] = role
	}
}

// impliedOrgRole is the organisation role a provider role acts as.
func impliedOrgRole(provider string) string {
	switch provider {
	case api.RoleProviderAdmin:
		return api.RoleOrgAdmin
	case api.RoleProviderViewer:
		return api.RoleOrgViewer
	}
	return ""
}

// OrgRole is the caller's effective role in org: their own, or what their
// provider role implies (provider-admin acts as org-admin everywhere,
// provider-viewer as org-viewer).
func (p *Principal) OrgRole(org string) string {
	own := p.Orgs[org]
	implied := impliedOrgRole(p.Provider)
	if rank[implied] > rank[own] {
		return implied
	}
	return own
}

// CanSeeOrg reports whether the caller may read anything in org. When it is
// false, the organisation must look as if it did not exist.
func (p *Principal) CanSeeOrg(org string) bool { return p.OrgRole(org) != "" }

// CanWriteOrg reports whether the caller may create and change resources in org.
func (p *Principal) CanWriteOrg(org string) bool {
	return rank[p.OrgRole(org)] >= rank[api.RoleOrgMember]
}

// CanAdminOrg reports whether the caller may manage org's users, settings and tokens.
func (p *Principal) CanAdminOrg(org string) bool {
	return rank[p.OrgRole(org)] >= rank[api.RoleOrgAdmin]
}

// CanReadProvider reports whether the caller may read provider-wide state.
func (p *Principal) CanReadProvider() bool { return p.Provider != "" }

// CanAdminProvider reports whether the caller may change provider-wide state.
func (p *Principal) CanAdminProvider() bool { return p.Provider == api.RoleProviderAdmin }
