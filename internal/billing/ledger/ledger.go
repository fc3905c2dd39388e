// Package ledger books credit and usage in the store's double-entry ledger:
// credit grants (trial, promotional, paid), the charging of rated lines
// against them in burn order, the expiry of what is left of a grant, and the
// real-time balance of an organisation. Money is exact (shopspring/decimal)
// and rounded only for display.
package ledger

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Transaction kinds.
const (
	KindGrant  = "grant"
	KindUsage  = "usage"
	KindExpiry = "expiry"
)

// Ledger books credit and usage. It holds no state of its own.
type Ledger struct {
	Store *store.Store
}

// Grant stores g and books it: the expense (trial, promo) or cash (paid)
// account is debited and the grant's account credited with its amount.
// The currency defaults to the provider's and must be it. Booking is
// idempotent by the grant's ID.
func (l *Ledger) Grant(ctx context.Context, tx *store.Tx, g *store.CreditGrant) error {
	amount, err := decimal.NewFromString(g.Amount)
	if err != nil || !amount.IsPositive() {
		return fmt.Errorf("credit grant amount %q: must be a positive decimal", g.Amount)
	}
	debit := store.AccountPromoExpense
	switch g.Kind {
	case store.GrantTrial, store.GrantPromo:
	case store.GrantPaid:
		debit = store.AccountCash
	default:
		return fmt.Errorf("credit grant kind %q: want trial, promo or paid", g.Kind)
	}
	prov, err := tx.GetProvider(ctx)
	if err != nil {
		return err
	}
	if g.Currency == "" {
		g.Currency = prov.Currency
	}
	if g.Currency != prov.Currency {
		return fmt.Errorf("credit grant in %s: the provider bills in %s", g.Currency, prov.Currency)
	}
	if err := tx.CreateCreditGrant(ctx, g); err != nil {
		return err
	}
	_, _, err = tx.PostLedgerTxn(ctx, &store.LedgerTxn{
		OrgID:          g.OrgID,
		Kind:           KindGrant,
		IdempotencyKey: "grant:" + g.ID,
		BookedAt:       g.CreatedAt,
		Memo:           fmt.Sprintf("%s credit %s %s: %s", g.Kind, g.Amount, g.Currency, g.Reason),
		Entries: []store.LedgerEntry{
			{Account: debit, Amount: amount.String(), Currency: g.Currency},
			{Account: store.GrantAccount(g.ID), Amount: amount.Neg().String(), Currency: g.Currency},
		},
	})
	return err
}

// GrantTrial grants the provider's trial credit (TrialAmount for TrialDays)
// to an organisation, once per e-mail address: the lowercased address is the
// grant's trial key, so a second organisation of the same address gets
// none. It reports whether it granted; a zero trial amount grants nothing.
func (l *Ledger) GrantTrial(ctx context.Context, tx *store.Tx, orgID, email string, prov *store.Provider, now time.Time) (bool, error) {
	amount, err := decimal.NewFromString(prov.TrialAmount)
	if err != nil {
		return false, fmt.Errorf("provider trial amount %q: %w", prov.TrialAmount, err)
	}
	if !amount.IsPositive() {
		return false, nil
	}
	now = now.UTC()
	g := &store.CreditGrant{
		OrgID:       orgID,
		Kind:        store.GrantTrial,
		Amount:      prov.TrialAmount,
		Currency:    prov.Currency,
		EffectiveAt: now,
		TrialKey:    store.NormalizeEmail(email),
		GrantedBy:   "system",
		Reason:      "trial credit for " + store.NormalizeEmail(email),
	}
	if prov.TrialDays > 0 {
		exp := now.Add(time.Duration(prov.TrialDays) * 24 * time.Hour)
		g.ExpiresAt = &exp
	}
	err = l.Grant(ctx, tx, g)
	if errors.Is(err, store.ErrConflict) {
		return false, nil
	}
	return err == nil, err
}

