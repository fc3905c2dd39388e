package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/billing/invoice"
	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func invoiceOf(i *store.Invoice) api.Invoice {
	out := api.Invoice{ID: i.ID, Org: i.OrgID, Kind: i.Kind, Corrects: i.Corrects, Number: i.Number,
		PeriodStart: i.PeriodStart, PeriodEnd: i.PeriodEnd, State: i.State, Currency: i.Currency,
		Subtotal: i.Subtotal, Credits: i.Credits, Total: i.Total, FinalizedAt: i.FinalizedAt, PaidAt: i.PaidAt, VoidedAt: i.VoidedAt,
		Version: i.Version, CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt}
	for _, l := range i.Lines {
		out.Lines = append(out.Lines, api.InvoiceLine{Position: l.Position, Description: l.Description, ResourceKind: l.ResourceKind,
			ResourceID: l.ResourceID, Meter: l.Meter, Quantity: l.Quantity, Unit: l.Unit, UnitPrice: l.UnitPrice, Amount: l.Amount,
			RatedLines: l.RatedLineIDs})
	}
	return out
}

// invoicer is the invoice engine on this server's store and clock.
func (s *Server) invoicer() *invoice.Invoicer {
	return &invoice.Invoicer{Store: s.store, Now: s.cfg.Now}
}

// invoiceError maps the invoice engine's refusals to API errors.
func invoiceError(err error) error {
	switch {
	case errors.Is(err, store.ErrInvoiceState):
		return api.Errorf(http.StatusConflict, api.CodeConflict, "%v", err)
	case errors.Is(err, invoice.ErrNotCreditable), errors.Is(err, invoice.ErrPeriodOpen):
		return api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "%v", err)
	}
	return err
}

// Inputs of the invoice endpoints.
type (
	invoicePath struct {
		Org     string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Invoice string `path:"invoice" maxLength:"200" doc:"Invoice or credit note ID"`
	}
	invoiceListIn struct {
		Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		ListParams
	}
	creditNoteIn struct {
		Org     string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Invoice string `path:"invoice" maxLength:"200" doc:"Invoice ID"`
		Body    api.CreditNoteCreate
	}
	usageIn struct {
		Org   string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		From  string `query:"from" doc:"Start, RFC 3339 or 2006-01-02 (UTC); default the start of the current month"`
		To    string `query:"to" doc:"End (exclusive), RFC 3339 or 2006-01-02 (UTC); default one month after from"`
		Group string `query:"group" enum:"resource,day" default:"resource" doc:"Sum per resource and meter, or per UTC day and meter"`
	}
	// fileOut is a download: PDF or CSV bytes.
	fileOut struct {
		ContentType        string `header:"Content-Type"`
		ContentDisposition string `header:"Content-Disposition"`
		Body               []byte
	}
)

func csvOut(name string, b []byte) *fileOut {
	return &fileOut{ContentType: "text/csv; charset=utf-8", ContentDisposition: `attachment; filename="` + name + `"`, Body: b}
}

func fileResponse(contentType, desc string) map[string]*huma.Response {
	return map[string]*huma.Response{"200": {Description: desc, Content: map[string]*huma.MediaType{
		contentType: {Schema: &huma.Schema{Type: "string", Format: "binary"}}}}}
}

// maxUsageSpan bounds one usage or cost export.
const maxUsageSpan = 366 * 24 * time.Hour

func parseWhen(name, v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "%s %q: want RFC 3339 (2026-11-01T00:00:00Z) or a date (2026-11-01)", name, v)
}

// usageRange reads from and to: by default the current calendar month.
func (s *Server) usageRange(from, to string) (time.Time, time.Time, error) {
	f := invoice.MonthStart(s.cfg.Now())
	var err error
	if from != "" {
		if f, err = parseWhen("from", from); err != nil {
			return f, f, err
		}
	}
	t := f.AddDate(0, 1, 0)
	if to != "" {
		if t, err = parseWhen("to", to); err != nil {
			return f, t, err
		}
	}
	if !t.After(f) || t.Sub(f) > maxUsageSpan {
		return f, t, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "to must be after from, and at most 366 days later")
	}
	return f, t, nil
}

