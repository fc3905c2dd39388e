package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
)

// MaxPoll is the longest the server holds a wait request open.
const MaxPoll = 60 * time.Second

// OperationListOptions select operations.
type OperationListOptions struct {
	ListOptions
	Org    string // organisation ID or name
	State  string // queued, running, succeeded, failed or cancelled
	Kind   string // e.g. vdc.delete
	Target string // ID of the object acted on
}

// ListOperations returns one page of operations the caller can see.
func (c *Client) ListOperations(ctx context.Context, opts OperationListOptions) (*api.List[api.Operation], error) {
	q := opts.values()
	setIf(q, "org", opts.Org)
	setIf(q, "state", opts.State)
	setIf(q, "kind", opts.Kind)
	setIf(q, "target", opts.Target)
	return list[api.Operation](ctx, c, path("operations"), q)
}

// AllOperations walks every operation selected by opts.
func (c *Client) AllOperations(ctx context.Context, opts OperationListOptions) iter.Seq2[api.Operation, error] {
	return all(ctx, opts.ListOptions, func(ctx context.Context, lo ListOptions) (*api.List[api.Operation], error) {
		o := opts
		o.ListOptions = lo
		return c.ListOperations(ctx, o)
	})
}

// GetOperation returns an operation as it stands.
func (c *Client) GetOperation(ctx context.Context, id string) (*api.Operation, error) {
	return get[api.Operation](ctx, c, path("operations", id), nil)
}

// PollOperation long-polls: the server answers as soon as the operation is
// done, or with it as it stands after timeout (at most MaxPoll).
func (c *Client) PollOperation(ctx context.Context, id string, timeout time.Duration) (*api.Operation, error) {
	q := url.Values{}
	if timeout > 0 {
		q.Set("timeout", min(timeout, MaxPoll).String())
	}
	return get[api.Operation](ctx, c, path("operations", id, "wait"), q)
}

// CancelOperation cancels a queued operation or asks a running one to stop.
// The operation may still finish before it notices; wait for it to see how
// it ended.
func (c *Client) CancelOperation(ctx context.Context, id string, opts ...CallOption) (*api.Operation, error) {
	return send[api.Operation](ctx, c, http.MethodPost, path("operations", id, "cancel"), nil, opts)
}

// WaitOperation follows an operation until it is done and returns it as it
// ended. onProgress, when not nil, sees the operation each time the server
// reports it (every few seconds while it runs). A failed operation returns
// its error as an *api.Error alongside the operation; a cancelled one
// returns no error (check State).
func (c *Client) WaitOperation(ctx context.Context, id string, onProgress func(api.Operation)) (*api.Operation, error) {
	// Without an observer, hold each request as long as the server allows;
	// with one, come back often enough to show progress moving.
	poll := 30 * time.Second
	if onProgress != nil {
		poll = 2 * time.Second
	}
	for {
		op, err := c.PollOperation(ctx, id, poll)
		if err != nil {
			return nil, err
		}
		if onProgress != nil {
			onProgress(*op)
		}
		if op.Done() {
			return op, OperationError(op)
		}
		if err := ctx.Err(); err != nil {
			return op, err
		}
	}
}

// OperationError is the error of a failed operation (nil otherwise), never
// without a code even if the server recorded none.
func OperationError(op *api.Operation) error {
	if op.State != api.OpFailed {
		return nil
	}
	if op.Error != nil {
		return op.Error
	}
	msg := op.Message
	if msg == "" {
		msg = "the operation failed"
	}
	return &api.Error{Status: http.StatusInternalServerError, Code: api.CodeInternal, Detail: msg}
}

// Audit.

// AuditListOptions select audit events. Zero times leave the range open.
type AuditListOptions struct {
	ListOptions
	Org          string // provider list only: one organisation's events
	Actor        string // user ID or e-mail
	ResourceKind string // e.g. vdc
	Resource     string // object ID
	Action       string // e.g. vdc.create
	Since        time.Time
	Until        time.Time
}

func (o AuditListOptions) query(withOrg bool) url.Values {
	q := o.values()
	if withOrg {
		setIf(q, "org", o.Org)
	}
	setIf(q, "actor", o.Actor)
	setIf(q, "resource_kind", o.ResourceKind)
	setIf(q, "resource", o.Resource)
	setIf(q, "action", o.Action)
	if !o.Since.IsZero() {
		q.Set("since", o.Since.UTC().Format(time.RFC3339Nano))
	}
	if !o.Until.IsZero() {
		q.Set("until", o.Until.UTC().Format(time.RFC3339Nano))
	}
	return q
}

// ListAuditEvents returns one page of the installation's audit events
// (provider roles), oldest first.
func (c *Client) ListAuditEvents(ctx context.Context, opts AuditListOptions) (*api.List[api.AuditEvent], error) {
	return list[api.AuditEvent](ctx, c, path("audit-events"), opts.query(true))
}

// AllAuditEvents walks every audit event selected by opts.
func (c *Client) AllAuditEvents(ctx context.Context, opts AuditListOptions) iter.Seq2[api.AuditEvent, error] {
	return all(ctx, opts.ListOptions, func(ctx context.Context, lo ListOptions) (*api.List[api.AuditEvent], error) {
		o := opts
		o.ListOptions = lo
		return c.ListAuditEvents(ctx, o)
	})
}

// ListOrgAuditEvents returns one page of an organisation's audit events
// (org-admin and provider roles), oldest first. opts.Org is ignored.
func (c *Client) ListOrgAuditEvents(ctx context.Context, org string, opts AuditListOptions) (*api.List[api.AuditEvent], error) {
	return list[api.AuditEvent](ctx, c, path("orgs", org, "audit-events"), opts.query(false))
}

// AllOrgAuditEvents walks every audit event of an organisation selected by opts.
func (c *Client) AllOrgAuditEvents(ctx context.Context, org string, opts AuditListOptions) iter.Seq2[api.AuditEvent, error] {
	return all(ctx, opts.ListOptions, func(ctx context.Context, lo ListOptions) (*api.List[api.AuditEvent], error) {
		o := opts
		o.ListOptions = lo
		return c.ListOrgAuditEvents(ctx, org, o)
	})
}
