package store

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// Budget is a spending limit an organisation watches, over the whole
// organisation or one VDC. Amount is an exact decimal string in the
// provider's currency; Thresholds are percentages of it that each alert once
// per calendar month (UTC).
type Budget struct {
	Meta
	OrgID      string
	VDCID      string // "" for the whole organisation
	Name       string
	Amount     string
	Thresholds []int
	Emails     []string
}

const budgetCols = `t.id, t.org_id, t.vdc_id, t.name, t.amount, t.thresholds, t.emails, t.version, t.created_at, t.updated_at`

func scanBudget(sc interface{ Scan(...any) error }) (Budget, error) {
	var b Budget
	var created, updated Time
	err := sc.Scan(&b.ID, &b.OrgID, &b.VDCID, &b.Name, &b.Amount, jsonScan{&b.Thresholds}, jsonScan{&b.Emails},
		&b.Version, &created, &updated)
	b.CreatedAt, b.UpdatedAt = created.Time, updated.Time
	return b, mapErr(err)
}

// CreateBudget stores a new budget. ErrConflict if the organisation already
// has a budget of that name, or does not exist.
func (tx *Tx) CreateBudget(ctx context.Context, b *Budget) error {
	b.created(tx.Now())
	_, err := tx.exec(ctx, `INSERT INTO budgets (id, org_id, vdc_id, name, amount, thresholds, emails, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		b.ID, b.OrgID, b.VDCID, b.Name, b.Amount, jsonText{nonNil(b.Thresholds)}, jsonText{nonNil(b.Emails)},
		b.Version, ts(b.CreatedAt), ts(b.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create budget %s: %w", b.Name, err)
	}
	return nil
}

// GetBudget reads a budget of organisation orgID by ID or name. Another
// organisation's budget is ErrNotFound.
func (tx *Tx) GetBudget(ctx context.Context, orgID, idOrName string) (*Budget, error) {
	col := "t.name"
	if IsID(idOrName) {
		col = "t.id"
	}
	b, err := scanBudget(tx.queryRow(ctx, `SELECT `+budgetCols+` FROM budgets t WHERE t.org_id = $1 AND `+col+` = $2`, orgID, idOrName))
	if err != nil {
		return nil, fmt.Errorf("budget %s: %w", idOrName, err)
	}
	return &b, nil
}

// ListBudgets lists the budgets of one organisation, or of every
// organisation when orgID is "" (the budget loop), oldest first.
func (tx *Tx) ListBudgets(ctx context.Context, orgID string, p Page) ([]Budget, string, error) {
	var w where
	if orgID != "" {
		w.add("t.org_id = ?", orgID)
	}
	tail, err := w.page("budget", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+budgetCols+` FROM budgets t`+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list budgets: %w", err)
	}
	out, err := collect(rows, scanBudget)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(b Budget) string { return b.ID })
	return out, next, nil
}

// UpdateBudget writes a changed budget (name, VDC, amount, thresholds,
// e-mails) and bumps its version. ErrConflict if the new name is taken.
func (tx *Tx) UpdateBudget(ctx context.Context, b *Budget) error {
	b.updated(tx.Now())
	err := expectOne(tx.exec(ctx, `UPDATE budgets SET vdc_id = $2, name = $3, amount = $4, thresholds = $5, emails = $6,
		version = $7, updated_at = $8 WHERE id = $1`,
		b.ID, b.VDCID, b.Name, b.Amount, jsonText{nonNil(b.Thresholds)}, jsonText{nonNil(b.Emails)}, b.Version, ts(b.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("update budget %s: %w", b.ID, err)
	}
	return nil
}

// DeleteBudget removes a budget; its alerts go with it (ON DELETE CASCADE).
func (tx *Tx) DeleteBudget(ctx context.Context, id string) error {
	if err := expectOne(tx.exec(ctx, `DELETE FROM budgets WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("delete budget %s: %w", id, err)
	}
	return nil
}

