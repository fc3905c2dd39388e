package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/internal/store"
)

// GrantBalance is a grant with the credit left on it.
type GrantBalance struct {
	store.CreditGrant
	Remaining decimal.Decimal
	// Usable is true while the grant can pay: in effect, not expired, in
	// the provider's currency.
	Usable bool
}

// Balance is an organisation's real-time balance. Every amount is exact;
// Display is Available rounded half-up to the currency's minor unit.
type Balance struct {
	Currency string
	Grants   []GrantBalance
	// Credit is the credit left on usable grants; Granted what those
	// grants were worth when given (Credit of Granted is what the credit
	// warnings measure).
	Credit  decimal.Decimal
	Granted decimal.Decimal
	// Owed is usage charged that no credit covered (the receivable).
	Owed decimal.Decimal
	// Accrued is usage not charged yet: rated but unposted lines, and the
	// unrated part of spans since the rating watermark, priced now.
	Accrued decimal.Decimal
	// Available = Credit - Owed - Accrued.
	Available decimal.Decimal
	Display   string
}

// Reached reports whether percent % of the granted credit is used up,
// counting what is owed and accrued; never without credit. (Compared
// without dividing: decimal division rounds.)
func (b *Balance) Reached(percent int) bool {
	if !b.Granted.IsPositive() {
		return false
	}
	used := b.Granted.Sub(b.Available).Mul(decimal.NewFromInt(100))
	return used.GreaterThanOrEqual(b.Granted.Mul(decimal.NewFromInt(int64(percent))))
}

// Balance computes an organisation's balance at now, inside tx.
func (l *Ledger) Balance(ctx context.Context, tx *store.Tx, orgID string, now time.Time) (Balance, error) {
	prov, err := tx.GetProvider(ctx)
	if err != nil {
		return Balance{}, err
	}
	b := Balance{Currency: prov.Currency}
	grants, err := tx.ListCreditGrants(ctx, orgID)
	if err != nil {
		return Balance{}, err
	}
	burnOrder(grants)
	remaining, err := tx.GrantRemaining(ctx, orgID)
	if err != nil {
		return Balance{}, err
	}
	for _, g := range grants {
		gb := GrantBalance{CreditGrant: g, Remaining: remaining[g.ID]}
		gb.Usable = g.Currency == b.Currency && g.ExpiredAt == nil && !g.EffectiveAt.After(now) &&
			(g.ExpiresAt == nil || g.ExpiresAt.After(now))
		if gb.Usable {
			amount, err := decimal.NewFromString(g.Amount)
			if err != nil {
				return Balance{}, fmt.Errorf("credit grant %s amount %q: %w", g.ID, g.Amount, err)
			}
			b.Credit = b.Credit.Add(gb.Remaining)
			b.Granted = b.Granted.Add(amount)
		}
		b.Grants = append(b.Grants, gb)
	}
	if b.Owed, err = tx.Owed(ctx, orgID); err != nil {
		return Balance{}, err
	}
	lines, err := tx.ListRatedLines(ctx, store.RatedLineFilter{OrgID: orgID, Unposted: true})
	if err != nil {
		return Balance{}, err
	}
	for _, ln := range lines {
		a, err := decimal.NewFromString(ln.Amount)
		if err != nil {
			return Balance{}, fmt.Errorf("rated line %s amount %q: %w", ln.ID, ln.Amount, err)
		}
		b.Accrued = b.Accrued.Add(a)
	}
	unrated, err := l.unrated(ctx, tx, orgID, now)
	if err != nil {
		return Balance{}, err
	}
	b.Accrued = b.Accrued.Add(unrated)
	b.Available = b.Credit.Sub(b.Owed).Sub(b.Accrued)
	b.Display = Display(b.Available, b.Currency)
	return b, nil
}