// orgInvoice reads an invoice of an organisation the caller may read.
func (s *Server) orgInvoice(ctx context.Context, orgRef, id string) (*store.Org, *store.Invoice, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, nil, err
	}
	var o *store.Org
	var inv *store.Invoice
	err = s.store.View(ctx, func(tx *store.Tx) error {
		if o, err = s.orgFor(ctx, tx, p, orgRef, canRead); err != nil {
			return err
		}
		inv, err = tx.GetInvoice(ctx, o.ID, id)
		return notFoundOr(err, "invoice", id)
	})
	return o, inv, err
}

// orgUsage reads an organisation's rated lines in a range for the caller.
func (s *Server) orgUsage(ctx context.Context, orgRef, from, to string) (*store.Org, time.Time, time.Time, []store.RatedLine, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, time.Time{}, time.Time{}, nil, err
	}
	f, t, err := s.usageRange(from, to)
	if err != nil {
		return nil, f, t, nil, err
	}
	var o *store.Org
	var lines []store.RatedLine
	err = s.store.View(ctx, func(tx *store.Tx) error {
		if o, err = s.orgFor(ctx, tx, p, orgRef, canRead); err != nil {
			return err
		}
		lines, err = tx.ListRatedLines(ctx, store.RatedLineFilter{OrgID: o.ID, From: f, To: t})
		return err
	})
	return o, f, t, lines, err
}

