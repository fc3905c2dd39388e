// Package invoice turns rated lines into monthly invoices: drafts, gapless
// finalizing, payment, voiding and credit notes, and renders invoices and
// usage as PDF, CSV and FinOps FOCUS cost exports.
//
// Amounts stay exact until an invoice line is made; each line (one per
// resource and meter per month) is rounded half-up once, and an invoice's
// subtotal is the sum of its rounded lines (DESIGN "Billing conventions").
package invoice

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// DefaultFontPath is the TrueType font embedded in PDFs (Debian
// fonts-dejavu-core): it covers Latin, Greek and Cyrillic names.
const DefaultFontPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

// DefaultCJKFontPath is the font for texts in Chinese, Japanese or Korean,
// which DejaVu lacks (Debian fonts-droid-fallback).
const DefaultCJKFontPath = "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"

// Lateness is how long after a month ends its invoices wait for late
// usage before the run drafts and finalizes them.
const Lateness = time.Hour

// Errors callers match with errors.Is.
var (
	// ErrUnposted: some of the period's rated lines are not yet charged to
	// the ledger, so the credit they used is unknown; retry after posting.
	ErrUnposted = errors.New("rated lines not yet posted to the ledger")
	// ErrPeriodOpen: the month is not over yet.
	ErrPeriodOpen = errors.New("billing period not over")
	// ErrNotCreditable: a credit note larger than what the invoice still
	// has to credit, or not positive, or finer than the currency's unit.
	ErrNotCreditable = errors.New("amount not creditable")
	// ErrMixedCurrency: rated lines of one invoice in several currencies.
	ErrMixedCurrency = errors.New("rated lines in several currencies")
)

// Invoicer makes and manages invoices. Its methods are safe for concurrent
// use: each runs in store transactions.
type Invoicer struct {
	Store *store.Store
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// FontPath is the TrueType font embedded in PDFs. Default DefaultFontPath.
	FontPath string
	// CJKFontPath is embedded too, for texts with Chinese, Japanese or
	// Korean characters. Default DefaultCJKFontPath.
	CJKFontPath string
	// OnFinalized, when set, runs in the transaction that finalizes an
	// invoice or credit note (to queue an invoice.finalized webhook event).
	OnFinalized func(ctx context.Context, tx *store.Tx, inv *store.Invoice) error
}

// finalize numbers invoice id in tx and tells OnFinalized.
func (iv *Invoicer) finalize(ctx context.Context, tx *store.Tx, id string) (*store.Invoice, error) {
	inv, err := tx.FinalizeInvoice(ctx, id)
	if err != nil || iv.OnFinalized == nil {
		return inv, err
	}
	return inv, iv.OnFinalized(ctx, tx, inv)
}

func (iv *Invoicer) now() time.Time {
	if iv.Now == nil {
		return time.Now().UTC()
	}
	return iv.Now().UTC()
}

// MonthStart is the first instant of t's calendar month in UTC: billing
// periods are calendar months in UTC.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// round rounds an exact amount half-up to the currency's minor unit.
func round(d decimal.Decimal, currency string) decimal.Decimal { return rating.Round(d, currency) }

// Draft builds (or rebuilds) organisation orgID's draft invoice for the
// month containing month: one line per resource and meter from the month's
// rated lines, plus uninvoiced lines of earlier months as adjustments (late
// usage of a month already finalized). An invoice already finalized is
// returned unchanged.
func (iv *Invoicer) Draft(ctx context.Context, orgID string, month time.Time) (*store.Invoice, error) {
	var inv *store.Invoice
	err := iv.Store.Tx(ctx, func(tx *store.Tx) (err error) {
		inv, err = iv.draft(ctx, tx, orgID, MonthStart(month))
		return err
	})
	return inv, err
}

// group is the rated lines of one invoice line.
type group struct {
	kind, id, name, meter, unit string
	adjustment                  bool
	quantity, amount            decimal.Decimal
	prices                      map[string]bool
	ids                         []string
}

