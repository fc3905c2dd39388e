package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Invoice kinds.
const (
	InvoiceKindInvoice    = "invoice"
	InvoiceKindCreditNote = "credit_note"
)

// Invoice states: draft → finalized → paid or void. Only drafts change
// their lines; a finalized invoice is corrected by a credit note.
const (
	InvoiceDraft     = "draft"
	InvoiceFinalized = "finalized"
	InvoicePaid      = "paid"
	InvoiceVoid      = "void"
)

// ErrInvoiceState is a change the invoice's state does not allow (editing a
// finalized invoice, paying a draft, voiding a paid one).
var ErrInvoiceState = errors.New("invoice state does not allow this")

// Invoice is a stored invoice or credit note. Money is exact decimal strings
// in Currency, already rounded to its minor unit.
type Invoice struct {
	ID       string
	OrgID    string
	Kind     string
	Corrects string // the invoice a credit note corrects; "" for invoices
	// Number is nil until the invoice is finalized; numbers are gapless
	// across invoices and credit notes.
	Number      *int64
	PeriodStart time.Time
	PeriodEnd   time.Time
	State       string
	Currency    string
	Subtotal    string
	Credits     string
	Total       string
	FinalizedAt *time.Time
	PaidAt      *time.Time
	VoidedAt    *time.Time
	Version     int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Lines are filled by CreateInvoice and GetInvoice, not by ListInvoices.
	Lines []InvoiceLine
}

// InvoiceLine is one resource's charge on one meter for the period.
type InvoiceLine struct {
	ID           string
	InvoiceID    string
	Position     int
	Description  string
	ResourceKind string
	ResourceID   string
	Meter        string
	Quantity     string
	Unit         string
	UnitPrice    string
	Amount       string
	RatedLineIDs []string
}

const invoiceCols = `t.id, t.org_id, t.kind, t.corrects, t.number, t.period_start, t.period_end, t.state, t.currency,
	t.subtotal, t.credits, t.total, t.finalized_at, t.paid_at, t.voided_at, t.version, t.created_at, t.updated_at`

func scanInvoice(sc interface{ Scan(...any) error }) (Invoice, error) {
	var i Invoice
	var number *int64
	var start, end, created, updated Time
	var finalized, paid, voided NullTime
	err := sc.Scan(&i.ID, &i.OrgID, &i.Kind, &i.Corrects, &number, &start, &end, &i.State, &i.Currency,
		&i.Subtotal, &i.Credits, &i.Total, &finalized, &paid, &voided, &i.Version, &created, &updated)
	i.Number = number
	i.PeriodStart, i.PeriodEnd, i.CreatedAt, i.UpdatedAt = start.Time, end.Time, created.Time, updated.Time
	i.FinalizedAt, i.PaidAt, i.VoidedAt = finalized.T, paid.T, voided.T
	return i, mapErr(err)
}

// CreateInvoice stores a new draft invoice or credit note with its lines
// (IDs and positions assigned). It never carries a number: FinalizeInvoice
// gives one. ErrConflict if the organisation already has an invoice for the
// period (credit notes are not limited).
func (tx *Tx) CreateInvoice(ctx context.Context, inv *Invoice) error {
	now := tx.Now()
	if inv.ID == "" {
		inv.ID = NewID()
	}
	if inv.Kind == "" {
		inv.Kind = InvoiceKindInvoice
	}
	inv.State, inv.Number, inv.Version = InvoiceDraft, nil, 1
	inv.FinalizedAt, inv.PaidAt, inv.VoidedAt = nil, nil, nil
	inv.CreatedAt, inv.UpdatedAt = now, now
	for _, s := range []*string{&inv.Subtotal, &inv.Credits, &inv.Total} {
		if *s == "" {
			*s = "0"
		}
	}
	_, err := tx.exec(ctx, `INSERT INTO invoices (id, org_id, kind, corrects, number, period_start, period_end, state, currency,
		subtotal, credits, total, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		inv.ID, inv.OrgID, inv.Kind, inv.Corrects, ts(inv.PeriodStart), ts(inv.PeriodEnd), inv.State, inv.Currency,
		inv.Subtotal, inv.Credits, inv.Total, inv.Version, ts(now), ts(now))
	if err != nil {
		return fmt.Errorf("create invoice for %s: %w", inv.OrgID, err)
	}
	return tx.insertInvoiceLines(ctx, inv.ID, inv.Lines)
}

func (tx *Tx) insertInvoiceLines(ctx context.Context, invoiceID string, lines []InvoiceLine) error {
	for i := range lines {
		l := &lines[i]
		l.ID, l.InvoiceID, l.Position = NewID(), invoiceID, i+1
		if l.RatedLineIDs == nil {
			l.RatedLineIDs = []string{}
		}
		_, err := tx.exec(ctx, `INSERT INTO invoice_lines (id, invoice_id, position, description, resource_kind, resource_id, meter,
			quantity, unit, unit_price, amount, rated_line_ids) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			l.ID, l.InvoiceID, l.Position, l.Description, l.ResourceKind, l.ResourceID, l.Meter,
			l.Quantity, l.Unit, l.UnitPrice, l.Amount, jsonText{l.RatedLineIDs})
		if err != nil {
			return fmt.Errorf("invoice %s line %d: %w", invoiceID, l.Position, err)
		}
	}
	return nil
}

