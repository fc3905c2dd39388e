package client

import (
	"context"
	"iter"
	"net/http"

	"github.com/sirocco-cloud/sirocco/api"
)

// Networks, public addresses and firewall rules. All of them take effect on
// the hosts within seconds of the call, without an operation to follow.

// NetworkListOptions select an organisation's networks.
type NetworkListOptions struct {
	ListOptions
	VDC string // ID or name
}

// ListNetworks returns one page of an organisation's networks.
func (c *Client) ListNetworks(ctx context.Context, org string, opts NetworkListOptions) (*api.List[api.Network], error) {
	q := opts.values()
	setIf(q, "vdc", opts.VDC)
	return list[api.Network](ctx, c, path("orgs", org, "networks"), q)
}

// AllNetworks walks every network of an organisation selected by opts.
func (c *Client) AllNetworks(ctx context.Context, org string, opts NetworkListOptions) iter.Seq2[api.Network, error] {
	return all(ctx, opts.ListOptions, func(ctx context.Context, lo ListOptions) (*api.List[api.Network], error) {
		o := opts
		o.ListOptions = lo
		return c.ListNetworks(ctx, org, o)
	})
}

// GetNetwork returns a network, by ID or name.
func (c *Client) GetNetwork(ctx context.Context, org, network string) (*api.Network, error) {
	return get[api.Network](ctx, c, path("orgs", org, "networks", network), nil)
}

// CreateNetwork makes a network in a VDC. A CIDR overlapping another
// network of the same VDC is refused with api.CodeNetworkOverlap.
func (c *Client) CreateNetwork(ctx context.Context, org string, in api.NetworkCreate, opts ...CallOption) (*api.Network, error) {
	return send[api.Network](ctx, c, http.MethodPost, path("orgs", org, "networks"), in, opts)
}

// DeleteNetwork deletes a network; it is refused with api.CodeInUse while
// VMs have interfaces on it.
func (c *Client) DeleteNetwork(ctx context.Context, org, network string, opts ...CallOption) error {
	return c.del(ctx, path("orgs", org, "networks", network), opts)
}

// Public IP pools (provider roles).

// PublicIPPoolListOptions select public IP pools.
type PublicIPPoolListOptions struct {
	ListOptions
	Region string
}

// ListPublicIPPools returns one page of the provider's public IP pools.
func (c *Client) ListPublicIPPools(ctx context.Context, opts PublicIPPoolListOptions) (*api.List[api.PublicIPPool], error) {
	q := opts.values()
	setIf(q, "region", opts.Region)
	return list[api.PublicIPPool](ctx, c, path("public-ip-pools"), q)
}

// AllPublicIPPools walks every public IP pool selected by opts.
func (c *Client) AllPublicIPPools(ctx context.Context, opts PublicIPPoolListOptions) iter.Seq2[api.PublicIPPool, error] {
	return all(ctx, opts.ListOptions, func(ctx context.Context, lo ListOptions) (*api.List[api.PublicIPPool], error) {
		o := opts
		o.ListOptions = lo
		return c.ListPublicIPPools(ctx, o)
	})
}

// CreatePublicIPPool defines a range of public addresses in a region
// (provider admins).
func (c *Client) CreatePublicIPPool(ctx context.Context, in api.PublicIPPoolCreate, opts ...CallOption) (*api.PublicIPPool, error) {
	return send[api.PublicIPPool](ctx, c, http.MethodPost, path("public-ip-pools"), in, opts)
}

// DeletePublicIPPool deletes a pool, by ID or name; it is refused with
// api.CodeInUse while any of its addresses is allocated.
func (c *Client) DeletePublicIPPool(ctx context.Context, pool string, opts ...CallOption) error {
	return c.del(ctx, path("public-ip-pools", pool), opts)
}

// Public IPs.

// PublicIPListOptions select an organisation's public addresses.
type PublicIPListOptions struct {
	ListOptions
	VDC string // ID or name
}

