package client

import (
	"context"
	"iter"
	"net/http"

	"github.com/sirocco-cloud/sirocco/api"
)

// GetProvider returns the provider's settings. It needs no credentials: the
// console shows the branding before anyone logs in.
func (c *Client) GetProvider(ctx context.Context) (*api.Provider, error) {
	return get[api.Provider](ctx, c, path("provider"), nil)
}

// UpdateProvider changes provider settings (provider-admin).
func (c *Client) UpdateProvider(ctx context.Context, u api.ProviderUpdate, opts ...CallOption) (*api.Provider, error) {
	return send[api.Provider](ctx, c, http.MethodPatch, path("provider"), u, opts)
}

// Regions.

// ListRegions returns one page of regions.
func (c *Client) ListRegions(ctx context.Context, opts ListOptions) (*api.List[api.Region], error) {
	return list[api.Region](ctx, c, path("regions"), opts.values())
}

// AllRegions walks every region.
func (c *Client) AllRegions(ctx context.Context, opts ListOptions) iter.Seq2[api.Region, error] {
	return all(ctx, opts, c.ListRegions)
}

// GetRegion returns a region.
func (c *Client) GetRegion(ctx context.Context, id string) (*api.Region, error) {
	return get[api.Region](ctx, c, path("regions", id), nil)
}

// CreateRegion defines a region (provider-admin).
func (c *Client) CreateRegion(ctx context.Context, r api.RegionCreate, opts ...CallOption) (*api.Region, error) {
	return send[api.Region](ctx, c, http.MethodPost, path("regions"), r, opts)
}

// UpdateRegion changes a region (provider-admin).
func (c *Client) UpdateRegion(ctx context.Context, id string, u api.RegionUpdate, opts ...CallOption) (*api.Region, error) {
	return send[api.Region](ctx, c, http.MethodPatch, path("regions", id), u, opts)
}

// DeleteRegion deletes a region without zones (provider-admin).
func (c *Client) DeleteRegion(ctx context.Context, id string, opts ...CallOption) error {
	return c.del(ctx, path("regions", id), opts)
}

// Zones.

// ZoneListOptions select zones.
type ZoneListOptions struct {
	ListOptions
	Region string
}

// ListZones returns one page of zones.
func (c *Client) ListZones(ctx context.Context, opts ZoneListOptions) (*api.List[api.Zone], error) {
	q := opts.values()
	setIf(q, "region", opts.Region)
	return list[api.Zone](ctx, c, path("zones"), q)
}

// AllZones walks every zone.
func (c *Client) AllZones(ctx context.Context, opts ZoneListOptions) iter.Seq2[api.Zone, error] {
	return all(ctx, opts.ListOptions, func(ctx context.Context, lo ListOptions) (*api.List[api.Zone], error) {
		o := opts
		o.ListOptions = lo
		return c.ListZones(ctx, o)
	})
}

// GetZone returns a zone.
func (c *Client) GetZone(ctx context.Context, id string) (*api.Zone, error) {
	return get[api.Zone](ctx, c, path("zones", id), nil)
}

// CreateZone defines a zone in a region (provider-admin).
func (c *Client) CreateZone(ctx context.Context, z api.ZoneCreate, opts ...CallOption) (*api.Zone, error) {
	return send[api.Zone](ctx, c, http.MethodPost, path("zones"), z, opts)
}

// UpdateZone changes a zone (provider-admin).
func (c *Client) UpdateZone(ctx context.Context, id string, u api.ZoneUpdate, opts ...CallOption) (*api.Zone, error) {
	return send[api.Zone](ctx, c, http.MethodPatch, path("zones", id), u, opts)
}

// DeleteZone deletes an empty zone (provider-admin).
func (c *Client) DeleteZone(ctx context.Context, id string, opts ...CallOption) error {
	return c.del(ctx, path("zones", id), opts)
}

// Hosts.

// HostListOptions select hosts.
type HostListOptions struct {
	ListOptions
	Zone  string
	State string
}

