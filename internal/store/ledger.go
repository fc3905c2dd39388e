package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// Ledger accounts. Amounts are debit-positive and every transaction sums to
// zero per currency:
//
//	grant issued:  "promo_expense" (trial, promo) or "cash" (paid) +G, "grant:<id>" -G
//	usage charged: "grant:<id>" +t for each grant burnt, "receivable:<org>" +r for what no
//	               credit covered, "revenue" -(Σt + r)
//	grant expired: "grant:<id>" +remaining, "breakage" -remaining
//	invoice paid:  "cash" +p, "receivable:<org>" -p
//
// So a grant's remaining credit is minus its account's balance, and what an
// organisation owes is its receivable account's balance.
const (
	AccountRevenue      = "revenue"
	AccountPromoExpense = "promo_expense"
	AccountCash         = "cash"
	AccountBreakage     = "breakage"
)

// GrantAccount is the ledger account of a credit grant.
func GrantAccount(grantID string) string { return "grant:" + grantID }

// ReceivableAccount is what an organisation owes.
func ReceivableAccount(orgID string) string { return "receivable:" + orgID }

// Credit grant kinds.
const (
	GrantTrial = "trial"
	GrantPromo = "promo"
	GrantPaid  = "paid"
)

// CreditGrant is stored credit. Amount is an exact decimal string.
type CreditGrant struct {
	ID          string
	OrgID       string
	Kind        string
	Amount      string
	Currency    string
	Priority    int
	EffectiveAt time.Time
	ExpiresAt   *time.Time
	TrialKey    string // "" except trials: the verified e-mail, unique
	GrantedBy   string
	Reason      string
	ExpiredAt   *time.Time // when the expiry was posted
	CreatedAt   time.Time
}

// LedgerEntry is one line of a ledger transaction.
type LedgerEntry struct {
	Account  string
	Amount   string
	Currency string
}

// LedgerTxn is a ledger transaction with its entries.
type LedgerTxn struct {
	ID             string
	OrgID          string
	Kind           string // grant, usage, expiry, payment, adjustment
	IdempotencyKey string
	BookedAt       time.Time
	Memo           string
	Entries        []LedgerEntry
}