// GetInvoice reads an invoice or credit note with its lines. orgID "" finds
// it in any organisation; otherwise one of another organisation is
// ErrNotFound, so callers cannot reach across tenants by ID.
func (tx *Tx) GetInvoice(ctx context.Context, orgID, id string) (*Invoice, error) {
	var w where
	w.add("t.id = ?", id)
	if orgID != "" {
		w.add("t.org_id = ?", orgID)
	}
	inv, err := scanInvoice(tx.queryRow(ctx, `SELECT `+invoiceCols+` FROM invoices t`+w.String(), w.args...))
	if err != nil {
		return nil, fmt.Errorf("invoice %s: %w", id, err)
	}
	return &inv, tx.loadInvoiceLines(ctx, &inv)
}

// GetInvoiceForPeriod reads an organisation's invoice (not credit note) for
// the period starting at start, with its lines; ErrNotFound if none.
func (tx *Tx) GetInvoiceForPeriod(ctx context.Context, orgID string, start time.Time) (*Invoice, error) {
	inv, err := scanInvoice(tx.queryRow(ctx, `SELECT `+invoiceCols+` FROM invoices t
		WHERE t.org_id = $1 AND t.period_start = $2 AND t.kind = $3`, orgID, ts(start), InvoiceKindInvoice))
	if err != nil {
		return nil, fmt.Errorf("invoice of %s for %s: %w", orgID, start.Format("2006-01"), err)
	}
	return &inv, tx.loadInvoiceLines(ctx, &inv)
}

func (tx *Tx) loadInvoiceLines(ctx context.Context, inv *Invoice) error {
	rows, err := tx.query(ctx, `SELECT id, invoice_id, position, description, resource_kind, resource_id, meter,
		quantity, unit, unit_price, amount, rated_line_ids FROM invoice_lines WHERE invoice_id = $1 ORDER BY position`, inv.ID)
	if err != nil {
		return fmt.Errorf("invoice %s lines: %w", inv.ID, err)
	}
	inv.Lines, err = collect(rows, func(sc interface{ Scan(...any) error }) (InvoiceLine, error) {
		var l InvoiceLine
		err := sc.Scan(&l.ID, &l.InvoiceID, &l.Position, &l.Description, &l.ResourceKind, &l.ResourceID, &l.Meter,
			&l.Quantity, &l.Unit, &l.UnitPrice, &l.Amount, jsonScan{&l.RatedLineIDs})
		return l, err
	})
	return err
}

// InvoiceFilter narrows ListInvoices; zero fields match all.
type InvoiceFilter struct {
	OrgID    string
	Kind     string
	Corrects string // credit notes of this invoice
	State    string
}

// ListInvoices lists invoices and credit notes, oldest first, without
// their lines.
func (tx *Tx) ListInvoices(ctx context.Context, f InvoiceFilter, p Page) ([]Invoice, string, error) {
	var w where
	if f.OrgID != "" {
		w.add("t.org_id = ?", f.OrgID)
	}
	if f.Kind != "" {
		w.add("t.kind = ?", f.Kind)
	}
	if f.Corrects != "" {
		w.add("t.corrects = ?", f.Corrects)
	}
	if f.State != "" {
		w.add("t.state = ?", f.State)
	}
	p.Labels = nil // invoices carry no labels
	tail, err := w.page("invoice", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+invoiceCols+` FROM invoices t`+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list invoices: %w", err)
	}
	out, err := collect(rows, scanInvoice)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(i Invoice) string { return i.ID })
	return out, next, nil
}

// ReplaceDraftLines replaces the lines and amounts of a draft, keeping its
// ID. ErrInvoiceState unless it is a draft: finalized lines never change.
func (tx *Tx) ReplaceDraftLines(ctx context.Context, inv *Invoice) error {
	now := tx.Now()
	err := expectOne(tx.exec(ctx, `UPDATE invoices SET currency = $2, subtotal = $3, credits = $4, total = $5,
		version = version + 1, updated_at = $6 WHERE id = $1 AND state = $7`,
		inv.ID, inv.Currency, inv.Subtotal, inv.Credits, inv.Total, ts(now), InvoiceDraft))
	if errors.Is(err, ErrNotFound) {
		return tx.stateError(ctx, inv.ID, "replace lines of")
	}
	if err != nil {
		return fmt.Errorf("replace lines of invoice %s: %w", inv.ID, err)
	}
	if _, err := tx.exec(ctx, `DELETE FROM invoice_lines WHERE invoice_id = $1`, inv.ID); err != nil {
		return fmt.Errorf("clear lines of invoice %s: %w", inv.ID, err)
	}
	inv.Version++
	inv.UpdatedAt = now
	return tx.insertInvoiceLines(ctx, inv.ID, inv.Lines)
}