// ListHosts returns one page of hosts (provider roles).
func (c *Client) ListHosts(ctx context.Context, opts HostListOptions) (*api.List[api.Host], error) {
	q := opts.values()
	setIf(q, "zone", opts.Zone)
	setIf(q, "state", opts.State)
	return list[api.Host](ctx, c, path("hosts"), q)
}

// AllHosts walks every host.
func (c *Client) AllHosts(ctx context.Context, opts HostListOptions) iter.Seq2[api.Host, error] {
	return all(ctx, opts.ListOptions, func(ctx context.Context, lo ListOptions) (*api.List[api.Host], error) {
		o := opts
		o.ListOptions = lo
		return c.ListHosts(ctx, o)
	})
}

// GetHost returns a host.
func (c *Client) GetHost(ctx context.Context, id string) (*api.Host, error) {
	return get[api.Host](ctx, c, path("hosts", id), nil)
}

// CreateHost registers a host ahead of its agent joining (provider-admin).
func (c *Client) CreateHost(ctx context.Context, h api.HostCreate, opts ...CallOption) (*api.Host, error) {
	return send[api.Host](ctx, c, http.MethodPost, path("hosts"), h, opts)
}

// UpdateHost changes a host, e.g. drains it (provider-admin).
func (c *Client) UpdateHost(ctx context.Context, id string, u api.HostUpdate, opts ...CallOption) (*api.Host, error) {
	return send[api.Host](ctx, c, http.MethodPatch, path("hosts", id), u, opts)
}

// CreateHostJoinToken makes a one-time token for a host's agent to join
// (provider-admin); run the returned command on the host.
func (c *Client) CreateHostJoinToken(ctx context.Context, id string, opts ...CallOption) (*api.HostJoinToken, error) {
	return send[api.HostJoinToken](ctx, c, http.MethodPost, path("hosts", id, "join-tokens"), nil, opts)
}

// DeleteHost removes a host (provider-admin).
func (c *Client) DeleteHost(ctx context.Context, id string, opts ...CallOption) error {
	return c.del(ctx, path("hosts", id), opts)
}

// Sizes.

// SizeListOptions select sizes.
type SizeListOptions struct {
	ListOptions
	ExcludeDeprecated bool // leave out sizes no longer offered for new VMs
}

// ListSizes returns one page of sizes.
func (c *Client) ListSizes(ctx context.Context, opts SizeListOptions) (*api.List[api.Size], error) {
	q := opts.values()
	if opts.ExcludeDeprecated {
		q.Set("include_deprecated", "false")
	}
	return list[api.Size](ctx, c, path("sizes"), q)
}

// AllSizes walks every size.
func (c *Client) AllSizes(ctx context.Context, opts SizeListOptions) iter.Seq2[api.Size, error] {
	return all(ctx, opts.ListOptions, func(ctx context.Context, lo ListOptions) (*api.List[api.Size], error) {
		o := opts
		o.ListOptions = lo
		return c.ListSizes(ctx, o)
	})
}

// GetSize returns a size.
func (c *Client) GetSize(ctx context.Context, id string) (*api.Size, error) {
	return get[api.Size](ctx, c, path("sizes", id), nil)
}

// CreateSize adds a size to the catalog (provider-admin).
func (c *Client) CreateSize(ctx context.Context, s api.SizeCreate, opts ...CallOption) (*api.Size, error) {
	return send[api.Size](ctx, c, http.MethodPost, path("sizes"), s, opts)
}

// UpdateSize changes a size (provider-admin).
func (c *Client) UpdateSize(ctx context.Context, id string, u api.SizeUpdate, opts ...CallOption) (*api.Size, error) {
	return send[api.Size](ctx, c, http.MethodPatch, path("sizes", id), u, opts)
}

// DeleteSize removes a size (provider-admin).
func (c *Client) DeleteSize(ctx context.Context, id string, opts ...CallOption) error {
	return c.del(ctx, path("sizes", id), opts)
}
