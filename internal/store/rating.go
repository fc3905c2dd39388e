package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// RatedLine is a stored rated line. Money and quantities are exact decimal
// strings.
type RatedLine struct {
	ID           string
	OrgID        string
	VDCID        string
	ResourceKind string
	ResourceID   string
	ResourceName string
	Meter        string
	WindowStart  time.Time
	WindowEnd    time.Time
	Quantity     string
	Unit         string
	UnitPrice    string
	Amount       string
	Currency     string
	PlanID       string
	InputHash    string
	RunID        string
	// PostedTxn is the ledger transaction that charged it ("" until posted);
	// InvoiceID the invoice that bills it ("" until invoiced).
	PostedTxn string
	InvoiceID string
	CreatedAt time.Time
}

const ratedLineCols = `id, org_id, vdc_id, resource_kind, resource_id, resource_name, meter, window_start, window_end,
	quantity, unit, unit_price, amount, currency, plan_id, input_hash, run_id, posted_txn, invoice_id, created_at`

// ratedLineArity is the number of columns in ratedLineCols.
const ratedLineArity = 20

func scanRatedLine(sc interface{ Scan(...any) error }) (RatedLine, error) {
	var l RatedLine
	var start, end, created Time
	err := sc.Scan(&l.ID, &l.OrgID, &l.VDCID, &l.ResourceKind, &l.ResourceID, &l.ResourceName, &l.Meter, &start, &end,
		&l.Quantity, &l.Unit, &l.UnitPrice, &l.Amount, &l.Currency, &l.PlanID, &l.InputHash, &l.RunID, &l.PostedTxn, &l.InvoiceID, &created)
	l.WindowStart, l.WindowEnd, l.CreatedAt = start.Time, end.Time, created.Time
	return l, mapErr(err)
}

// values fills in the generated fields of l and returns its columns.
func (l *RatedLine) values(now time.Time) []any {
	if l.ID == "" {
		l.ID = NewID()
	}
	if l.CreatedAt.IsZero() {
		l.CreatedAt = now
	}
	l.WindowStart, l.WindowEnd = l.WindowStart.UTC().Truncate(time.Microsecond), l.WindowEnd.UTC().Truncate(time.Microsecond)
	return []any{l.ID, l.OrgID, l.VDCID, l.ResourceKind, l.ResourceID, l.ResourceName, l.Meter, ts(l.WindowStart), ts(l.WindowEnd),
		l.Quantity, l.Unit, l.UnitPrice, l.Amount, l.Currency, l.PlanID, l.InputHash, l.RunID, l.PostedTxn, l.InvoiceID, ts(l.CreatedAt)}
}

// InsertRatedLine stores l unless a line with the same organisation,
// resource, meter, window start and input hash exists; it reports whether it
// inserted.
func (tx *Tx) InsertRatedLine(ctx context.Context, l *RatedLine) (bool, error) {
	n, err := tx.insertRatedLines(ctx, []*RatedLine{l})
	return n == 1, err
}

// InsertRatedLines stores lines as InsertRatedLine does, many per
// statement (an hour of 100,000 VMs is 300,000 lines), and returns how many
// it inserted.
func (tx *Tx) InsertRatedLines(ctx context.Context, lines []RatedLine) (int, error) {
	ptrs := make([]*RatedLine, len(lines))
	for i := range lines {
		ptrs[i] = &lines[i]
	}
	return tx.insertRatedLines(ctx, ptrs)
}

// ratedLineBatch keeps a statement's parameters (batch × 20) under
// SQLite's and PostgreSQL's limits.
const ratedLineBatch = 200

func (tx *Tx) insertRatedLines(ctx context.Context, lines []*RatedLine) (int, error) {
	now := tx.Now()
	total := 0
	for chunk := range slices.Chunk(lines, ratedLineBatch) {
		var b strings.Builder
		b.WriteString(`INSERT INTO rated_lines (` + ratedLineCols + `) VALUES `)
		args := make([]any, 0, len(chunk)*ratedLineArity)
		for i, l := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for j := range ratedLineArity {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "$%d", i*ratedLineArity+j+1)
			}
			b.WriteByte(')')
			args = append(args, l.values(now)...)
		}
		b.WriteString(` ON CONFLICT (org_id, resource_id, meter, window_start, input_hash) DO NOTHING`)
		res, err := tx.exec(ctx, b.String(), args...)
		if err != nil {
			return total, fmt.Errorf("insert rated lines: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("insert rated lines: %w", err)
		}
		total += int(n)
	}
	return total, nil
}

// RatedLineFilter narrows ListRatedLines; zero fields match all.
type RatedLineFilter struct {
	OrgID      string
	From, To   time.Time // window_start in [From, To)
	Unposted   bool
	Uninvoiced bool
	ResourceID string
	Meter      string
}