func (s *Server) invoiceRoutes() {
	tags := []string{"Billing"}

	register(s, huma.Operation{OperationID: "list-invoices", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/invoices",
		Summary: "List invoices and credit notes", Description: "Oldest first, without their lines. Any role in the organisation may read them.", Tags: tags},
		func(ctx context.Context, in *invoiceListIn) (*listOut[api.Invoice], error) {
			return listInOrg(ctx, s, in.Org, in.ListParams, canRead, func(tx *store.Tx, o *store.Org, pg store.Page) ([]store.Invoice, string, error) {
				return tx.ListInvoices(ctx, store.InvoiceFilter{OrgID: o.ID}, pg)
			}, invoiceOf)
		})

	register(s, huma.Operation{OperationID: "get-invoice", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/invoices/{invoice}",
		Summary: "Get an invoice or credit note with its lines", Tags: tags},
		func(ctx context.Context, in *invoicePath) (*bodyOut[api.Invoice], error) {
			_, inv, err := s.orgInvoice(ctx, in.Org, in.Invoice)
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.Invoice]{ETag: etag(inv.Version), Body: invoiceOf(inv)}, nil
		})

	register(s, huma.Operation{OperationID: "get-invoice-pdf", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/invoices/{invoice}/pdf",
		Summary: "Download an invoice as PDF", Tags: tags, Responses: fileResponse("application/pdf", "The invoice")},
		func(ctx context.Context, in *invoicePath) (*fileOut, error) {
			o, inv, err := s.orgInvoice(ctx, in.Org, in.Invoice)
			if err != nil {
				return nil, err
			}
			b, err := s.invoicer().PDF(ctx, o.ID, inv.ID)
			if err != nil {
				return nil, err
			}
			return &fileOut{ContentType: "application/pdf", ContentDisposition: `attachment; filename="` + invoiceFile(inv) + `.pdf"`, Body: b}, nil
		})

	register(s, huma.Operation{OperationID: "get-invoice-csv", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/invoices/{invoice}/csv",
		Summary: "Download an invoice as CSV", Description: "One row per line, then subtotal, credits and total rows (empty position).",
		Tags: tags, Responses: fileResponse("text/csv", "The invoice")},
		func(ctx context.Context, in *invoicePath) (*fileOut, error) {
			_, inv, err := s.orgInvoice(ctx, in.Org, in.Invoice)
			if err != nil {
				return nil, err
			}
			return csvOut(invoiceFile(inv)+".csv", invoice.InvoiceCSV(inv)), nil
		})

	register(s, huma.Operation{OperationID: "get-usage", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/usage",
		Summary: "Rated usage by resource or by day",
		Description: "Usage rated so far (closed hours) in [from, to), summed per resource and meter or per UTC day and meter, " +
			"with the exact amount and the amount rounded half-up.", Tags: tags},
		func(ctx context.Context, in *usageIn) (*bodyOut[api.Usage], error) {
			o, f, t, lines, err := s.orgUsage(ctx, in.Org, in.From, in.To)
			if err != nil {
				return nil, err
			}
			group := in.Group
			if group == "" {
				group = invoice.GroupResource
			}
			rows, err := invoice.Summarize(lines, group)
			if err != nil {
				return nil, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "%v", err)
			}
			out := api.Usage{Org: o.ID, From: f, To: t, Group: group, Items: []api.UsageRow{}}
			for _, r := range rows {
				out.Items = append(out.Items, api.UsageRow{Key: r.Key, ResourceKind: r.ResourceKind, ResourceName: r.ResourceName,
					Meter: r.Meter, Quantity: r.Quantity.String(), Unit: r.Unit, Amount: r.Amount.String(),
					AmountRounded: r.Rounded.StringFixed(rating.MinorUnits(r.Currency)), Currency: r.Currency})
			}
			return &bodyOut[api.Usage]{Body: out}, nil
		})

	register(s, huma.Operation{OperationID: "get-usage-csv", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/usage.csv",
		Summary:     "Export rated usage as CSV",
		Description: "One row per rated line in [from, to): window, resource, meter, quantity, unit, unit price and exact amount.",
		Tags:        tags, Responses: fileResponse("text/csv", "The usage")},
		func(ctx context.Context, in *usageIn) (*fileOut, error) {
			o, f, _, lines, err := s.orgUsage(ctx, in.Org, in.From, in.To)
			if err != nil {
				return nil, err
			}
			return csvOut("usage-"+o.Name+"-"+f.Format("2006-01-02")+".csv", invoice.UsageCSV(lines)), nil
		})

	register(s, huma.Operation{OperationID: "get-costs-focus", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/costs.focus.csv",
		Summary:     "Export costs in FinOps FOCUS columns",
		Description: "One row per rated line in [from, to), in the FinOps Open Cost and Usage Specification (FOCUS) columns.",
		Tags:        tags, Responses: fileResponse("text/csv", "The costs")},
		func(ctx context.Context, in *usageIn) (*fileOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			f, t, err := s.usageRange(in.From, in.To)
			if err != nil {
				return nil, err
			}
			var o *store.Org
			err = s.store.View(ctx, func(tx *store.Tx) (err error) { o, err = s.orgFor(ctx, tx, p, in.Org, canRead); return err })
			if err != nil {
				return nil, err
			}
			b, err := s.invoicer().FocusCSV(ctx, o.ID, f, t)
			if err != nil {
				return nil, err
			}
			return csvOut("costs-"+o.Name+"-"+f.Format("2006-01-02")+".focus.csv", b), nil
		})

	register(s, huma.Operation{OperationID: "run-invoices", Method: http.MethodPost, Path: "/api/v1/invoices/run",
		Summary: "Invoice a month now",
		Description: "Provider admins only. Drafts and finalizes the invoice of every organisation with usage in the month, which must be over. " +
			"Organisations already invoiced are left as they are, so the run can be repeated.", Tags: tags},
		func(ctx context.Context, in *struct{ Body api.InvoiceRun }) (*bodyOut[api.InvoiceRunResult], error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			month, err := time.Parse("2006-01", in.Body.Period)
			if err != nil {
				return nil, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "period %q: want YYYY-MM", in.Body.Period)
			}
			invs, runErr := s.invoicer().RunMonth(ctx, month)
			if errors.Is(runErr, invoice.ErrPeriodOpen) {
				return nil, invoiceError(runErr)
			}
			out := api.InvoiceRunResult{Period: in.Body.Period, Invoices: []api.Invoice{}}
			for _, inv := range invs {
				out.Invoices = append(out.Invoices, invoiceOf(inv))
			}
			if runErr != nil {
				if j, ok := runErr.(interface{ Unwrap() []error }); ok {
					for _, e := range j.Unwrap() {
						out.Errors = append(out.Errors, e.Error())
					}
				} else {
					return nil, runErr
				}
			}
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				return s.audit(ctx, tx, "invoice.run", "invoice", "", "", fmt.Sprintf("%s: %d invoices, %d errors", in.Body.Period, len(invs), len(out.Errors)))
			})
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.InvoiceRunResult]{Body: out}, nil
		})

	settle := func(id, what, summary string, act func(inv *invoice.Invoicer, ctx context.Context, id string) (*store.Invoice, error)) {
		register(s, huma.Operation{OperationID: id, Method: http.MethodPost, Path: "/api/v1/orgs/{org}/invoices/{invoice}/" + what,
			Summary: summary, Description: "Provider admins only. The invoice must be finalized (409 otherwise).", Tags: tags},
			func(ctx context.Context, in *invoicePath) (*bodyOut[api.Invoice], error) {
				if _, err := requireProviderAdmin(ctx); err != nil {
					return nil, err
				}
				o, inv, err := s.orgInvoice(ctx, in.Org, in.Invoice)
				if err != nil {
					return nil, err
				}
				inv, err = act(s.invoicer(), ctx, inv.ID)
				if err != nil {
					return nil, invoiceError(err)
				}
				err = s.store.Tx(ctx, func(tx *store.Tx) error {
					return s.audit(ctx, tx, "invoice."+what, "invoice", inv.ID, o.ID, fmt.Sprintf("total %s %s", inv.Total, inv.Currency))
				})
				if err != nil {
					return nil, err
				}
				return &bodyOut[api.Invoice]{ETag: etag(inv.Version), Body: invoiceOf(inv)}, nil
			})
	}
	settle("pay-invoice", "pay", "Record an invoice's payment", (*invoice.Invoicer).Pay)
	settle("void-invoice", "void", "Void an unpaid invoice", (*invoice.Invoicer).Void)

	register(s, huma.Operation{OperationID: "create-credit-note", Method: http.MethodPost, Path: "/api/v1/orgs/{org}/invoices/{invoice}/credit-notes",
		Summary: "Correct an invoice by a credit note",
		Description: "Provider admins only. A finalized or paid invoice is never edited: a credit note with its own gapless number credits " +
			"part or all of it, up to what remains creditable (422 beyond).", Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *creditNoteIn) (*createdOut[api.Invoice], error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			amount, err := decimal.NewFromString(in.Body.Amount)
			if err != nil {
				return nil, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "amount %q: want an exact decimal", in.Body.Amount)
			}
			o, inv, err := s.orgInvoice(ctx, in.Org, in.Invoice)
			if err != nil {
				return nil, err
			}
			note, err := s.invoicer().CreditNote(ctx, inv.ID, amount, in.Body.Reason)
			if err != nil {
				return nil, invoiceError(err)
			}
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				return s.audit(ctx, tx, "invoice.credit", "invoice", note.ID, o.ID,
					fmt.Sprintf("credit note %d of %s %s on invoice %s: %s", *note.Number, note.Total, note.Currency, inv.ID, in.Body.Reason))
			})
			if err != nil {
				return nil, err
			}
			return &createdOut[api.Invoice]{Location: "/api/v1/orgs/" + o.ID + "/invoices/" + note.ID, ETag: etag(note.Version),
				Body: invoiceOf(note)}, nil
		})
}

// invoiceFile names a download: invoice-42, credit-note-43, or draft-<id>.
func invoiceFile(inv *store.Invoice) string {
	kind := strings.ReplaceAll(inv.Kind, "_", "-")
	if inv.Number == nil {
		return "draft-" + inv.ID
	}
	return fmt.Sprintf("%s-%d", kind, *inv.Number)
}
