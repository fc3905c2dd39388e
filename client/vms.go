package client

import (
	"context"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"

	"github.com/coder/websocket"

	"github.com/sirocco-cloud/sirocco/api"
)

// VMs, snapshots and where an organisation's data lives. Every action that
// touches a host (create, start, stop, snapshot...) is long: it returns the
// operation doing it, which WaitOperation follows.

// VMListOptions select an organisation's VMs.
type VMListOptions struct {
	ListOptions
	VDC string // ID or name
}

// ListVMs returns one page of an organisation's VMs.
func (c *Client) ListVMs(ctx context.Context, org string, opts VMListOptions) (*api.List[api.VM], error) {
	q := opts.values()
	setIf(q, "vdc", opts.VDC)
	return list[api.VM](ctx, c, path("orgs", org, "vms"), q)
}

// AllVMs walks every VM of an organisation selected by opts.
func (c *Client) AllVMs(ctx context.Context, org string, opts VMListOptions) iter.Seq2[api.VM, error] {
	return all(ctx, opts.ListOptions, func(ctx context.Context, lo ListOptions) (*api.List[api.VM], error) {
		o := opts
		o.ListOptions = lo
		return c.ListVMs(ctx, org, o)
	})
}

// ProviderVMListOptions select VMs across organisations.
type ProviderVMListOptions struct {
	ListOptions
	Host string // only VMs on this host
	Org  string // only this organisation's VMs
}

// ListProviderVMs returns one page of every organisation's VMs (provider
// roles), e.g. what runs on a host before draining it.
func (c *Client) ListProviderVMs(ctx context.Context, opts ProviderVMListOptions) (*api.List[api.VM], error) {
	q := opts.values()
	setIf(q, "host", opts.Host)
	setIf(q, "org", opts.Org)
	return list[api.VM](ctx, c, path("vms"), q)
}

// AllProviderVMs walks every VM selected by opts (provider roles).
func (c *Client) AllProviderVMs(ctx context.Context, opts ProviderVMListOptions) iter.Seq2[api.VM, error] {
	return all(ctx, opts.ListOptions, func(ctx context.Context, lo ListOptions) (*api.List[api.VM], error) {
		o := opts
		o.ListOptions = lo
		return c.ListProviderVMs(ctx, o)
	})
}

// CreateVMs places one VM, or in.Count of them, and returns them with one
// operation per VM that finishes when it runs (or, with PowerOn false, when
// its disk is ready). Pass IdempotencyKey to retry safely: a repeat must not
// make the VMs twice.
func (c *Client) CreateVMs(ctx context.Context, org string, in api.VMCreate, opts ...CallOption) (*api.VMCreated, error) {
	return send[api.VMCreated](ctx, c, http.MethodPost, path("orgs", org, "vms"), in, opts)
}

// GetVM returns a VM, by ID or name.
func (c *Client) GetVM(ctx context.Context, org, vm string) (*api.VM, error) {
	return get[api.VM](ctx, c, path("orgs", org, "vms", vm), nil)
}

// UpdateVM changes a VM's labels.
func (c *Client) UpdateVM(ctx context.Context, org, vm string, u api.VMUpdate, opts ...CallOption) (*api.VM, error) {
	return send[api.VM](ctx, c, http.MethodPatch, path("orgs", org, "vms", vm), u, opts)
}

// DeleteVM starts deleting a VM, its disks and snapshots.
func (c *Client) DeleteVM(ctx context.Context, org, vm string, opts ...CallOption) (*api.Operation, error) {
	return send[api.Operation](ctx, c, http.MethodDelete, path("orgs", org, "vms", vm), nil, opts)
}

// StartVM powers a stopped VM on.
func (c *Client) StartVM(ctx context.Context, org, vm string, opts ...CallOption) (*api.Operation, error) {
	return c.vmAction(ctx, org, vm, "start", nil, opts)
}

// StopVM asks the guest to power off and forces it off after the timeout;
// stop nil takes the server's default timeout.
func (c *Client) StopVM(ctx context.Context, org, vm string, stop *api.VMStop, opts ...CallOption) (*api.Operation, error) {
	var body any
	if stop != nil {
		body = stop
	}
	return c.vmAction(ctx, org, vm, "stop", body, opts)
}

// RebootVM restarts a running VM's guest.
func (c *Client) RebootVM(ctx context.Context, org, vm string, opts ...CallOption) (*api.Operation, error) {
	return c.vmAction(ctx, org, vm, "reboot", nil, opts)
}

// ForceOffVM cuts a VM's power at once, as pulling the plug would.
func (c *Client) ForceOffVM(ctx context.Context, org, vm string, opts ...CallOption) (*api.Operation, error) {
	return c.vmAction(ctx, org, vm, "force-off", nil, opts)
}