// PostLedgerTxn stores t and its entries unless a transaction with its
// idempotency key exists (then it returns that one's ID and false). It
// refuses (an error, nothing stored) entries that do not sum to zero per
// currency, or whose amounts are not exact decimals. A transaction without
// entries is allowed: usage lines that net to nothing are still charged.
func (tx *Tx) PostLedgerTxn(ctx context.Context, t *LedgerTxn) (id string, inserted bool, err error) {
	if t.IdempotencyKey == "" {
		return "", false, fmt.Errorf("ledger transaction %s: no idempotency key", t.Kind)
	}
	sums := map[string]decimal.Decimal{}
	for _, e := range t.Entries {
		a, err := decimal.NewFromString(e.Amount)
		if err != nil {
			return "", false, fmt.Errorf("ledger transaction %s: amount %q of %s: %w", t.IdempotencyKey, e.Amount, e.Account, err)
		}
		if e.Account == "" || e.Currency == "" {
			return "", false, fmt.Errorf("ledger transaction %s: entry without account or currency", t.IdempotencyKey)
		}
		sums[e.Currency] = sums[e.Currency].Add(a)
	}
	for cur, s := range sums {
		if !s.IsZero() {
			return "", false, fmt.Errorf("ledger transaction %s: entries sum to %s %s, not zero", t.IdempotencyKey, s, cur)
		}
	}
	err = mapErr(tx.queryRow(ctx, `SELECT id FROM ledger_txns WHERE idempotency_key = $1`, t.IdempotencyKey).Scan(&id))
	if err == nil {
		return id, false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return "", false, fmt.Errorf("ledger transaction %s: %w", t.IdempotencyKey, err)
	}
	if t.ID == "" {
		t.ID = NewID()
	}
	if t.BookedAt.IsZero() {
		t.BookedAt = tx.Now()
	}
	if _, err := tx.exec(ctx, `INSERT INTO ledger_txns (id, org_id, kind, idempotency_key, booked_at, memo) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.ID, t.OrgID, t.Kind, t.IdempotencyKey, ts(t.BookedAt), t.Memo); err != nil {
		return "", false, fmt.Errorf("post ledger transaction %s: %w", t.IdempotencyKey, err)
	}
	for _, e := range t.Entries {
		if _, err := tx.exec(ctx, `INSERT INTO ledger_entries (id, txn_id, account, amount, currency) VALUES ($1, $2, $3, $4, $5)`,
			NewID(), t.ID, e.Account, e.Amount, e.Currency); err != nil {
			return "", false, fmt.Errorf("post ledger entry of %s: %w", t.IdempotencyKey, err)
		}
	}
	return t.ID, true, nil
}

// sumAmounts adds the decimal strings a query returns in its first column.
// Amounts are summed here, not in SQL: SQLite would sum TEXT as floats.
func (tx *Tx) sumAmounts(ctx context.Context, what, query string, args ...any) (decimal.Decimal, error) {
	rows, err := tx.query(ctx, query, args...)
	if err != nil {
		return decimal.Zero, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	sum := decimal.Zero
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return decimal.Zero, err
		}
		a, err := decimal.NewFromString(s)
		if err != nil {
			return decimal.Zero, fmt.Errorf("%s: stored amount %q: %w", what, s, err)
		}
		sum = sum.Add(a)
	}
	return sum, rows.Err()
}

// AccountBalance sums an account's entries (exact decimal string).
func (tx *Tx) AccountBalance(ctx context.Context, account string) (string, error) {
	sum, err := tx.sumAmounts(ctx, "balance of "+account, `SELECT amount FROM ledger_entries WHERE account = $1`, account)
	return sum.String(), err
}

// CreditUsedByTxns sums the credit burnt (positive entries on grant
// accounts) by the given transactions, as an exact decimal string. Usage
// transactions hold one entry per grant, net: a negative delta line that
// gave credit back shows as less credit used.
func (tx *Tx) CreditUsedByTxns(ctx context.Context, txnIDs []string) (string, error) {
	if len(txnIDs) == 0 {
		return "0", nil
	}
	var w where
	in := ""
	for i, id := range txnIDs {
		if i > 0 {
			in += ","
		}
		in += w.arg(id)
	}
	sum, err := tx.sumAmounts(ctx, "credit used", `SELECT amount FROM ledger_entries WHERE account LIKE 'grant:%' AND txn_id IN (`+in+`)`, w.args...)
	return sum.String(), err
}

const grantCols = `id, org_id, kind, amount, currency, priority, effective_at, expires_at, COALESCE(trial_key, ''),
	granted_by, reason, expired_at, created_at`

func scanGrant(sc interface{ Scan(...any) error }) (CreditGrant, error) {
	var g CreditGrant
	var eff, created Time
	var exp, expired NullTime
	err := sc.Scan(&g.ID, &g.OrgID, &g.Kind, &g.Amount, &g.Currency, &g.Priority, &eff, &exp, &g.TrialKey,
		&g.GrantedBy, &g.Reason, &expired, &created)
	g.EffectiveAt, g.ExpiresAt, g.ExpiredAt, g.CreatedAt = eff.Time, exp.T, expired.T, created.Time
	return g, mapErr(err)
}

// CreateCreditGrant stores a grant (ID, EffectiveAt and CreatedAt filled
// in when empty). ErrConflict when its TrialKey was used before; the
// transaction stays usable, so the caller can carry on without a trial.
// Posting the grant to the ledger is the caller's job (billing/ledger).
func (tx *Tx) CreateCreditGrant(ctx context.Context, g *CreditGrant) error {
	if g.ID == "" {
		g.ID = NewID()
	}
	g.CreatedAt = tx.Now()
	if g.EffectiveAt.IsZero() {
		g.EffectiveAt = g.CreatedAt
	}
	if _, err := decimal.NewFromString(g.Amount); err != nil {
		return fmt.Errorf("credit grant amount %q: %w", g.Amount, err)
	}
	var key any
	if g.TrialKey != "" {
		key = g.TrialKey
	}
	// ON CONFLICT DO NOTHING rather than a unique violation: on PostgreSQL
	// a violation aborts the whole transaction, and a second trial for the
	// same address is an expected answer, not a failure.
	res, err := tx.exec(ctx, `INSERT INTO credit_grants (id, org_id, kind, amount, currency, priority, effective_at, expires_at, trial_key,
		granted_by, reason, expired_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (trial_key) DO NOTHING`,
		g.ID, g.OrgID, g.Kind, g.Amount, g.Currency, g.Priority, ts(g.EffectiveAt), tsPtr(g.ExpiresAt), key,
		g.GrantedBy, g.Reason, tsPtr(g.ExpiredAt), ts(g.CreatedAt))
	if err != nil {
		return fmt.Errorf("create credit grant: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("credit grant: trial already granted to %s: %w", g.TrialKey, ErrConflict)
	}
	return nil
}

// GetCreditGrant reads a grant of organisation orgID.
func (tx *Tx) GetCreditGrant(ctx context.Context, orgID, id string) (*CreditGrant, error) {
	g, err := scanGrant(tx.queryRow(ctx, `SELECT `+grantCols+` FROM credit_grants WHERE org_id = $1 AND id = $2`, orgID, id))
	if err != nil {
		return nil, fmt.Errorf("credit grant %s: %w", id, err)
	}
	return &g, nil
}

// ListCreditGrants lists an organisation's grants, oldest first.
func (tx *Tx) ListCreditGrants(ctx context.Context, orgID string) ([]CreditGrant, error) {
	rows, err := tx.query(ctx, `SELECT `+grantCols+` FROM credit_grants WHERE org_id = $1 ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list credit grants: %w", err)
	}
	return collect(rows, scanGrant)
}

// ListGrantsExpiring lists every organisation's grants that expire at or
// before until and whose expiry is not posted yet, oldest expiry first.
func (tx *Tx) ListGrantsExpiring(ctx context.Context, until time.Time) ([]CreditGrant, error) {
	rows, err := tx.query(ctx, `SELECT `+grantCols+` FROM credit_grants
		WHERE expires_at IS NOT NULL AND expires_at <= $1 AND expired_at IS NULL ORDER BY expires_at, id`, ts(until))
	if err != nil {
		return nil, fmt.Errorf("list expiring credit grants: %w", err)
	}
	return collect(rows, scanGrant)
}

// MarkGrantExpired records that a grant's expiry was posted at at.
func (tx *Tx) MarkGrantExpired(ctx context.Context, id string, at time.Time) error {
	if err := expectOne(tx.exec(ctx, `UPDATE credit_grants SET expired_at = $2 WHERE id = $1`, id, ts(at))); err != nil {
		return fmt.Errorf("mark credit grant %s expired: %w", id, err)
	}
	return nil
}

// GrantRemaining is the credit left on each of an organisation's grants
// (minus each grant account's balance), by grant ID, as exact decimals.
func (tx *Tx) GrantRemaining(ctx context.Context, orgID string) (map[string]decimal.Decimal, error) {
	rows, err := tx.query(ctx, `SELECT g.id, e.amount FROM credit_grants g
		JOIN ledger_entries e ON e.account = 'grant:' || g.id WHERE g.org_id = $1`, orgID)
	if err != nil {
		return nil, fmt.Errorf("remaining credit of organisation %s: %w", orgID, err)
	}
	defer rows.Close()
	out := map[string]decimal.Decimal{}
	for rows.Next() {
		var id, s string
		if err := rows.Scan(&id, &s); err != nil {
			return nil, err
		}
		a, err := decimal.NewFromString(s)
		if err != nil {
			return nil, fmt.Errorf("stored amount %q: %w", s, err)
		}
		out[id] = out[id].Sub(a)
	}
	return out, rows.Err()
}

// Owed is what an organisation owes: its receivable account's balance.
func (tx *Tx) Owed(ctx context.Context, orgID string) (decimal.Decimal, error) {
	return tx.sumAmounts(ctx, "owed by "+orgID, `SELECT amount FROM ledger_entries WHERE account = $1`, ReceivableAccount(orgID))
}

// OrgBilling is an organisation's enforcement state beside orgs.state.
type OrgBilling struct {
	OrgID string
	// Warned are the credit-used thresholds (percent) already announced
	// for the current credit.
	Warned         []int
	GraceSince     *time.Time
	SuspendedSince *time.Time
	// Override is "" (automatic) or the state the provider fixed.
	Override  string
	UpdatedAt time.Time
}

// GetOrgBilling reads an organisation's enforcement state; an organisation
// never enforced has the zero value (with OrgID set).
func (tx *Tx) GetOrgBilling(ctx context.Context, orgID string) (*OrgBilling, error) {
	b := OrgBilling{OrgID: orgID}
	var grace, susp NullTime
	var updated Time
	err := mapErr(tx.queryRow(ctx, `SELECT warned, grace_since, suspended_since, override, updated_at FROM org_billing WHERE org_id = $1`, orgID).
		Scan(jsonScan{&b.Warned}, &grace, &susp, &b.Override, &updated))
	if errors.Is(err, ErrNotFound) {
		return &b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("billing state of organisation %s: %w", orgID, err)
	}
	b.GraceSince, b.SuspendedSince, b.UpdatedAt = grace.T, susp.T, updated.Time
	return &b, nil
}

// PutOrgBilling saves an organisation's enforcement state.
func (tx *Tx) PutOrgBilling(ctx context.Context, b *OrgBilling) error {
	b.UpdatedAt = tx.Now()
	_, err := tx.exec(ctx, `INSERT INTO org_billing (org_id, warned, grace_since, suspended_since, override, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (org_id) DO UPDATE SET warned = excluded.warned, grace_since = excluded.grace_since,
			suspended_since = excluded.suspended_since, override = excluded.override, updated_at = excluded.updated_at`,
		b.OrgID, jsonText{nonNil(b.Warned)}, tsPtr(b.GraceSince), tsPtr(b.SuspendedSince), b.Override, ts(b.UpdatedAt))
	if err != nil {
		return fmt.Errorf("save billing state of organisation %s: %w", b.OrgID, err)
	}
	return nil
}

// BillingOrgIDs lists the organisations enforcement looks at: those with a
// grant, usage, a ledger account or an enforcement state.
func (tx *Tx) BillingOrgIDs(ctx context.Context) ([]string, error) {
	rows, err := tx.query(ctx, `SELECT org_id FROM credit_grants UNION SELECT org_id FROM usage_spans
		UNION SELECT org_id FROM rated_lines UNION SELECT org_id FROM org_billing ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("organisations with billing: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