// stateError explains why a conditional update of invoice id matched no
// row: it does not exist (ErrNotFound) or is in the wrong state.
func (tx *Tx) stateError(ctx context.Context, id, what string) error {
	var state string
	err := mapErr(tx.queryRow(ctx, `SELECT state FROM invoices WHERE id = $1`, id).Scan(&state))
	if err != nil {
		return fmt.Errorf("%s invoice %s: %w", what, id, err)
	}
	return fmt.Errorf("%s invoice %s: it is %s: %w", what, id, state, ErrInvoiceState)
}

// FinalizeInvoice turns a draft into a finalized invoice and gives it the
// next number, in this transaction: a number is used exactly when the
// finalize commits, so numbers are gapless and never reused (concurrent
// finalizes serialise on the counter row). ErrInvoiceState unless a draft.
func (tx *Tx) FinalizeInvoice(ctx context.Context, id string) (*Invoice, error) {
	inv, err := tx.GetInvoice(ctx, "", id)
	if err != nil {
		return nil, err
	}
	if inv.State != InvoiceDraft {
		return nil, fmt.Errorf("finalize invoice %s: it is %s: %w", id, inv.State, ErrInvoiceState)
	}
	var number int64
	err = mapErr(tx.queryRow(ctx, `INSERT INTO invoice_numbers (id, next) VALUES (1, 2)
		ON CONFLICT (id) DO UPDATE SET next = invoice_numbers.next + 1 RETURNING next - 1`).Scan(&number))
	if err != nil {
		return nil, fmt.Errorf("next invoice number: %w", err)
	}
	now := tx.Now()
	err = expectOne(tx.exec(ctx, `UPDATE invoices SET state = $2, number = $3, finalized_at = $4, version = version + 1, updated_at = $4
		WHERE id = $1 AND state = $5`, id, InvoiceFinalized, number, ts(now), InvoiceDraft))
	if err != nil {
		return nil, fmt.Errorf("finalize invoice %s: %w", id, err)
	}
	inv.State, inv.Number, inv.FinalizedAt, inv.UpdatedAt = InvoiceFinalized, &number, &now, now
	inv.Version++
	return inv, nil
}

// MarkInvoicePaid records the payment of a finalized invoice.
// ErrInvoiceState unless finalized.
func (tx *Tx) MarkInvoicePaid(ctx context.Context, id string, at time.Time) error {
	return tx.moveInvoice(ctx, id, "pay", InvoiceFinalized, InvoicePaid, "paid_at", at)
}

// VoidInvoice cancels a finalized, unpaid invoice. Its number stays used
// and its lines stay as they were. ErrInvoiceState unless finalized.
func (tx *Tx) VoidInvoice(ctx context.Context, id string, at time.Time) error {
	return tx.moveInvoice(ctx, id, "void", InvoiceFinalized, InvoiceVoid, "voided_at", at)
}

func (tx *Tx) moveInvoice(ctx context.Context, id, what, from, to, col string, at time.Time) error {
	err := expectOne(tx.exec(ctx, `UPDATE invoices SET state = $2, `+col+` = $3, version = version + 1, updated_at = $4
		WHERE id = $1 AND state = $5`, id, to, ts(at), ts(tx.Now()), from))
	if errors.Is(err, ErrNotFound) {
		return tx.stateError(ctx, id, what)
	}
	if err != nil {
		return fmt.Errorf("%s invoice %s: %w", what, id, err)
	}
	return nil
}

// OrgsWithRatedLines lists the organisations the monthly invoice run bills
// for [from, to): those with rated lines whose window starts in it, or with
// uninvoiced lines from before it (late usage of a month already invoiced,
// billed as an adjustment).
func (tx *Tx) OrgsWithRatedLines(ctx context.Context, from, to time.Time) ([]string, error) {
	rows, err := tx.query(ctx, `SELECT DISTINCT org_id FROM rated_lines
		WHERE (window_start >= $1 AND window_start < $2) OR (window_start < $1 AND invoice_id = '') ORDER BY org_id`,
		ts(from), ts(to))
	if err != nil {
		return nil, fmt.Errorf("organisations with usage: %w", err)
	}
	return collect(rows, func(sc interface{ Scan(...any) error }) (string, error) {
		var id string
		err := sc.Scan(&id)
		return id, err
	})
}