// ListRatedLines lists lines by window start, then resource, meter and ID.
func (tx *Tx) ListRatedLines(ctx context.Context, f RatedLineFilter) ([]RatedLine, error) {
	var w where
	if f.OrgID != "" {
		w.add("org_id = ?", f.OrgID)
	}
	if !f.From.IsZero() {
		w.add("window_start >= ?", ts(f.From))
	}
	if !f.To.IsZero() {
		w.add("window_start < ?", ts(f.To))
	}
	if f.Unposted {
		w.add("posted_txn = ''")
	}
	if f.Uninvoiced {
		w.add("invoice_id = ''")
	}
	if f.ResourceID != "" {
		w.add("resource_id = ?", f.ResourceID)
	}
	if f.Meter != "" {
		w.add("meter = ?", f.Meter)
	}
	rows, err := tx.query(ctx, `SELECT `+ratedLineCols+` FROM rated_lines`+w.String()+` ORDER BY window_start, resource_id, meter, id`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list rated lines: %w", err)
	}
	return collect(rows, scanRatedLine)
}

// MarkRatedLinesPosted records the ledger transaction that charged lines.
// A line missing, or already charged by another transaction, is
// ErrConflict and nothing is marked: charging it twice would double the
// bill.
func (tx *Tx) MarkRatedLinesPosted(ctx context.Context, ids []string, txnID string) error {
	if txnID == "" {
		return fmt.Errorf("mark rated lines posted: empty transaction ID")
	}
	return tx.markRatedLines(ctx, "posted_txn", ids, txnID, true)
}

// MarkRatedLinesInvoiced records the invoice that bills lines ("" frees
// them again, when a draft is rebuilt). A line missing, or billed by
// another invoice, is ErrConflict and nothing is marked.
func (tx *Tx) MarkRatedLinesInvoiced(ctx context.Context, ids []string, invoiceID string) error {
	return tx.markRatedLines(ctx, "invoice_id", ids, invoiceID, invoiceID != "")
}

// markRatedLines sets col to value on lines ids; guarded, only on lines
// where col is empty or already value.
func (tx *Tx) markRatedLines(ctx context.Context, col string, ids []string, value string, guarded bool) error {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for chunk := range slices.Chunk(ids, 500) {
		var w where
		marks := make([]string, len(chunk))
		for i, id := range chunk {
			marks[i] = w.arg(id)
		}
		cond := `id IN (` + strings.Join(marks, ", ") + `)`
		if guarded {
			cond += ` AND ` + col + ` IN ('', ` + w.arg(value) + `)`
		}
		set := w.arg(value)
		res, err := tx.exec(ctx, `UPDATE rated_lines SET `+col+` = `+set+` WHERE `+cond, w.args...)
		if err != nil {
			return fmt.Errorf("mark rated lines %s: %w", col, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("mark rated lines %s: %w", col, err)
		}
		if int(n) != len(chunk) {
			return fmt.Errorf("mark %d rated lines %s %s: %d missing or taken: %w", len(chunk), col, value, len(chunk)-int(n), ErrConflict)
		}
	}
	return nil
}

// EarliestSpanStart is the start of the earliest usage span, where rating
// begins when it never ran; zero time when there is no span.
func (tx *Tx) EarliestSpanStart(ctx context.Context) (time.Time, error) {
	var t NullTime
	if err := mapErr(tx.queryRow(ctx, `SELECT MIN(started_at) FROM usage_spans`).Scan(&t)); err != nil {
		return time.Time{}, fmt.Errorf("earliest span: %w", err)
	}
	if t.T == nil {
		return time.Time{}, nil
	}
	return *t.T, nil
}

// RatedUntil reads the rating watermark: every window before it is rated.
// Zero time when rating never ran.
func (tx *Tx) RatedUntil(ctx context.Context) (time.Time, error) {
	var t Time
	err := mapErr(tx.queryRow(ctx, `SELECT rated_until FROM rating_watermark WHERE id = 1`).Scan(&t))
	switch {
	case errors.Is(err, ErrNotFound):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, fmt.Errorf("rating watermark: %w", err)
	}
	return t.Time, nil
}

// SetRatedUntil moves the rating watermark, in the transaction that stored
// the lines of the windows it passes.
func (tx *Tx) SetRatedUntil(ctx context.Context, t time.Time) error {
	_, err := tx.exec(ctx, `INSERT INTO rating_watermark (id, rated_until) VALUES (1, $1)
		ON CONFLICT (id) DO UPDATE SET rated_until = excluded.rated_until`, ts(t))
	if err != nil {
		return fmt.Errorf("set rating watermark: %w", err)
	}
	return nil
}