// burnOrder sorts grants as credit burns: higher priority first, then the
// soonest expiry (no expiry last), then the oldest.
func burnOrder(gs []store.CreditGrant) {
	slices.SortStableFunc(gs, func(a, b store.CreditGrant) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		switch {
		case a.ExpiresAt != nil && b.ExpiresAt == nil:
			return -1
		case a.ExpiresAt == nil && b.ExpiresAt != nil:
			return 1
		case a.ExpiresAt != nil && b.ExpiresAt != nil:
			if c := a.ExpiresAt.Compare(*b.ExpiresAt); c != 0 {
				return c
			}
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// coversWindow reports whether a grant may pay for usage in [start, end):
// it took effect before the window ended and had not expired when the
// window began. A grant expiring inside an hour window pays for all of it,
// in the tenant's favour: windows are the finest grain rating knows.
func coversWindow(g *store.CreditGrant, currency string, start, end time.Time) bool {
	return g.Currency == currency && g.ExpiredAt == nil && g.EffectiveAt.Before(end) &&
		(g.ExpiresAt == nil || g.ExpiresAt.After(start))
}

// PostUsage is the body of the posting loop. It charges every
// organisation's unposted rated lines to the ledger, one transaction per
// organisation, burning credit in order and putting the rest on the
// organisation's receivable; then it posts the expiry of grants whose
// expires_at has passed and whose last windows are rated, as breakage.
// Each step commits with what marks it done, so a crash between any two
// leaves a state the next run completes to the same ledger.
func (l *Ledger) PostUsage(ctx context.Context, now time.Time) error {
	var orgs []string
	var expiring []store.CreditGrant
	err := l.Store.View(ctx, func(tx *store.Tx) error {
		lines, err := tx.ListRatedLines(ctx, store.RatedLineFilter{Unposted: true})
		if err != nil {
			return err
		}
		orgs = nil
		for _, ln := range lines {
			if !slices.Contains(orgs, ln.OrgID) {
				orgs = append(orgs, ln.OrgID)
			}
		}
		// A grant expires once rating has passed its expiry, so usage
		// before it is charged to it first.
		until, err := tx.RatedUntil(ctx)
		if err != nil {
			return err
		}
		if now.Before(until) {
			until = now
		}
		expiring, err = tx.ListGrantsExpiring(ctx, until)
		return err
	})
	if err != nil {
		return fmt.Errorf("post usage: %w", err)
	}
	var errs []error
	for _, org := range orgs {
		// One transaction per calendar month of usage, so that an
		// invoice's credit (the credit its lines' transactions burnt) never
		// counts another month's.
		more := true
		var err error
		for more && err == nil {
			err = l.Store.Tx(ctx, func(tx *store.Tx) error {
				var e error
				more, e = l.postOrg(ctx, tx, org, now)
				return e
			})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("post usage of organisation %s: %w", org, err))
		}
	}
	for _, g := range expiring {
		err := l.Store.Tx(ctx, func(tx *store.Tx) error {
			// Lines rated since the listing above must burn the grant
			// before what is left of it lapses.
			for more := true; more; {
				var err error
				if more, err = l.postOrg(ctx, tx, g.OrgID, now); err != nil {
					return err
				}
			}
			return l.expire(ctx, tx, g.ID, g.OrgID, now)
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("expire credit grant %s: %w", g.ID, err))
		}
	}
	return errors.Join(errs...)
}

// acct is a ledger account in one currency.
type acct struct{ account, currency string }

// postOrg charges an organisation's unposted rated lines of the earliest
// calendar month that has any in one ledger transaction and marks them
// posted in tx; more says whether later months have unposted lines. The
// transaction's idempotency key is a hash of the lines' IDs, so the same
// lines are never charged twice.
func (l *Ledger) postOrg(ctx context.Context, tx *store.Tx, orgID string, now time.Time) (more bool, err error) {
	lines, err := tx.ListRatedLines(ctx, store.RatedLineFilter{OrgID: orgID, Unposted: true})
	if err != nil || len(lines) == 0 {
		return false, err
	}
	first := lines[0].WindowStart.UTC()
	month := time.Date(first.Year(), first.Month(), 1, 0, 0, 0, 0, time.UTC)
	next := month.AddDate(0, 1, 0)
	n := 0
	for _, ln := range lines {
		if !ln.WindowStart.Before(next) {
			more = true
			continue
		}
		lines[n] = ln
		n++
	}
	lines = lines[:n]
	err = l.postLines(ctx, tx, orgID, lines, now)
	return more, err
}

func (l *Ledger) postLines(ctx context.Context, tx *store.Tx, orgID string, lines []store.RatedLine, now time.Time) error {
	grants, err := tx.ListCreditGrants(ctx, orgID)
	if err != nil {
		return err
	}
	burnOrder(grants)
	remaining, err := tx.GrantRemaining(ctx, orgID)
	if err != nil {
		return err
	}
	owed, err := tx.Owed(ctx, orgID)
	if err != nil {
		return err
	}
	sums := map[acct]decimal.Decimal{}
	var order []acct // entries in a stable order: grants as burnt, receivable, revenue
	add := func(a acct, v decimal.Decimal) {
		if _, ok := sums[a]; !ok {
			order = append(order, a)
		}
		sums[a] = sums[a].Add(v)
	}
	receivable := store.ReceivableAccount(orgID)
	ids := make([]string, 0, len(lines))
	for _, ln := range lines {
		ids = append(ids, ln.ID)
		amount, err := decimal.NewFromString(ln.Amount)
		if err != nil {
			return fmt.Errorf("rated line %s amount %q: %w", ln.ID, ln.Amount, err)
		}
		add(acct{store.AccountRevenue, ln.Currency}, amount.Neg())
		if amount.IsPositive() {
			left := amount
			for i := range grants {
				g := &grants[i]
				if left.IsZero() {
					break
				}
				if !coversWindow(g, ln.Currency, ln.WindowStart, ln.WindowEnd) || !remaining[g.ID].IsPositive() {
					continue
				}
				take := decimal.Min(left, remaining[g.ID])
				remaining[g.ID] = remaining[g.ID].Sub(take)
				add(acct{store.GrantAccount(g.ID), g.Currency}, take)
				left = left.Sub(take)
			}
			if !left.IsZero() {
				add(acct{receivable, ln.Currency}, left)
				owed = owed.Add(left)
			}
			continue
		}
		// A negative delta line (re-rating found less usage) gives back:
		// first what is owed, then credit to the grants it came from, last
		// burnt first.
		back := amount.Neg()
		if owed.IsPositive() {
			x := decimal.Min(back, owed)
			add(acct{receivable, ln.Currency}, x.Neg())
			owed = owed.Sub(x)
			back = back.Sub(x)
		}
		for i := len(grants) - 1; i >= 0 && back.IsPositive(); i-- {
			g := &grants[i]
			if !coversWindow(g, ln.Currency, ln.WindowStart, ln.WindowEnd) {
				continue
			}
			granted, err := decimal.NewFromString(g.Amount)
			if err != nil {
				return err
			}
			used := granted.Sub(remaining[g.ID])
			if !used.IsPositive() {
				continue
			}
			x := decimal.Min(back, used)
			remaining[g.ID] = remaining[g.ID].Add(x)
			add(acct{store.GrantAccount(g.ID), g.Currency}, x.Neg())
			back = back.Sub(x)
		}
		if back.IsPositive() {
			add(acct{receivable, ln.Currency}, back.Neg())
			owed = owed.Sub(back)
		}
	}
	// Revenue last, receivable before it: readers see grants, then what
	// the organisation owes, then what the provider earned.
	slices.SortStableFunc(order, func(a, b acct) int { return rank(a.account) - rank(b.account) })
	var entries []store.LedgerEntry
	for _, a := range order {
		if v := sums[a]; !v.IsZero() {
			entries = append(entries, store.LedgerEntry{Account: a.account, Amount: v.String(), Currency: a.currency})
		}
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	sum := sha256.Sum256([]byte(strings.Join(sorted, ",")))
	txnID, _, err := tx.PostLedgerTxn(ctx, &store.LedgerTxn{
		OrgID:          orgID,
		Kind:           KindUsage,
		IdempotencyKey: "usage:" + hex.EncodeToString(sum[:]),
		BookedAt:       now.UTC(),
		Memo:           fmt.Sprintf("%d rated lines", len(lines)),
		Entries:        entries,
	})
	if err != nil {
		return err
	}
	return tx.MarkRatedLinesPosted(ctx, ids, txnID)
}

func rank(account string) int {
	switch {
	case strings.HasPrefix(account, "grant:"):
		return 0
	case account == store.AccountRevenue:
		return 2
	}
	return 1
}

// expire posts what is left of a grant as breakage and marks it expired.
func (l *Ledger) expire(ctx context.Context, tx *store.Tx, grantID, orgID string, now time.Time) error {
	g, err := tx.GetCreditGrant(ctx, orgID, grantID)
	if err != nil {
		return err
	}
	if g.ExpiredAt != nil {
		return nil // another run got here first
	}
	remaining, err := tx.GrantRemaining(ctx, orgID)
	if err != nil {
		return err
	}
	left := remaining[g.ID]
	var entries []store.LedgerEntry
	if left.IsPositive() {
		entries = []store.LedgerEntry{
			{Account: store.GrantAccount(g.ID), Amount: left.String(), Currency: g.Currency},
			{Account: store.AccountBreakage, Amount: left.Neg().String(), Currency: g.Currency},
		}
	}
	if _, _, err := tx.PostLedgerTxn(ctx, &store.LedgerTxn{
		OrgID:          orgID,
		Kind:           KindExpiry,
		IdempotencyKey: "expire:" + g.ID,
		BookedAt:       *g.ExpiresAt,
		Memo:           fmt.Sprintf("%s credit expired with %s %s left", g.Kind, left, g.Currency),
		Entries:        entries,
	}); err != nil {
		return err
	}
	return tx.MarkGrantExpired(ctx, g.ID, now.UTC())
}
