package client

import (
	"context"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
)

// Billing: prices and quotes, balance and credit, invoices and usage,
// budgets and webhooks. Money is exact decimal strings in the provider's
// currency, never floats; the *_display and *_rounded fields are the same
// amounts rounded half-up, as people see them.

// Price plans (public to every signed-in user; writes are provider-admin).

// PricePlanListOptions select price plans.
type PricePlanListOptions struct {
	Region          string // region name
	AllocationModel string // payg, allocation or reservation
}

// ListPricePlans returns every price plan, past, in force and announced.
func (c *Client) ListPricePlans(ctx context.Context, opts PricePlanListOptions) (*api.List[api.PricePlan], error) {
	q := url.Values{}
	setIf(q, "region", opts.Region)
	setIf(q, "allocation_model", opts.AllocationModel)
	return list[api.PricePlan](ctx, c, path("price-plans"), q)
}

// GetPricePlan returns a price plan.
func (c *Client) GetPricePlan(ctx context.Context, id string) (*api.PricePlan, error) {
	return get[api.PricePlan](ctx, c, path("price-plans", id), nil)
}

// CreatePricePlan adds a price plan from a date on (provider-admin). Plans
// are never edited: a price change is a new plan.
func (c *Client) CreatePricePlan(ctx context.Context, p api.PricePlanCreate, opts ...CallOption) (*api.PricePlan, error) {
	return send[api.PricePlan](ctx, c, http.MethodPost, path("price-plans"), p, opts)
}

// DeletePricePlan deletes a plan that has not taken effect yet
// (provider-admin); one in force or past is a conflict.
func (c *Client) DeletePricePlan(ctx context.Context, id string, opts ...CallOption) error {
	return c.del(ctx, path("price-plans", id), opts)
}

// ListPriceOverrides returns an organisation's negotiated prices (provider
// roles).
func (c *Client) ListPriceOverrides(ctx context.Context, org string) (*api.List[api.PriceOverride], error) {
	return list[api.PriceOverride](ctx, c, path("orgs", org, "price-overrides"), nil)
}

// CreatePriceOverride gives an organisation negotiated prices
// (provider-admin).
func (c *Client) CreatePriceOverride(ctx context.Context, org string, o api.PriceOverrideCreate, opts ...CallOption) (*api.PriceOverride, error) {
	return send[api.PriceOverride](ctx, c, http.MethodPost, path("orgs", org, "price-overrides"), o, opts)
}

// DeletePriceOverride removes one of an organisation's overrides
// (provider-admin).
func (c *Client) DeletePriceOverride(ctx context.Context, org, id string, opts ...CallOption) error {
	return c.del(ctx, path("orgs", org, "price-overrides", id), opts)
}

// Quote prices something before it is created, under the prices in force
// now for the VDC and the organisation.
func (c *Client) Quote(ctx context.Context, org string, q api.QuoteRequest) (*api.Quote, error) {
	return send[api.Quote](ctx, c, http.MethodPost, path("orgs", org, "quote"), q, nil)
}

// Balance and credit.

// GetBalance returns an organisation's real-time balance, its state and its
// credit grants.
func (c *Client) GetBalance(ctx context.Context, org string) (*api.Balance, error) {
	return get[api.Balance](ctx, c, path("orgs", org, "balance"), nil)
}

// ListCredits returns an organisation's credit grants, as they stand.
func (c *Client) ListCredits(ctx context.Context, org string) (*api.List[api.CreditGrant], error) {
	return list[api.CreditGrant](ctx, c, path("orgs", org, "credits"), nil)
}

// GrantCredit gives an organisation credit (provider-admin). A grant that
// brings the balance above zero restores an organisation in grace or
// suspended at once.
func (c *Client) GrantCredit(ctx context.Context, org string, g api.CreditGrantCreate, opts ...CallOption) (*api.CreditGrant, error) {
	return send[api.CreditGrant](ctx, c, http.MethodPost, path("orgs", org, "credits"), g, opts)
}

// SetBillingOverride pins an organisation's state (provider-admin): State
// "active" or "suspended", or "" to hand control back to billing. It
// returns the balance as it stands after.
func (c *Client) SetBillingOverride(ctx context.Context, org string, o api.BillingOverride, opts ...CallOption) (*api.Balance, error) {
	return send[api.Balance](ctx, c, http.MethodPut, path("orgs", org, "billing-override"), o, opts)
}

// Invoices.

// ListInvoices returns one page of an organisation's invoices and credit
// notes.
func (c *Client) ListInvoices(ctx context.Context, org string, opts ListOptions) (*api.List[api.Invoice], error) {
	return list[api.Invoice](ctx, c, path("orgs", org, "invoices"), opts.values())
}