func (iv *Invoicer) draft(ctx context.Context, tx *store.Tx, orgID string, start time.Time) (*store.Invoice, error) {
	end := start.AddDate(0, 1, 0)
	existing, err := tx.GetInvoiceForPeriod(ctx, orgID, start)
	switch {
	case err == nil && existing.State != store.InvoiceDraft:
		return existing, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return nil, err
	case err != nil:
		existing = nil
	}
	ownID := ""
	if existing != nil {
		ownID = existing.ID
	}
	month, err := tx.ListRatedLines(ctx, store.RatedLineFilter{OrgID: orgID, From: start, To: end})
	if err != nil {
		return nil, err
	}
	late, err := tx.ListRatedLines(ctx, store.RatedLineFilter{OrgID: orgID, To: start, Uninvoiced: true})
	if err != nil {
		return nil, err
	}
	currency := ""
	groups := map[string]*group{}
	var order []*group
	txns := map[string]bool{}
	var ratedIDs []string
	add := func(l store.RatedLine, adjustment bool) error {
		if l.InvoiceID != "" && l.InvoiceID != ownID {
			return nil // billed by another invoice already (an adjustment on a later one)
		}
		if l.PostedTxn == "" {
			return fmt.Errorf("invoice of %s for %s: rated line %s: %w", orgID, start.Format("2006-01"), l.ID, ErrUnposted)
		}
		if currency == "" {
			currency = l.Currency
		} else if l.Currency != currency {
			return fmt.Errorf("invoice of %s for %s: %s and %s: %w", orgID, start.Format("2006-01"), currency, l.Currency, ErrMixedCurrency)
		}
		q, err := decimal.NewFromString(l.Quantity)
		if err != nil {
			return fmt.Errorf("rated line %s quantity: %w", l.ID, err)
		}
		a, err := decimal.NewFromString(l.Amount)
		if err != nil {
			return fmt.Errorf("rated line %s amount: %w", l.ID, err)
		}
		key := fmt.Sprintf("%s\x00%s\x00%t", l.ResourceID, l.Meter, adjustment)
		g := groups[key]
		if g == nil {
			g = &group{kind: l.ResourceKind, id: l.ResourceID, name: l.ResourceName, meter: l.Meter, unit: l.Unit,
				adjustment: adjustment, prices: map[string]bool{}}
			groups[key] = g
			order = append(order, g)
		}
		if l.ResourceName != "" {
			g.name = l.ResourceName // the latest name, as lines come in window order
		}
		g.quantity, g.amount = g.quantity.Add(q), g.amount.Add(a)
		g.prices[l.UnitPrice] = true
		g.ids = append(g.ids, l.ID)
		txns[l.PostedTxn] = true
		ratedIDs = append(ratedIDs, l.ID)
		return nil
	}
	for _, l := range month {
		if err := add(l, false); err != nil {
			return nil, err
		}
	}
	for _, l := range late {
		if err := add(l, true); err != nil {
			return nil, err
		}
	}
	if currency == "" {
		p, err := tx.GetProvider(ctx)
		if err != nil {
			return nil, err
		}
		currency = p.Currency
	}
	slices.SortStableFunc(order, func(a, b *group) int {
		return cmp.Or(cmpBool(a.adjustment, b.adjustment), cmp.Compare(a.kind, b.kind), cmp.Compare(a.name, b.name),
			cmp.Compare(a.id, b.id), cmp.Compare(meterRank(a.meter), meterRank(b.meter)), cmp.Compare(a.meter, b.meter))
	})
	inv := &store.Invoice{OrgID: orgID, Kind: store.InvoiceKindInvoice, PeriodStart: start, PeriodEnd: end, Currency: currency}
	subtotal := decimal.Zero
	for _, g := range order {
		amount := round(g.amount, currency)
		subtotal = subtotal.Add(amount)
		inv.Lines = append(inv.Lines, store.InvoiceLine{
			Description:  describe(g),
			ResourceKind: g.kind,
			ResourceID:   g.id,
			Meter:        g.meter,
			Quantity:     g.quantity.String(),
			Unit:         g.unit,
			UnitPrice:    unitPrice(g),
			Amount:       amount.StringFixed(places(currency)),
			RatedLineIDs: g.ids,
		})
	}
	credits := decimal.Zero
	if len(txns) > 0 {
		ids := make([]string, 0, len(txns))
		for id := range txns {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		used, err := tx.CreditUsedByTxns(ctx, ids)
		if err != nil {
			return nil, err
		}
		u, err := decimal.NewFromString(used)
		if err != nil {
			return nil, fmt.Errorf("credit used: %w", err)
		}
		credits = decimal.Min(subtotal, round(u, currency))
	}
	p := places(currency)
	inv.Subtotal, inv.Credits, inv.Total = subtotal.StringFixed(p), credits.StringFixed(p), subtotal.Sub(credits).StringFixed(p)
	if existing != nil {
		var old []string
		for _, l := range existing.Lines {
			old = append(old, l.RatedLineIDs...)
		}
		if len(old) > 0 {
			if err := tx.MarkRatedLinesInvoiced(ctx, old, ""); err != nil {
				return nil, err
			}
		}
		inv.ID, inv.Version, inv.CreatedAt = existing.ID, existing.Version, existing.CreatedAt
		inv.State = store.InvoiceDraft
		if err := tx.ReplaceDraftLines(ctx, inv); err != nil {
			return nil, err
		}
	} else if err := tx.CreateInvoice(ctx, inv); err != nil {
		return nil, err
	}
	if len(ratedIDs) > 0 {
		if err := tx.MarkRatedLinesInvoiced(ctx, ratedIDs, inv.ID); err != nil {
			return nil, err
		}
	}
	return inv, nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// meterRank orders a resource's lines as a reader expects: compute first.
func meterRank(m string) int {
	switch m {
	case rating.MeterVCPU:
		return 0
	case rating.MeterMemory:
		return 1
	}
	return 2
}

// meterLabel names a meter on an invoice.
func meterLabel(m string) string {
	switch m {
	case rating.MeterVCPU:
		return "vCPU"
	case rating.MeterMemory:
		return "memory"
	case rating.MeterDisk:
		return "disk"
	case rating.MeterSnapshot:
		return "snapshot"
	case rating.MeterPublicIP:
		return "public IP"
	case rating.MeterReservation:
		return "reservation"
	case rating.MeterAllocation:
		return "guaranteed allocation"
	case rating.MeterEgress:
		return "egress"
	}
	return m
}

func describe(g *group) string {
	name := g.name
	if name == "" {
		name = g.id
	}
	d := fmt.Sprintf("%s %s: %s", g.kind, name, meterLabel(g.meter))
	if g.adjustment {
		d = "Adjustment for earlier periods: " + d
	}
	return d
}

// unitPrice is the line's price per unit: the rated lines' when they agree,
// else the average (a price change during the month), to 6 places.
func unitPrice(g *group) string {
	if len(g.prices) == 1 {
		for p := range g.prices {
			return p
		}
	}
	if g.quantity.IsZero() {
		return "0"
	}
	return g.amount.DivRound(g.quantity, 6).String()
}

// places is the number of decimal places of a currency's minor unit, for
// printing rounded amounts with their trailing zeros ("3.10", not "3.1").
func places(currency string) int32 { return rating.MinorUnits(currency) }

// Finalize rebuilds the draft from the current rated lines and finalizes
// it with the next gapless number, in one transaction. Finalizing a
// finalized, paid or void invoice returns it unchanged.
func (iv *Invoicer) Finalize(ctx context.Context, id string) (*store.Invoice, error) {
	var inv *store.Invoice
	err := iv.Store.Tx(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetInvoice(ctx, "", id)
		if err != nil {
			return err
		}
		if cur.State != store.InvoiceDraft {
			inv = cur
			return nil
		}
		if cur.Kind == store.InvoiceKindInvoice {
			if _, err := iv.draft(ctx, tx, cur.OrgID, cur.PeriodStart); err != nil {
				return err
			}
		}
		inv, err = iv.finalize(ctx, tx, id)
		return err
	})
	return inv, err
}

// RunMonth drafts and finalizes the invoices of every organisation with
// rated lines in the month containing month. Organisations already
// invoiced are left alone, so a run repeated after a crash finishes the
// job. It returns the organisations invoiced; an organisation that fails
// (e.g. ErrUnposted) does not stop the others.
func (iv *Invoicer) RunMonth(ctx context.Context, month time.Time) ([]*store.Invoice, error) {
	return iv.runMonth(ctx, MonthStart(month), iv.now())
}

func (iv *Invoicer) runMonth(ctx context.Context, start, now time.Time) ([]*store.Invoice, error) {
	end := start.AddDate(0, 1, 0)
	if now.Before(end) {
		return nil, fmt.Errorf("%s: %w", start.Format("2006-01"), ErrPeriodOpen)
	}
	var orgs []string
	err := iv.Store.View(ctx, func(tx *store.Tx) (err error) {
		orgs, err = tx.OrgsWithRatedLines(ctx, start, end)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []*store.Invoice
	var errs []error
	for _, org := range orgs {
		var inv *store.Invoice
		err := iv.Store.Tx(ctx, func(tx *store.Tx) (err error) {
			if inv, err = iv.draft(ctx, tx, org, start); err != nil {
				return err
			}
			if inv.State == store.InvoiceDraft {
				inv, err = iv.finalize(ctx, tx, inv.ID)
			}
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("invoice organisation %s for %s: %w", org, start.Format("2006-01"), err))
			continue
		}
		out = append(out, inv)
	}
	return out, errors.Join(errs...)
}

// RunOnce is the hourly loop's body: once the previous calendar month is
// over by Lateness, it invoices every organisation with usage in it.
func (iv *Invoicer) RunOnce(ctx context.Context, now time.Time) error {
	month := MonthStart(now.UTC().Add(-Lateness)).AddDate(0, -1, 0)
	_, err := iv.runMonth(ctx, month, now.UTC())
	return err
}

// creditedTx sums the totals of the credit notes of invoice id that are
// not void.
func creditedTx(ctx context.Context, tx *store.Tx, id string) (decimal.Decimal, error) {
	sum := decimal.Zero
	p := store.Page{Limit: store.MaxLimit}
	for {
		notes, next, err := tx.ListInvoices(ctx, store.InvoiceFilter{Kind: store.InvoiceKindCreditNote, Corrects: id}, p)
		if err != nil {
			return sum, err
		}
		for _, n := range notes {
			if n.State == store.InvoiceVoid {
				continue
			}
			t, err := decimal.NewFromString(n.Total)
			if err != nil {
				return sum, fmt.Errorf("credit note %s total: %w", n.ID, err)
			}
			sum = sum.Add(t)
		}
		if next == "" {
			return sum, nil
		}
		p.Cursor = next
	}
}

// Creditable is what remains to credit on a finalized or paid invoice: its
// total less its credit notes.
func (iv *Invoicer) Creditable(ctx context.Context, id string) (decimal.Decimal, error) {
	var left decimal.Decimal
	err := iv.Store.View(ctx, func(tx *store.Tx) error {
		inv, err := tx.GetInvoice(ctx, "", id)
		if err != nil {
			return err
		}
		left, err = creditable(ctx, tx, inv)
		return err
	})
	return left, err
}

func creditable(ctx context.Context, tx *store.Tx, inv *store.Invoice) (decimal.Decimal, error) {
	total, err := decimal.NewFromString(inv.Total)
	if err != nil {
		return decimal.Zero, fmt.Errorf("invoice %s total: %w", inv.ID, err)
	}
	credited, err := creditedTx(ctx, tx, inv.ID)
	if err != nil {
		return decimal.Zero, err
	}
	return total.Sub(credited), nil
}

// CreditNote corrects a finalized (or paid) invoice by a finalized credit
// note of amount, with its own gapless number, and books the credit against
// what the organisation owes. The invoice itself never changes. The amount
// must be positive, in the currency's minor unit, and at most what remains
// creditable (ErrNotCreditable).
func (iv *Invoicer) CreditNote(ctx context.Context, invoiceID string, amount decimal.Decimal, reason string) (*store.Invoice, error) {
	reason = strings.TrimSpace(reason)
	var note *store.Invoice
	err := iv.Store.Tx(ctx, func(tx *store.Tx) error {
		inv, err := tx.GetInvoice(ctx, "", invoiceID)
		if err != nil {
			return err
		}
		if inv.Kind != store.InvoiceKindInvoice || (inv.State != store.InvoiceFinalized && inv.State != store.InvoicePaid) {
			return fmt.Errorf("credit %s %s: it is a %s %s: %w", inv.Kind, inv.ID, inv.State, inv.Kind, store.ErrInvoiceState)
		}
		if !amount.IsPositive() || !round(amount, inv.Currency).Equal(amount) {
			return fmt.Errorf("credit %s %s on invoice %s: must be positive and in whole minor units: %w",
				amount, inv.Currency, inv.ID, ErrNotCreditable)
		}
		left, err := creditable(ctx, tx, inv)
		if err != nil {
			return err
		}
		if amount.GreaterThan(left) {
			return fmt.Errorf("credit %s %s on invoice %s: only %s remains creditable: %w",
				amount, inv.Currency, inv.ID, left.StringFixed(places(inv.Currency)), ErrNotCreditable)
		}
		a := amount.StringFixed(places(inv.Currency))
		desc := "Credit"
		if inv.Number != nil {
			desc = fmt.Sprintf("Credit on invoice %d", *inv.Number)
		}
		if reason != "" {
			desc += ": " + reason
		}
		note = &store.Invoice{OrgID: inv.OrgID, Kind: store.InvoiceKindCreditNote, Corrects: inv.ID,
			PeriodStart: inv.PeriodStart, PeriodEnd: inv.PeriodEnd, Currency: inv.Currency,
			Subtotal: a, Credits: "0", Total: a,
			Lines: []store.InvoiceLine{{Description: desc, Quantity: "1", Unit: "credit", UnitPrice: a, Amount: a}}}
		if err := tx.CreateInvoice(ctx, note); err != nil {
			return err
		}
		lines := note.Lines
		if note, err = iv.finalize(ctx, tx, note.ID); err != nil {
			return err
		}
		note.Lines = lines
		_, _, err = tx.PostLedgerTxn(ctx, &store.LedgerTxn{OrgID: inv.OrgID, Kind: "adjustment",
			IdempotencyKey: "credit-note:" + note.ID, BookedAt: iv.now(), Memo: desc,
			Entries: []store.LedgerEntry{
				{Account: store.ReceivableAccount(inv.OrgID), Amount: amount.Neg().String(), Currency: inv.Currency},
				{Account: store.AccountRevenue, Amount: amount.String(), Currency: inv.Currency},
			}})
		return err
	})
	return note, err
}

// Pay records the payment of a finalized invoice: what it still asks for
// (its total less credit notes) moves from the organisation's receivable to
// cash.
func (iv *Invoicer) Pay(ctx context.Context, id string) (*store.Invoice, error) {
	return iv.settle(ctx, id, "paid", store.AccountCash, "payment", (*store.Tx).MarkInvoicePaid)
}

// Void cancels a finalized, unpaid invoice: its number stays used, its
// lines stay, and what it still asked for is written off the organisation's
// receivable.
func (iv *Invoicer) Void(ctx context.Context, id string) (*store.Invoice, error) {
	return iv.settle(ctx, id, "void", store.AccountRevenue, "adjustment", (*store.Tx).VoidInvoice)
}

func (iv *Invoicer) settle(ctx context.Context, id, what, account, kind string,
	move func(tx *store.Tx, ctx context.Context, id string, at time.Time) error) (*store.Invoice, error) {
	var inv *store.Invoice
	err := iv.Store.Tx(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetInvoice(ctx, "", id)
		if err != nil {
			return err
		}
		if cur.Kind != store.InvoiceKindInvoice {
			return fmt.Errorf("%s credit note %s: %w", what, id, store.ErrInvoiceState)
		}
		now := iv.now()
		if err := move(tx, ctx, id, now); err != nil {
			return err
		}
		left, err := creditable(ctx, tx, cur)
		if err != nil {
			return err
		}
		if left.IsPositive() {
			_, _, err = tx.PostLedgerTxn(ctx, &store.LedgerTxn{OrgID: cur.OrgID, Kind: kind,
				IdempotencyKey: "invoice-" + what + ":" + id, BookedAt: now, Memo: fmt.Sprintf("invoice %s %s", id, what),
				Entries: []store.LedgerEntry{
					{Account: account, Amount: left.String(), Currency: cur.Currency},
					{Account: store.ReceivableAccount(cur.OrgID), Amount: left.Neg().String(), Currency: cur.Currency},
				}})
			if err != nil {
				return err
			}
		}
		inv, err = tx.GetInvoice(ctx, "", id)
		return err
	})
	return inv, err
}
