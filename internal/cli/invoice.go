package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// invoiceNumber shows a finalized invoice's number; drafts have none.
func invoiceNumber(i *api.Invoice) string {
	if i.Number == nil {
		return ""
	}
	return itoa(*i.Number)
}

// period shows an invoice's month, e.g. 2026-11.
func period(i *api.Invoice) string { return i.PeriodStart.UTC().Format("2006-01") }

var invoiceCols = []col[api.Invoice]{
	{"ID", func(i *api.Invoice) string { return i.ID }},
	{"NUMBER", invoiceNumber},
	{"KIND", func(i *api.Invoice) string { return i.Kind }},
	{"PERIOD", period},
	{"STATE", func(i *api.Invoice) string { return i.State }},
	{"SUBTOTAL", func(i *api.Invoice) string { return money(i.Subtotal, i.Currency) }},
	{"CREDITS", func(i *api.Invoice) string { return money(i.Credits, i.Currency) }},
	{"TOTAL", func(i *api.Invoice) string { return money(i.Total, i.Currency) }},
}

func invoiceLineCols(currency string) []col[api.InvoiceLine] {
	return []col[api.InvoiceLine]{
		{"#", func(l *api.InvoiceLine) string { return itoa(l.Position) }},
		{"DESCRIPTION", func(l *api.InvoiceLine) string { return l.Description }},
		{"METER", func(l *api.InvoiceLine) string { return l.Meter }},
		{"QUANTITY", func(l *api.InvoiceLine) string { return l.Quantity }},
		{"UNIT", func(l *api.InvoiceLine) string { return l.Unit }},
		{"UNIT PRICE", func(l *api.InvoiceLine) string { return l.UnitPrice }},
		{"AMOUNT", func(l *api.InvoiceLine) string { return money(l.Amount, currency) }},
	}
}

func invoiceFields(i *api.Invoice) []field {
	f := []field{
		{"ID", i.ID},
		{"Number", invoiceNumber(i)},
		{"Kind", i.Kind},
	}
	if i.Corrects != "" {
		f = append(f, field{"Corrects", i.Corrects})
	}
	return append(f,
		field{"Period", i.PeriodStart.UTC().Format(time.DateOnly) + " to " + i.PeriodEnd.UTC().Format(time.DateOnly) + " (UTC)"},
		field{"State", i.State},
		field{"Subtotal", money(i.Subtotal, i.Currency)},
		field{"Credits", money(i.Credits, i.Currency)},
		field{"Total", money(i.Total, i.Currency)},
		field{"Finalized", stamp(i.FinalizedAt)},
		field{"Paid", stamp(i.PaidAt)},
		field{"Voided", stamp(i.VoidedAt)},
	)
}

// showInvoice prints an invoice with its lines.
func (a *app) showInvoice(i *api.Invoice) error {
	if ok, err := a.encoded(i); ok {
		return err
	}
	if err := a.showFields(nil, invoiceFields(i)); err != nil {
		return err
	}
	if len(i.Lines) == 0 {
		return nil
	}
	fmt.Fprintln(a.out)
	return table(a, i.Lines, invoiceLineCols(i.Currency))
}

// invoiceActionCmd is `invoice <action> ID` for a provider's action on one
// invoice.
func invoiceActionCmd(a *app, use, short string, act func(ctx context.Context, c *client.Client, org, id string) (*api.Invoice, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use + " ID",
		Short: short,
		Args:  args("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			i, err := act(cmd.Context(), c, org, args[0])
			if err != nil {
				return err
			}
			return a.showInvoice(i)
		},
	}
}