// ListPublicIPs returns one page of an organisation's public addresses.
func (c *Client) ListPublicIPs(ctx context.Context, org string, opts PublicIPListOptions) (*api.List[api.PublicIP], error) {
	q := opts.values()
	setIf(q, "vdc", opts.VDC)
	return list[api.PublicIP](ctx, c, path("orgs", org, "public-ips"), q)
}

// AllPublicIPs walks every public address of an organisation selected by opts.
func (c *Client) AllPublicIPs(ctx context.Context, org string, opts PublicIPListOptions) iter.Seq2[api.PublicIP, error] {
	return all(ctx, opts.ListOptions, func(ctx context.Context, lo ListOptions) (*api.List[api.PublicIP], error) {
		o := opts
		o.ListOptions = lo
		return c.ListPublicIPs(ctx, org, o)
	})
}

// GetPublicIP returns a public address, by ID or by the address itself.
func (c *Client) GetPublicIP(ctx context.Context, org, ip string) (*api.PublicIP, error) {
	return get[api.PublicIP](ctx, c, path("orgs", org, "public-ips", ip), nil)
}

// AllocatePublicIP takes a free address in the region of the VDC. It counts
// against the VDC's public_ips quota and is charged until released; an
// exhausted region is api.CodeNoPublicIPs.
func (c *Client) AllocatePublicIP(ctx context.Context, org string, in api.PublicIPAllocate, opts ...CallOption) (*api.PublicIP, error) {
	return send[api.PublicIP](ctx, c, http.MethodPost, path("orgs", org, "public-ips"), in, opts)
}

// ReleasePublicIP gives an address back to the provider, detaching it
// first if needed.
func (c *Client) ReleasePublicIP(ctx context.Context, org, ip string, opts ...CallOption) error {
	return c.del(ctx, path("orgs", org, "public-ips", ip), opts)
}

// AttachPublicIP NATs an address 1:1 to a VM's NIC (the first one unless
// in.NIC names another). Attaching it again to the same NIC changes nothing.
func (c *Client) AttachPublicIP(ctx context.Context, org, ip string, in api.PublicIPAttach, opts ...CallOption) (*api.PublicIP, error) {
	return send[api.PublicIP](ctx, c, http.MethodPost, path("orgs", org, "public-ips", ip, "attach"), in, opts)
}

// DetachPublicIP takes an address off its VM; it stays allocated.
func (c *Client) DetachPublicIP(ctx context.Context, org, ip string, opts ...CallOption) (*api.PublicIP, error) {
	return send[api.PublicIP](ctx, c, http.MethodPost, path("orgs", org, "public-ips", ip, "detach"), nil, opts)
}

// Firewall rules.

// ListFirewallRules returns every firewall rule of a VM, oldest first (the
// list has a single page).
func (c *Client) ListFirewallRules(ctx context.Context, org, vm string) (*api.List[api.FirewallRule], error) {
	return list[api.FirewallRule](ctx, c, path("orgs", org, "vms", vm, "firewall-rules"), nil)
}

// GetFirewallRule returns one rule of a VM.
func (c *Client) GetFirewallRule(ctx context.Context, org, vm, rule string) (*api.FirewallRule, error) {
	return get[api.FirewallRule](ctx, c, path("orgs", org, "vms", vm, "firewall-rules", rule), nil)
}

// CreateFirewallRule allows some traffic to or from a VM.
func (c *Client) CreateFirewallRule(ctx context.Context, org, vm string, in api.FirewallRuleCreate, opts ...CallOption) (*api.FirewallRule, error) {
	return send[api.FirewallRule](ctx, c, http.MethodPost, path("orgs", org, "vms", vm, "firewall-rules"), in, opts)
}

// DeleteFirewallRule removes a rule from a VM.
func (c *Client) DeleteFirewallRule(ctx context.Context, org, vm, rule string, opts ...CallOption) error {
	return c.del(ctx, path("orgs", org, "vms", vm, "firewall-rules", rule), opts)
}
