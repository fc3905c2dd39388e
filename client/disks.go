package client

import (
	"context"
	"iter"
	"net/http"

	"github.com/sirocco-cloud/sirocco/api"
)

// Data disks. They change without an operation to follow; an attachment
// or a new size reaches the VM's host within seconds and shows in the
// guest at its next start.

// DiskListOptions select an organisation's data disks.
type DiskListOptions struct {
	ListOptions
	VDC string // ID or name
	VM  string // ID or name: the disks attached to it
}

// ListDisks returns one page of an organisation's data disks.
func (c *Client) ListDisks(ctx context.Context, org string, opts DiskListOptions) (*api.List[api.Disk], error) {
	q := opts.values()
	setIf(q, "vdc", opts.VDC)
	setIf(q, "vm", opts.VM)
	return list[api.Disk](ctx, c, path("orgs", org, "disks"), q)
}

// AllDisks walks every data disk of an organisation selected by opts.
func (c *Client) AllDisks(ctx context.Context, org string, opts DiskListOptions) iter.Seq2[api.Disk, error] {
	return all(ctx, opts.ListOptions, func(ctx context.Context, lo ListOptions) (*api.List[api.Disk], error) {
		o := opts
		o.ListOptions = lo
		return c.ListDisks(ctx, org, o)
	})
}

// GetDisk returns a data disk, by ID or name.
func (c *Client) GetDisk(ctx context.Context, org, disk string) (*api.Disk, error) {
	return get[api.Disk](ctx, c, path("orgs", org, "disks", disk), nil)
}

// CreateDisk makes an empty data disk in a VDC. Its size counts against
// the VDC's disk quota (api.CodeQuotaExceeded); it is charged per GiB-hour
// until deleted.
func (c *Client) CreateDisk(ctx context.Context, org string, in api.DiskCreate, opts ...CallOption) (*api.Disk, error) {
	return send[api.Disk](ctx, c, http.MethodPost, path("orgs", org, "disks"), in, opts)
}

// UpdateDisk changes a disk's labels or grows it (never shrinks:
// api.CodeDiskShrink). An attached disk grows only while its VM is stopped
// (api.CodeVMNotStopped).
func (c *Client) UpdateDisk(ctx context.Context, org, disk string, in api.DiskUpdate, opts ...CallOption) (*api.Disk, error) {
	return send[api.Disk](ctx, c, http.MethodPatch, path("orgs", org, "disks", disk), in, opts)
}

// DeleteDisk deletes a detached disk (api.CodeDiskAttached otherwise).
func (c *Client) DeleteDisk(ctx context.Context, org, disk string, opts ...CallOption) error {
	return c.del(ctx, path("orgs", org, "disks", disk), opts)
}

// AttachDisk attaches a disk to a stopped VM of its VDC. The errors say
// why it cannot: api.CodeVMNotStopped, api.CodeDiskAttached (attached
// elsewhere) or api.CodeDiskOnOtherHost (the disk lives on another host).
func (c *Client) AttachDisk(ctx context.Context, org, disk string, in api.DiskAttach, opts ...CallOption) (*api.Disk, error) {
	return send[api.Disk](ctx, c, http.MethodPost, path("orgs", org, "disks", disk, "attach"), in, opts)
}

// DetachDisk takes a disk off its stopped VM; it keeps its data.
func (c *Client) DetachDisk(ctx context.Context, org, disk string, opts ...CallOption) (*api.Disk, error) {
	return send[api.Disk](ctx, c, http.MethodPost, path("orgs", org, "disks", disk, "detach"), nil, opts)
}
