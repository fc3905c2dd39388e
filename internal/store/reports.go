package store

import (
	"context"
	"fmt"
	"time"
)

// The provider's revenue report reads amounts, not rows: money is stored as
// exact decimal text, which neither engine sums exactly, so the queries
// below return each amount with what it is grouped by and the caller adds
// them up with a decimal type.

// AmountAt is one stored amount, when it counts and whose it is.
type AmountAt struct {
	At     time.Time
	OrgID  string
	Kind   string // invoice kind or credit grant kind, when it has one
	Amount string
}

func scanAmountAt(sc interface{ Scan(...any) error }) (AmountAt, error) {
	var a AmountAt
	var at Time
	if err := sc.Scan(&at, &a.OrgID, &a.Kind, &a.Amount); err != nil {
		return a, fmt.Errorf("scan amount: %w", err)
	}
	a.At = at.Time
	return a, nil
}

func (tx *Tx) amounts(ctx context.Context, what, query string, args ...any) ([]AmountAt, error) {
	rows, err := tx.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return collect(rows, scanAmountAt)
}

// InvoicedTotals returns the totals of finalized and paid invoices whose
// period starts in [from, to), At being the period's start.
func (tx *Tx) InvoicedTotals(ctx context.Context, from, to time.Time) ([]AmountAt, error) {
	return tx.amounts(ctx, "invoiced totals",
		`SELECT period_start, org_id, kind, total FROM invoices
		 WHERE kind = $1 AND state IN ($2, $3) AND period_start >= $4 AND period_start < $5
		 ORDER BY period_start, id`,
		InvoiceKindInvoice, InvoiceFinalized, InvoicePaid, ts(from), ts(to))
}

// CreditNoteTotals returns the totals of credit notes finalized in
// [from, to), At being when they were finalized: a correction counts when it
// is issued, not in the month it corrects.
func (tx *Tx) CreditNoteTotals(ctx context.Context, from, to time.Time) ([]AmountAt, error) {
	return tx.amounts(ctx, "credit note totals",
		`SELECT finalized_at, org_id, kind, total FROM invoices
		 WHERE kind = $1 AND state IN ($2, $3) AND finalized_at >= $4 AND finalized_at < $5
		 ORDER BY finalized_at, id`,
		InvoiceKindCreditNote, InvoiceFinalized, InvoicePaid, ts(from), ts(to))
}

// GrantedCredits returns the credit grants made in [from, to) in currency,
// At being when they were made and Kind the grant's kind.
func (tx *Tx) GrantedCredits(ctx context.Context, currency string, from, to time.Time) ([]AmountAt, error) {
	return tx.amounts(ctx, "granted credits",
		`SELECT created_at, org_id, kind, amount FROM credit_grants
		 WHERE currency = $1 AND created_at >= $2 AND created_at < $3
		 ORDER BY created_at, id`,
		currency, ts(from), ts(to))
}

// RatedAmounts returns the amounts of rated lines in currency whose window
// starts in [from, to), reversals included (they are negative), At being the
// window's start.
func (tx *Tx) RatedAmounts(ctx context.Context, currency string, from, to time.Time) ([]AmountAt, error) {
	return tx.amounts(ctx, "rated amounts",
		`SELECT window_start, org_id, meter, amount FROM rated_lines
		 WHERE currency = $1 AND window_start >= $2 AND window_start < $3
		 ORDER BY window_start, id`,
		currency, ts(from), ts(to))
}