// InsertBudgetAlert records that a budget crossed threshold in the period
// starting at periodStart. ErrConflict when that alert fired already, which
// is what makes each threshold fire once per period.
func (tx *Tx) InsertBudgetAlert(ctx context.Context, budgetID string, periodStart time.Time, threshold int, firedAt time.Time) error {
	_, err := tx.exec(ctx, `INSERT INTO budget_alerts (budget_id, period_start, threshold, fired_at) VALUES ($1, $2, $3, $4)`,
		budgetID, ts(periodStart), threshold, ts(firedAt))
	if err != nil {
		return fmt.Errorf("alert of budget %s at %d%%: %w", budgetID, threshold, err)
	}
	return nil
}

// BudgetAlerts lists the thresholds a budget fired in the period starting
// at periodStart, lowest first.
func (tx *Tx) BudgetAlerts(ctx context.Context, budgetID string, periodStart time.Time) ([]int, error) {
	rows, err := tx.query(ctx, `SELECT threshold FROM budget_alerts WHERE budget_id = $1 AND period_start = $2 ORDER BY threshold`,
		budgetID, ts(periodStart))
	if err != nil {
		return nil, fmt.Errorf("alerts of budget %s: %w", budgetID, err)
	}
	return collect(rows, func(sc interface{ Scan(...any) error }) (int, error) {
		var n int
		return n, sc.Scan(&n)
	})
}

// ResetBudgetAlerts forgets every alert a budget fired, so that after its
// amount or thresholds change each threshold can fire again against the new
// figures.
func (tx *Tx) ResetBudgetAlerts(ctx context.Context, budgetID string) error {
	if _, err := tx.exec(ctx, `DELETE FROM budget_alerts WHERE budget_id = $1`, budgetID); err != nil {
		return fmt.Errorf("reset alerts of budget %s: %w", budgetID, err)
	}
	return nil
}

// RatedSpend is what an organisation's rated lines with a window starting
// in [from, to) add up to, exactly, per VDC ("" for lines of no VDC). The
// organisation's total is the sum of the map.
func (tx *Tx) RatedSpend(ctx context.Context, orgID string, from, to time.Time) (map[string]decimal.Decimal, error) {
	out := map[string]decimal.Decimal{}
	if tx.dialect == Postgres {
		// numeric sums exactly; SQLite has no exact decimal type, so there
		// the amounts are summed here instead.
		rows, err := tx.query(ctx, `SELECT vdc_id, SUM(amount::numeric)::text FROM rated_lines
			WHERE org_id = $1 AND window_start >= $2 AND window_start < $3 GROUP BY vdc_id`, orgID, ts(from), ts(to))
		if err != nil {
			return nil, fmt.Errorf("spend of organisation %s: %w", orgID, err)
		}
		defer rows.Close()
		for rows.Next() {
			var vdc, sum string
			if err := rows.Scan(&vdc, &sum); err != nil {
				return nil, err
			}
			d, err := decimal.NewFromString(sum)
			if err != nil {
				return nil, fmt.Errorf("spend of organisation %s: %w", orgID, err)
			}
			out[vdc] = d
		}
		return out, rows.Err()
	}
	rows, err := tx.query(ctx, `SELECT vdc_id, amount FROM rated_lines
		WHERE org_id = $1 AND window_start >= $2 AND window_start < $3`, orgID, ts(from), ts(to))
	if err != nil {
		return nil, fmt.Errorf("spend of organisation %s: %w", orgID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var vdc, amount string
		if err := rows.Scan(&vdc, &amount); err != nil {
			return nil, err
		}
		d, err := decimal.NewFromString(amount)
		if err != nil {
			return nil, fmt.Errorf("rated line amount %q: %w", amount, err)
		}
		out[vdc] = out[vdc].Add(d)
	}
	return out, rows.Err()
}

// BudgetSpend picks a budget's spend out of RatedSpend: its VDC's, or the
// organisation's total.
func BudgetSpend(b *Budget, spend map[string]decimal.Decimal) decimal.Decimal {
	if b.VDCID != "" {
		return spend[b.VDCID]
	}
	total := decimal.Zero
	for _, d := range spend {
		total = total.Add(d)
	}
	return total
}
