package client

import (
	"context"
	"iter"
	"net/http"

	"github.com/sirocco-cloud/sirocco/api"
)

// Wherever an organisation is named (org), its ID or its short name will do;
// a VDC (vdc) likewise by ID or by its name within the organisation.

// ListOrgs returns one page of organisations: all of them for provider roles,
// otherwise the caller's.
func (c *Client) ListOrgs(ctx context.Context, opts ListOptions) (*api.List[api.Organisation], error) {
	return list[api.Organisation](ctx, c, path("orgs"), opts.values())
}

// AllOrgs walks every organisation the caller can see.
func (c *Client) AllOrgs(ctx context.Context, opts ListOptions) iter.Seq2[api.Organisation, error] {
	return all(ctx, opts, c.ListOrgs)
}

// CreateOrg makes an organisation (provider-admin; tenants use Signup).
func (c *Client) CreateOrg(ctx context.Context, o api.OrganisationCreate, opts ...CallOption) (*api.Organisation, error) {
	return send[api.Organisation](ctx, c, http.MethodPost, path("orgs"), o, opts)
}

// GetOrg returns an organisation.
func (c *Client) GetOrg(ctx context.Context, org string) (*api.Organisation, error) {
	return get[api.Organisation](ctx, c, path("orgs", org), nil)
}

// UpdateOrg changes an organisation.
func (c *Client) UpdateOrg(ctx context.Context, org string, u api.OrganisationUpdate, opts ...CallOption) (*api.Organisation, error) {
	return send[api.Organisation](ctx, c, http.MethodPatch, path("orgs", org), u, opts)
}

// CloseOrg starts closing an organisation and returns the operation
// (kind org.close) doing it.
func (c *Client) CloseOrg(ctx context.Context, org string, opts ...CallOption) (*api.Operation, error) {
	return send[api.Operation](ctx, c, http.MethodDelete, path("orgs", org), nil, opts)
}

// Members.

// ListMembers returns one page of an organisation's role bindings.
func (c *Client) ListMembers(ctx context.Context, org string, opts ListOptions) (*api.List[api.RoleBinding], error) {
	return list[api.RoleBinding](ctx, c, path("orgs", org, "members"), opts.values())
}

// AllMembers walks every member of an organisation.
func (c *Client) AllMembers(ctx context.Context, org string, opts ListOptions) iter.Seq2[api.RoleBinding, error] {
	return all(ctx, opts, func(ctx context.Context, lo ListOptions) (*api.List[api.RoleBinding], error) {
		return c.ListMembers(ctx, org, lo)
	})
}

// AddMember grants an existing user (by ID or e-mail) a role in an
// organisation, replacing the role they had there.
func (c *Client) AddMember(ctx context.Context, org string, b api.RoleBindingCreate, opts ...CallOption) (*api.RoleBinding, error) {
	return send[api.RoleBinding](ctx, c, http.MethodPost, path("orgs", org, "members"), b, opts)
}

// RemoveMember removes a user's role in an organisation.
func (c *Client) RemoveMember(ctx context.Context, org, user string, opts ...CallOption) error {
	return c.del(ctx, path("orgs", org, "members", user), opts)
}

// Invitations.

// CreateInvitation invites an e-mail address into an organisation; the
// server mails a link (org-admin).
func (c *Client) CreateInvitation(ctx context.Context, org string, in api.InvitationCreate, opts ...CallOption) (*api.Invitation, error) {
	return send[api.Invitation](ctx, c, http.MethodPost, path("orgs", org, "invitations"), in, opts)
}

// InvitationListOptions select invitations.
type InvitationListOptions struct {
	ListOptions
	State string // pending, accepted, revoked or expired
}

// ListInvitations returns one page of an organisation's invitations.
func (c *Client) ListInvitations(ctx context.Context, org string, opts InvitationListOptions) (*api.List[api.Invitation], error) {
	q := opts.values()
	setIf(q, "state", opts.State)
	return list[api.Invitation](ctx, c, path("orgs", org, "invitations"), q)
}

// AllInvitations walks every invitation of an organisation.
func (c *Client) AllInvitations(ctx context.Context, org string, opts InvitationListOptions) iter.Seq2[api.Invitation, error] {
	return all(ctx, opts.ListOptions, func(ctx context.Context, lo ListOptions) (*api.List[api.Invitation], error) {
		o := opts
		o.ListOptions = lo
		return c.ListInvitations(ctx, org, o)
	})
}

// RevokeInvitation withdraws a pending invitation.
func (c *Client) RevokeInvitation(ctx context.Context, org, id string, opts ...CallOption) error {
	return c.del(ctx, path("orgs", org, "invitations", id), opts)
}

// AcceptInvitation accepts an invitation with the token from its mail. A new
// user sets Name and Password; an existing user calls it authenticated as the
// invited address. It returns the membership gained.
func (c *Client) AcceptInvitation(ctx context.Context, in api.InvitationAccept, opts ...CallOption) (*api.Membership, error) {
	return send[api.Membership](ctx, c, http.MethodPost, path("invitations", "accept"), in, opts)
}

// VDCs.

// ListVDCs returns one page of an organisation's VDCs.
func (c *Client) ListVDCs(ctx context.Context, org string, opts ListOptions) (*api.List[api.VDC], error) {
	return list[api.VDC](ctx, c, path("orgs", org, "vdcs"), opts.values())
}

// AllVDCs walks every VDC of an organisation.
func (c *Client) AllVDCs(ctx context.Context, org string, opts ListOptions) iter.Seq2[api.VDC, error] {
	return all(ctx, opts, func(ctx context.Context, lo ListOptions) (*api.List[api.VDC], error) {
		return c.ListVDCs(ctx, org, lo)
	})
}

// CreateVDC makes a VDC in a zone the organisation's residency allows.
func (c *Client) CreateVDC(ctx context.Context, org string, v api.VDCCreate, opts ...CallOption) (*api.VDC, error) {
	return send[api.VDC](ctx, c, http.MethodPost, path("orgs", org, "vdcs"), v, opts)
}

// GetVDC returns a VDC.
func (c *Client) GetVDC(ctx context.Context, org, vdc string) (*api.VDC, error) {
	return get[api.VDC](ctx, c, path("orgs", org, "vdcs", vdc), nil)
}

// UpdateVDC changes a VDC.
func (c *Client) UpdateVDC(ctx context.Context, org, vdc string, u api.VDCUpdate, opts ...CallOption) (*api.VDC, error) {
	return send[api.VDC](ctx, c, http.MethodPatch, path("orgs", org, "vdcs", vdc), u, opts)
}

// DeleteVDC starts deleting a VDC and returns the operation (kind
// vdc.delete) doing it.
func (c *Client) DeleteVDC(ctx context.Context, org, vdc string, opts ...CallOption) (*api.Operation, error) {
	return send[api.Operation](ctx, c, http.MethodDelete, path("orgs", org, "vdcs", vdc), nil, opts)
}