// AllInvoices walks every invoice of an organisation.
func (c *Client) AllInvoices(ctx context.Context, org string, opts ListOptions) iter.Seq2[api.Invoice, error] {
	return all(ctx, opts, func(ctx context.Context, lo ListOptions) (*api.List[api.Invoice], error) {
		return c.ListInvoices(ctx, org, lo)
	})
}

// GetInvoice returns an invoice with its lines.
func (c *Client) GetInvoice(ctx context.Context, org, id string) (*api.Invoice, error) {
	return get[api.Invoice](ctx, c, path("orgs", org, "invoices", id), nil)
}

// InvoicePDF writes an invoice as PDF to w.
func (c *Client) InvoicePDF(ctx context.Context, org, id string, w io.Writer) error {
	return c.download(ctx, path("orgs", org, "invoices", id, "pdf"), nil, "application/pdf", w)
}

// InvoiceCSV writes an invoice's lines as CSV to w.
func (c *Client) InvoiceCSV(ctx context.Context, org, id string, w io.Writer) error {
	return c.download(ctx, path("orgs", org, "invoices", id, "csv"), nil, "text/csv", w)
}

// PayInvoice records that a finalized invoice was paid (provider-admin).
func (c *Client) PayInvoice(ctx context.Context, org, id string, opts ...CallOption) (*api.Invoice, error) {
	return send[api.Invoice](ctx, c, http.MethodPost, path("orgs", org, "invoices", id, "pay"), nil, opts)
}

// VoidInvoice voids an unpaid finalized invoice (provider-admin).
func (c *Client) VoidInvoice(ctx context.Context, org, id string, opts ...CallOption) (*api.Invoice, error) {
	return send[api.Invoice](ctx, c, http.MethodPost, path("orgs", org, "invoices", id, "void"), nil, opts)
}

// CreateCreditNote corrects a finalized invoice with a credit note of its
// own number (provider-admin); a finalized invoice is never edited.
func (c *Client) CreateCreditNote(ctx context.Context, org, id string, n api.CreditNoteCreate, opts ...CallOption) (*api.Invoice, error) {
	return send[api.Invoice](ctx, c, http.MethodPost, path("orgs", org, "invoices", id, "credit-notes"), n, opts)
}

// RunInvoices drafts and finalizes every organisation's invoice for a
// month that is over, e.g. "2026-11" (provider-admin). Invoices that exist
// already are returned as they are.
func (c *Client) RunInvoices(ctx context.Context, period string, opts ...CallOption) (*api.InvoiceRunResult, error) {
	return send[api.InvoiceRunResult](ctx, c, http.MethodPost, path("invoices", "run"), api.InvoiceRun{Period: period}, opts)
}

// Usage.

// UsageOptions select a period of usage. Zero times leave the server's
// default: the current calendar month (UTC).
type UsageOptions struct {
	From, To time.Time
	Group    string // resource (default) or day; only for GetUsage
}

func (o UsageOptions) values() url.Values {
	q := url.Values{}
	if !o.From.IsZero() {
		q.Set("from", o.From.UTC().Format(time.RFC3339))
	}
	if !o.To.IsZero() {
		q.Set("to", o.To.UTC().Format(time.RFC3339))
	}
	setIf(q, "group", o.Group)
	return q
}

// GetUsage returns an organisation's rated usage summed per resource and
// meter, or per UTC day and meter.
func (c *Client) GetUsage(ctx context.Context, org string, opts UsageOptions) (*api.Usage, error) {
	return get[api.Usage](ctx, c, path("orgs", org, "usage"), opts.values())
}

// UsageCSV writes an organisation's rated usage, one row per resource,
// meter and hour, as CSV to w.
func (c *Client) UsageCSV(ctx context.Context, org string, opts UsageOptions, w io.Writer) error {
	opts.Group = ""
	return c.download(ctx, path("orgs", org, "usage.csv"), opts.values(), "text/csv", w)
}

// CostsFOCUS writes an organisation's costs in the FinOps FOCUS columns as
// CSV to w.
func (c *Client) CostsFOCUS(ctx context.Context, org string, opts UsageOptions, w io.Writer) error {
	opts.Group = ""
	return c.download(ctx, path("orgs", org, "costs.focus.csv"), opts.values(), "text/csv", w)
}

