package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

// ledgerTestOrg creates an organisation for the ledger tests.
func ledgerTestOrg(t *testing.T, s *Store, name string) string {
	t.Helper()
	o := &Org{Name: name, State: "active"}
	if err := s.Tx(context.Background(), func(tx *Tx) error { return tx.CreateOrg(context.Background(), o) }); err != nil {
		t.Fatal(err)
	}
	return o.ID
}

func TestPostLedgerTxn(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		org := ledgerTestOrg(t, s, "acme")
		grant := func(key, amount string) *LedgerTxn {
			return &LedgerTxn{OrgID: org, Kind: "grant", IdempotencyKey: key, Entries: []LedgerEntry{
				{Account: AccountPromoExpense, Amount: amount, Currency: "AUD"},
				{Account: GrantAccount("g1"), Amount: "-" + amount, Currency: "AUD"},
			}}
		}
		tests := []struct {
			name     string
			txn      *LedgerTxn
			wantErr  bool
			inserted bool
		}{
			{"balanced", grant("grant:g1", "50.00"), false, true},
			{"same key again is a no-op", grant("grant:g1", "50.00"), false, false},
			{"unbalanced", &LedgerTxn{OrgID: org, Kind: "usage", IdempotencyKey: "u1", Entries: []LedgerEntry{
				{Account: AccountRevenue, Amount: "-1.000001", Currency: "AUD"},
				{Account: ReceivableAccount(org), Amount: "1", Currency: "AUD"},
			}}, true, false},
			{"balanced across currencies is not enough", &LedgerTxn{OrgID: org, Kind: "usage", IdempotencyKey: "u2", Entries: []LedgerEntry{
				{Account: AccountRevenue, Amount: "-1", Currency: "AUD"},
				{Account: ReceivableAccount(org), Amount: "1", Currency: "USD"},
			}}, true, false},
			{"not a decimal", &LedgerTxn{OrgID: org, Kind: "usage", IdempotencyKey: "u3", Entries: []LedgerEntry{
				{Account: AccountRevenue, Amount: "1e", Currency: "AUD"},
			}}, true, false},
			{"usage with many decimals", &LedgerTxn{OrgID: org, Kind: "usage", IdempotencyKey: "u4", Entries: []LedgerEntry{
				{Account: GrantAccount("g1"), Amount: "0.333333333333", Currency: "AUD"},
				{Account: ReceivableAccount(org), Amount: "0.000000000001", Currency: "AUD"},
				{Account: AccountRevenue, Amount: "-0.333333333334", Currency: "AUD"},
			}}, false, true},
		}
		var ids []string
		for _, tt := range tests {
			var id string
			var inserted bool
			err := s.Tx(ctx, func(tx *Tx) error {
				var err error
				id, inserted, err = tx.PostLedgerTxn(ctx, tt.txn)
				return err
			})
			if (err != nil) != tt.wantErr || inserted != tt.inserted {
				t.Errorf("%s: inserted %v err %v; want inserted %v, error %v", tt.name, inserted, err, tt.inserted, tt.wantErr)
			}
			if err == nil {
				ids = append(ids, id)
			}
		}
		if ids[0] != ids[1] {
			t.Errorf("replayed key gave txn %s, want the first one %s", ids[1], ids[0])
		}
		err := s.View(ctx, func(tx *Tx) error {
			for account, want := range map[string]string{
				GrantAccount("g1"):     "-49.666666666667",
				AccountPromoExpense:    "50",
				ReceivableAccount(org): "0.000000000001",
				AccountRevenue:         "-0.333333333334",
				"nobody":               "0",
			} {
				got, err := tx.AccountBalance(ctx, account)
				if err != nil {
					return err
				}
				if got != want {
					t.Errorf("balance of %s = %s, want %s", account, got, want)
				}
			}
			used, err := tx.CreditUsedByTxns(ctx, ids[2:])
			if err != nil {
				return err
			}
			if used != "0.333333333333" {
				t.Errorf("credit used %s, want 0.333333333333", used)
			}
			owed, err := tx.Owed(ctx, org)
			if err != nil {
				return err
			}
			if owed.String() != "0.000000000001" {
				t.Errorf("owed %s", owed)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestCreditGrants(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		acme := ledgerTestOrg(t, s, "acme")
		other := ledgerTestOrg(t, s, "other")
		day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		exp := day.Add(30 * 24 * time.Hour)
		trial := &CreditGrant{OrgID: acme, Kind: GrantTrial, Amount: "50.00", Currency: "AUD", EffectiveAt: day, ExpiresAt: &exp,
			TrialKey: "ann@example.com", Reason: "trial"}
		paid := &CreditGrant{OrgID: acme, Kind: GrantPaid, Amount: "20", Currency: "AUD", Priority: 5, GrantedBy: "admin"}
		err := s.Tx(ctx, func(tx *Tx) error {
			if err := tx.CreateCreditGrant(ctx, trial); err != nil {
				return err
			}
			// The same address for another organisation: refused, and the
			// transaction goes on (PostgreSQL would abort on a violation).
			again := &CreditGrant{OrgID: other, Kind: GrantTrial, Amount: "50.00", Currency: "AUD", TrialKey: "ann@example.com"}
			if err := tx.CreateCreditGrant(ctx, again); !errors.Is(err, ErrConflict) {
				t.Errorf("second trial for the address: %v, want ErrConflict", err)
			}
			return tx.CreateCreditGrant(ctx, paid)
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Tx(ctx, func(tx *Tx) error {
			gs, err := tx.ListCreditGrants(ctx, acme)
			if err != nil {
				return err
			}
			if len(gs) != 2 || gs[0].ID != trial.ID || gs[1].ID != paid.ID {
				t.Fatalf("grants %+v", gs)
			}
			g := gs[0]
			if g.Amount != "50.00" || g.TrialKey != "ann@example.com" || !g.EffectiveAt.Equal(day) || g.ExpiresAt == nil || !g.ExpiresAt.Equal(exp) || g.ExpiredAt != nil {
				t.Errorf("trial read back as %+v", g)
			}
			if gs[1].TrialKey != "" || gs[1].ExpiresAt != nil || gs[1].Priority != 5 || gs[1].GrantedBy != "admin" {
				t.Errorf("paid grant read back as %+v", gs[1])
			}
			if others, err := tx.ListCreditGrants(ctx, other); err != nil || len(others) != 0 {
				t.Errorf("other organisation's grants %v, %v", others, err)
			}
			due, err := tx.ListGrantsExpiring(ctx, exp.Add(-time.Second))
			if err != nil || len(due) != 0 {
				t.Errorf("expiring before the expiry: %v, %v", due, err)
			}
			due, err = tx.ListGrantsExpiring(ctx, exp)
			if err != nil || len(due) != 1 || due[0].ID != trial.ID {
				t.Errorf("expiring at the expiry: %v, %v", due, err)
			}
			if err := tx.MarkGrantExpired(ctx, trial.ID, exp); err != nil {
				return err
			}
			due, err = tx.ListGrantsExpiring(ctx, exp.Add(time.Hour))
			if err != nil || len(due) != 0 {
				t.Errorf("expiring after it was posted: %v, %v", due, err)
			}
			if _, err := tx.GetCreditGrant(ctx, other, trial.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("another organisation's grant by ID: %v", err)
			}
			g2, err := tx.GetCreditGrant(ctx, acme, trial.ID)
			if err != nil {
				return err
			}
			if g2.ExpiredAt == nil || !g2.ExpiredAt.Equal(exp) {
				t.Errorf("expired at %v", g2.ExpiredAt)
			}
			// Remaining credit is minus the grant account's balance.
			if _, _, err := tx.PostLedgerTxn(ctx, &LedgerTxn{OrgID: acme, Kind: "grant", IdempotencyKey: "grant:" + paid.ID, Entries: []LedgerEntry{
				{Account: AccountCash, Amount: "20", Currency: "AUD"}, {Account: GrantAccount(paid.ID), Amount: "-20", Currency: "AUD"},
			}}); err != nil {
				return err
			}
			if _, _, err := tx.PostLedgerTxn(ctx, &LedgerTxn{OrgID: acme, Kind: "usage", IdempotencyKey: "use", Entries: []LedgerEntry{
				{Account: GrantAccount(paid.ID), Amount: "1.25", Currency: "AUD"}, {Account: AccountRevenue, Amount: "-1.25", Currency: "AUD"},
			}}); err != nil {
				return err
			}
			rem, err := tx.GrantRemaining(ctx, acme)
			if err != nil {
				return err
			}
			if len(rem) != 1 || rem[paid.ID].String() != "18.75" {
				t.Errorf("remaining %v, want %s: 18.75", rem, paid.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestOrgBilling(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		org := ledgerTestOrg(t, s, "acme")
		since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		err := s.Tx(ctx, func(tx *Tx) error {
			b, err := tx.GetOrgBilling(ctx, org)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(*b, OrgBilling{OrgID: org}) {
				t.Errorf("never enforced: %+v, want the zero value", b)
			}
			b.Warned = []int{50, 80}
			b.GraceSince = &since
			b.Override = "active"
			if err := tx.PutOrgBilling(ctx, b); err != nil {
				return err
			}
			got, err := tx.GetOrgBilling(ctx, org)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(got.Warned, []int{50, 80}) || got.GraceSince == nil || !got.GraceSince.Equal(since) ||
				got.SuspendedSince != nil || got.Override != "active" {
				t.Errorf("read back %+v", got)
			}
			got.Warned, got.GraceSince, got.Override = nil, nil, ""
			if err := tx.PutOrgBilling(ctx, got); err != nil {
				return err
			}
			again, err := tx.GetOrgBilling(ctx, org)
			if err != nil {
				return err
			}
			if len(again.Warned) != 0 || again.GraceSince != nil || again.Override != "" {
				t.Errorf("cleared state read back %+v", again)
			}
			ids, err := tx.BillingOrgIDs(ctx)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(ids, []string{org}) {
				t.Errorf("billing organisations %v", ids)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
