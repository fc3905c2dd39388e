package api

import "time"

// Organisation is a tenant: users with roles, a residency policy, a billing
// account, VDCs.
type Organisation struct {
	Meta
	Name        string    `json:"name" example:"acme"`
	DisplayName string    `json:"display_name,omitempty"`
	State       string    `json:"state" enum:"active,warn,grace,suspended,closed"`
	Residency   Residency `json:"residency"`
}

// Residency says where an organisation's data may live. An empty policy allows
// everywhere; otherwise a zone is allowed when its region is listed or its
// jurisdiction is listed.
type Residency struct {
	Jurisdictions []string `json:"jurisdictions,omitempty" doc:"ISO 3166-1 alpha-2 codes" example:"[\"AU\"]"`
	Regions       []string `json:"regions,omitempty" example:"[\"au-syd\"]"`
}

// Allows reports whether a zone in region with the given jurisdiction meets
// the policy.
func (r Residency) Allows(region, jurisdiction string) bool {
	if len(r.Jurisdictions) == 0 && len(r.Regions) == 0 {
		return true
	}
	for _, j := range r.Jurisdictions {
		if j == jurisdiction {
			return true
		}
	}
	for _, g := range r.Regions {
		if g == region {
			return true
		}
	}
	return false
}

// OrganisationCreate makes an organisation (provider only; tenants sign up).
type OrganisationCreate struct {
	Name        string    `json:"name" pattern:"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$" example:"acme"`
	DisplayName string    `json:"display_name,omitempty" maxLength:"100"`
	Residency   Residency `json:"residency,omitempty"`
	Labels      Labels    `json:"labels,omitempty"`
}

// OrganisationUpdate changes an organisation. State may be changed by the
// provider only.
type OrganisationUpdate struct {
	DisplayName *string    `json:"display_name,omitempty" maxLength:"100"`
	Residency   *Residency `json:"residency,omitempty"`
	State       *string    `json:"state,omitempty" enum:"active,warn,grace,suspended,closed"`
	Labels      *Labels    `json:"labels,omitempty"`
}

// User is a person who can log in.
type User struct {
	Meta
	Email         string `json:"email"`
	Name          string `json:"name,omitempty"`
	EmailVerified bool   `json:"email_verified"`
}

// Me is the caller: the user, where they have roles, and how they are
// authenticated.
type Me struct {
	User        User          `json:"user"`
	Memberships []Membership  `json:"memberships" nullable:"false"`
	Provider    string        `json:"provider_role,omitempty" doc:"provider-admin or provider-viewer, if any"`
	Token       *TokenSummary `json:"token,omitempty" doc:"The token used for this request, if any"`
}

// Membership is a user's role in one organisation.
type Membership struct {
	Org     string `json:"org" doc:"Organisation ID"`
	OrgName string `json:"org_name"`
	Role    string `json:"role"`
}

// RoleBinding grants a user a role, in one organisation or (with Org empty)
// provider-wide.
type RoleBinding struct {
	ID        string    `json:"id"`
	User      string    `json:"user" doc:"User ID"`
	Email     string    `json:"email"`
	Org       string    `json:"org,omitempty" doc:"Organisation ID; empty for provider roles"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// RoleBindingCreate grants a role to an existing user, named by ID or e-mail.
type RoleBindingCreate struct {
	User  string `json:"user,omitempty" doc:"User ID"`
	Email string `json:"email,omitempty" format:"email"`
	Role  string `json:"role" enum:"provider-admin,provider-viewer,org-admin,org-member,org-viewer"`
}

// Invitation asks someone, by e-mail, to join an organisation with a role.
type Invitation struct {
	ID        string    `json:"id"`
	Org       string    `json:"org"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	State     string    `json:"state" enum:"pending,accepted,revoked,expired"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedAt time.Time `json:"created_at"`
}

// InvitationCreate invites an e-mail address; a mail with a link is sent.
type InvitationCreate struct {
	Email string `json:"email" format:"email" maxLength:"254"`
	Role  string `json:"role" enum:"org-admin,org-member,org-viewer"`
}

// InvitationAccept accepts an invitation. A new user sets a name and password;
// an existing user must be logged in as the invited address.
type InvitationAccept struct {
	Token    string `json:"token" minLength:"1"`
	Name     string `json:"name,omitempty" maxLength:"100"`
	Password string `json:"password,omitempty" maxLength:"200"`
}

// Signup creates a user and their organisation.
type Signup struct {
	Email     string     `json:"email" format:"email" maxLength:"254"`
	Password  string     `json:"password" minLength:"10" maxLength:"200"`
	Name      string     `json:"name,omitempty" maxLength:"100"`
	OrgName   string     `json:"org_name" pattern:"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$" doc:"Short name of the new organisation"`
	Residency *Residency `json:"residency,omitempty" doc:"Where the organisation's data may live; default: anywhere"`
}

// SignupResult is the new user and organisation. The e-mail address must be
// verified before resources can be created.
type SignupResult struct {
	User         User         `json:"user"`
	Organisation Organisation `json:"organisation"`
}

// Login authenticates with e-mail and password and sets a session cookie.
type Login struct {
	Email    string `json:"email" maxLength:"254"`
	Password string `json:"password" maxLength:"200"`
}

// TokenRequest carries a one-time token from an e-mail.
type TokenRequest struct {
	Token string `json:"token" minLength:"1" maxLength:"200"`
}

// PasswordResetRequest asks for a reset mail. The answer is the same whether
// or not the address is known.
type PasswordResetRequest struct {
	Email string `json:"email" maxLength:"254"`
}

// PasswordReset sets a new password with the token from a reset mail.
type PasswordReset struct {
	Token    string `json:"token" minLength:"1" maxLength:"200"`
	Password string `json:"password" minLength:"10" maxLength:"200"`
}