// download GETs p and copies the body to w.
func (c *Client) download(ctx context.Context, p string, q url.Values, accept string, w io.Writer) error {
	res, err := c.raw(ctx, http.MethodGet, p, q, http.Header{"Accept": {accept}}, nil, 0, nil)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := io.Copy(w, res.Body); err != nil {
		return fmt.Errorf("GET %s: read answer: %w", p, err)
	}
	return nil
}

// Budgets.

// ListBudgets returns one page of an organisation's budgets.
func (c *Client) ListBudgets(ctx context.Context, org string, opts ListOptions) (*api.List[api.Budget], error) {
	return list[api.Budget](ctx, c, path("orgs", org, "budgets"), opts.values())
}

// AllBudgets walks every budget of an organisation.
func (c *Client) AllBudgets(ctx context.Context, org string, opts ListOptions) iter.Seq2[api.Budget, error] {
	return all(ctx, opts, func(ctx context.Context, lo ListOptions) (*api.List[api.Budget], error) {
		return c.ListBudgets(ctx, org, lo)
	})
}

// CreateBudget makes a monthly budget over the organisation or one VDC.
func (c *Client) CreateBudget(ctx context.Context, org string, b api.BudgetCreate, opts ...CallOption) (*api.Budget, error) {
	return send[api.Budget](ctx, c, http.MethodPost, path("orgs", org, "budgets"), b, opts)
}

// GetBudget returns a budget, by ID or name, with its month-to-date spend.
func (c *Client) GetBudget(ctx context.Context, org, budget string) (*api.Budget, error) {
	return get[api.Budget](ctx, c, path("orgs", org, "budgets", budget), nil)
}

// UpdateBudget changes a budget.
func (c *Client) UpdateBudget(ctx context.Context, org, budget string, u api.BudgetUpdate, opts ...CallOption) (*api.Budget, error) {
	return send[api.Budget](ctx, c, http.MethodPatch, path("orgs", org, "budgets", budget), u, opts)
}

// DeleteBudget deletes a budget.
func (c *Client) DeleteBudget(ctx context.Context, org, budget string, opts ...CallOption) error {
	return c.del(ctx, path("orgs", org, "budgets", budget), opts)
}

// Webhooks. An organisation's webhooks get its events; the provider's
// (org "") get every organisation's.

// webhooksPath is where the webhooks of org live: the provider's for "".
func webhooksPath(org string, more ...string) string {
	if org == "" {
		return path(append([]string{"webhooks"}, more...)...)
	}
	return path(append([]string{"orgs", org, "webhooks"}, more...)...)
}

// ListWebhooks returns one page of an organisation's webhooks, or of the
// provider's when org is "" (provider roles).
func (c *Client) ListWebhooks(ctx context.Context, org string, opts ListOptions) (*api.List[api.Webhook], error) {
	return list[api.Webhook](ctx, c, webhooksPath(org), opts.values())
}

// AllWebhooks walks every webhook of an organisation, or of the provider.
func (c *Client) AllWebhooks(ctx context.Context, org string, opts ListOptions) iter.Seq2[api.Webhook, error] {
	return all(ctx, opts, func(ctx context.Context, lo ListOptions) (*api.List[api.Webhook], error) {
		return c.ListWebhooks(ctx, org, lo)
	})
}

// CreateWebhook makes a webhook of an organisation (org-admin), or of the
// provider when org is "" (provider-admin). The answer carries the signing
// secret, which is never shown again.
func (c *Client) CreateWebhook(ctx context.Context, org string, w api.WebhookCreate, opts ...CallOption) (*api.WebhookCreated, error) {
	return send[api.WebhookCreated](ctx, c, http.MethodPost, webhooksPath(org), w, opts)
}

// DeleteWebhook deletes a webhook of an organisation, or of the provider
// when org is "".
func (c *Client) DeleteWebhook(ctx context.Context, org, id string, opts ...CallOption) error {
	return c.del(ctx, webhooksPath(org, id), opts)
}

// ListWebhookDeliveries returns one page of a webhook's delivery log.
func (c *Client) ListWebhookDeliveries(ctx context.Context, org, id string, opts ListOptions) (*api.List[api.WebhookDelivery], error) {
	return list[api.WebhookDelivery](ctx, c, webhooksPath(org, id, "deliveries"), opts.values())
}

// AllWebhookDeliveries walks a webhook's whole delivery log.
func (c *Client) AllWebhookDeliveries(ctx context.Context, org, id string, opts ListOptions) iter.Seq2[api.WebhookDelivery, error] {
	return all(ctx, opts, func(ctx context.Context, lo ListOptions) (*api.List[api.WebhookDelivery], error) {
		return c.ListWebhookDeliveries(ctx, org, id, lo)
	})
}