// ResizeVM changes a stopped VM's size; its root disk only grows.
func (c *Client) ResizeVM(ctx context.Context, org, vm string, r api.VMResize, opts ...CallOption) (*api.Operation, error) {
	return c.vmAction(ctx, org, vm, "resize", r, opts)
}

func (c *Client) vmAction(ctx context.Context, org, vm, action string, body any, opts []CallOption) (*api.Operation, error) {
	return send[api.Operation](ctx, c, http.MethodPost, path("orgs", org, "vms", vm, action), body, opts)
}

// Snapshots.

// ListSnapshots returns one page of a VM's snapshots.
func (c *Client) ListSnapshots(ctx context.Context, org, vm string, opts ListOptions) (*api.List[api.Snapshot], error) {
	return list[api.Snapshot](ctx, c, path("orgs", org, "vms", vm, "snapshots"), opts.values())
}

// AllSnapshots walks every snapshot of a VM.
func (c *Client) AllSnapshots(ctx context.Context, org, vm string, opts ListOptions) iter.Seq2[api.Snapshot, error] {
	return all(ctx, opts, func(ctx context.Context, lo ListOptions) (*api.List[api.Snapshot], error) {
		return c.ListSnapshots(ctx, org, vm, lo)
	})
}

// CreateSnapshot starts taking a snapshot of a stopped VM's root disk.
func (c *Client) CreateSnapshot(ctx context.Context, org, vm string, s api.SnapshotCreate, opts ...CallOption) (*api.Operation, error) {
	return send[api.Operation](ctx, c, http.MethodPost, path("orgs", org, "vms", vm, "snapshots"), s, opts)
}

// DeleteSnapshot starts deleting a snapshot.
func (c *Client) DeleteSnapshot(ctx context.Context, org, vm, snapshot string, opts ...CallOption) (*api.Operation, error) {
	return send[api.Operation](ctx, c, http.MethodDelete, path("orgs", org, "vms", vm, "snapshots", snapshot), nil, opts)
}

// RevertSnapshot starts putting a stopped VM's root disk back to a snapshot;
// what was written since is lost.
func (c *Client) RevertSnapshot(ctx context.Context, org, vm, snapshot string, opts ...CallOption) (*api.Operation, error) {
	return send[api.Operation](ctx, c, http.MethodPost, path("orgs", org, "vms", vm, "snapshots", snapshot, "revert"), nil, opts)
}

// Console.

// consoleReadLimit bounds one message from the console: the server's first
// message replays the recent history, far more than websocket's 32 KiB default.
const consoleReadLimit = 4 << 20

// ConsoleVM connects to a VM's serial console. Reads return what the guest
// prints, starting with the recent history; writes are keystrokes. ctx
// bounds the whole session, not only the dial: cancel it (or Close the
// connection) to leave. A refused connection is an *api.Error as for any
// other call; reads end with io.EOF when the server closes the console.
func (c *Client) ConsoleVM(ctx context.Context, org, vm string) (net.Conn, error) {
	p := path("orgs", org, "vms", vm, "console")
	h := http.Header{}
	c.authorize(h)
	ws, res, err := websocket.Dial(ctx, c.base+p, &websocket.DialOptions{HTTPClient: c.hc, HTTPHeader: h})
	if err != nil {
		if res != nil && res.StatusCode != http.StatusSwitchingProtocols {
			// The dialer kept the start of the refusal's body for us.
			return nil, decodeError(res)
		}
		return nil, fmt.Errorf("console of %s: %w", vm, err)
	}
	ws.SetReadLimit(consoleReadLimit)
	return websocket.NetConn(ctx, ws, websocket.MessageBinary), nil
}

// Residency.

// GetResidencyReport lists where every piece of an organisation's data
// lives (VMs, disks, snapshots, image copies), with each place's
// jurisdiction, for an auditor.
func (c *Client) GetResidencyReport(ctx context.Context, org string) (*api.ResidencyReport, error) {
	return get[api.ResidencyReport](ctx, c, path("orgs", org, "residency"), nil)
}

// ResidencyReportCSV writes the residency report to w as CSV, with the header
// kind,id,name,vm,host,zone,region,jurisdiction, straight from the server.
func (c *Client) ResidencyReportCSV(ctx context.Context, org string, w io.Writer) error {
	p := path("orgs", org, "residency.csv")
	res, err := c.raw(ctx, http.MethodGet, p, nil, http.Header{"Accept": {"text/csv"}}, nil, 0, nil)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := io.Copy(w, res.Body); err != nil {
		return fmt.Errorf("GET %s: read report: %w", p, err)
	}
	return nil
}