func (a *app) invoiceCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "invoice", Aliases: []string{"invoices"}, Short: "Read the organisation's invoices; pay, void, correct and run them (provider)"})

	list := &cobra.Command{Use: "list", Short: "List the organisation's invoices and credit notes", Args: args()}
	lf := addListFlags(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, org, err := a.inOrg()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, func(ctx context.Context, o client.ListOptions) (*api.List[api.Invoice], error) {
			return c.ListInvoices(ctx, org, o)
		})
		if err != nil {
			return err
		}
		return showList(a, l, invoiceCols)
	}
	cmd.AddCommand(list)

	cmd.AddCommand(invoiceActionCmd(a, "get", "Show an invoice with its lines", func(ctx context.Context, c *client.Client, org, id string) (*api.Invoice, error) {
		return c.GetInvoice(ctx, org, id)
	}))

	var format, file string
	download := &cobra.Command{
		Use:   "download ID",
		Short: "Write an invoice as PDF or CSV to a file or standard output",
		Example: "  sirocco invoice download 0193a8c2-5d1e-7f0a-9b3c-4d5e6f708192 --file invoice.pdf\n" +
			"  sirocco invoice download 0193a8c2-5d1e-7f0a-9b3c-4d5e6f708192 --format csv > invoice.csv",
		Args: args("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file != "" && !cmd.Flags().Changed("format") {
				// The file's extension says which, unless --format does.
				if strings.HasSuffix(strings.ToLower(file), ".csv") {
					format = "csv"
				}
			}
			if format != "pdf" && format != "csv" {
				return usagef("--format %q: use pdf or csv", format)
			}
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			return a.writeTo(file, format == "pdf", func(w io.Writer) error {
				if format == "csv" {
					return c.InvoiceCSV(cmd.Context(), org, args[0], w)
				}
				return c.InvoicePDF(cmd.Context(), org, args[0], w)
			})
		},
	}
	download.Flags().StringVar(&format, "format", "pdf", "pdf or csv (default: pdf, or csv for a --file ending in .csv)")
	download.Flags().StringVar(&file, "file", "", "write to this file instead of standard output")
	cmd.AddCommand(download)

	cmd.AddCommand(
		invoiceActionCmd(a, "pay", "Record that a finalized invoice was paid (provider-admin)", func(ctx context.Context, c *client.Client, org, id string) (*api.Invoice, error) {
			return c.PayInvoice(ctx, org, id)
		}),
		invoiceActionCmd(a, "void", "Void an unpaid finalized invoice (provider-admin)", func(ctx context.Context, c *client.Client, org, id string) (*api.Invoice, error) {
			return c.VoidInvoice(ctx, org, id)
		}),
	)

	var note api.CreditNoteCreate
	creditNote := &cobra.Command{
		Use:     "credit-note ID --amount AMOUNT --reason REASON",
		Short:   "Correct a finalized invoice with a credit note of its own number (provider-admin)",
		Example: "  sirocco invoice credit-note 0193a8c2-5d1e-7f0a-9b3c-4d5e6f708192 --amount 5.00 --reason \"outage credit\"",
		Args:    args("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if note.Amount == "" || strings.TrimSpace(note.Reason) == "" {
				return usagef("--amount and --reason are required")
			}
			if !isDecimal(note.Amount) {
				return usagef("--amount %q: want a decimal amount such as 5 or 4.95", note.Amount)
			}
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			i, err := c.CreateCreditNote(cmd.Context(), org, args[0], note)
			if err != nil {
				return err
			}
			return a.showInvoice(i)
		},
	}
	creditNote.Flags().StringVar(&note.Amount, "amount", "", "amount to credit, at most what remains creditable (required)")
	creditNote.Flags().StringVar(&note.Reason, "reason", "", "why, shown on the credit note (required)")
	cmd.AddCommand(creditNote)

	var month string
	run := &cobra.Command{
		Use:     "run --period YYYY-MM",
		Short:   "Make and finalize every organisation's invoice for a month that is over (provider-admin)",
		Example: "  sirocco invoice run --period 2026-11",
		Args:    args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if month == "" {
				return usagef("--period is required, e.g. --period 2026-11")
			}
			if _, err := time.Parse("2006-01", month); err != nil {
				return usagef("--period %q: want a month as YYYY-MM", month)
			}
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			r, err := c.RunInvoices(cmd.Context(), month)
			if err != nil {
				return err
			}
			if ok, err := a.encoded(r); ok {
				return err
			}
			for _, e := range r.Errors {
				a.note("warning: %s", oneLine(e))
			}
			if len(r.Invoices) == 0 {
				a.note("No invoices for %s.", r.Period)
				return nil
			}
			cols := append([]col[api.Invoice]{{"ORG", func(i *api.Invoice) string { return i.Org }}}, invoiceCols...)
			return table(a, r.Invoices, cols)
		},
	}
	run.Flags().StringVar(&month, "period", "", "the calendar month (UTC), e.g. 2026-11 (required)")
	cmd.AddCommand(run)
	return cmd
}
