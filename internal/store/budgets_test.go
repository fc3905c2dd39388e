package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// billingOrgs creates two organisations and returns their IDs.
func billingOrgs(t *testing.T, s *Store) (acme, other string) {
	t.Helper()
	ctx := context.Background()
	err := s.Tx(ctx, func(tx *Tx) error {
		a, o := &Org{Name: "acme", State: "active"}, &Org{Name: "other", State: "active"}
		if err := tx.CreateOrg(ctx, a); err != nil {
			return err
		}
		if err := tx.CreateOrg(ctx, o); err != nil {
			return err
		}
		acme, other = a.ID, o.ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return acme, other
}

// insertLine stores a rated line with raw SQL, so these tests need nothing
// but the schema.
func insertLine(t *testing.T, s *Store, org, vdc string, window time.Time, amount string) {
	t.Helper()
	ctx := context.Background()
	err := s.Tx(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `INSERT INTO rated_lines (id, org_id, vdc_id, resource_kind, resource_id, meter, window_start, window_end,
			quantity, unit, unit_price, amount, currency, plan_id, input_hash, run_id, created_at)
			VALUES ($1, $2, $3, 'vm', $4, 'vcpu', $5, $6, '1', 'vcpu-hour', $7, $7, 'AUD', 'p', 'h', 'r', $5)`,
			NewID(), org, vdc, NewID(), ts(window), ts(window.Add(time.Hour)), amount)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBudgetCRUD(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		acme, other := billingOrgs(t, s)
		b := &Budget{OrgID: acme, Name: "monthly", Amount: "100.50", Thresholds: []int{50, 80, 100}, Emails: []string{"ops@acme.test"}}
		if err := s.Tx(ctx, func(tx *Tx) error { return tx.CreateBudget(ctx, b) }); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{b.ID, "monthly"} {
			var got *Budget
			if err := s.View(ctx, func(tx *Tx) (err error) { got, err = tx.GetBudget(ctx, acme, key); return err }); err != nil {
				t.Fatal(err)
			}
			if got.Amount != "100.50" || got.Name != "monthly" || !reflect.DeepEqual(got.Thresholds, []int{50, 80, 100}) ||
				!reflect.DeepEqual(got.Emails, []string{"ops@acme.test"}) || got.Version != 1 {
				t.Errorf("GetBudget(%s) = %+v", key, got)
			}
			// Another organisation cannot reach it, by ID or name.
			err := s.View(ctx, func(tx *Tx) error { _, err := tx.GetBudget(ctx, other, key); return err })
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("other org GetBudget(%s): %v, want ErrNotFound", key, err)
			}
		}
		err := s.Tx(ctx, func(tx *Tx) error { return tx.CreateBudget(ctx, &Budget{OrgID: acme, Name: "monthly", Amount: "1"}) })
		if !errors.Is(err, ErrConflict) {
			t.Errorf("duplicate name: %v, want ErrConflict", err)
		}
		// The same name in another organisation is fine; no e-mails reads back as empty, not null.
		ob := &Budget{OrgID: other, Name: "monthly", Amount: "5"}
		if err := s.Tx(ctx, func(tx *Tx) error { return tx.CreateBudget(ctx, ob) }); err != nil {
			t.Fatal(err)
		}

		var mine, all []Budget
		err = s.View(ctx, func(tx *Tx) (err error) {
			if mine, _, err = tx.ListBudgets(ctx, acme, Page{}); err != nil {
				return err
			}
			all, _, err = tx.ListBudgets(ctx, "", Page{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(mine) != 1 || mine[0].ID != b.ID || len(all) != 2 {
			t.Errorf("ListBudgets: acme %d, all %d", len(mine), len(all))
		}

		b.Amount, b.Thresholds = "200", []int{90}
		if err := s.Tx(ctx, func(tx *Tx) error { return tx.UpdateBudget(ctx, b) }); err != nil {
			t.Fatal(err)
		}
		var got *Budget
		if err := s.View(ctx, func(tx *Tx) (err error) { got, err = tx.GetBudget(ctx, acme, b.ID); return err }); err != nil {
			t.Fatal(err)
		}
		if got.Amount != "200" || !reflect.DeepEqual(got.Thresholds, []int{90}) || got.Version != 2 {
			t.Errorf("after update: %+v", got)
		}

		if err := s.Tx(ctx, func(tx *Tx) error { return tx.DeleteBudget(ctx, b.ID) }); err != nil {
			t.Fatal(err)
		}
		err = s.Tx(ctx, func(tx *Tx) error { return tx.DeleteBudget(ctx, b.ID) })
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("delete twice: %v, want ErrNotFound", err)
		}
	})
}

func TestBudgetAlertsFireOncePerPeriod(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		acme, _ := billingOrgs(t, s)
		b := &Budget{OrgID: acme, Name: "b", Amount: "10"}
		if err := s.Tx(ctx, func(tx *Tx) error { return tx.CreateBudget(ctx, b) }); err != nil {
			t.Fatal(err)
		}
		may := time.Date(2028, 5, 1, 0, 0, 0, 0, time.UTC)
		june := time.Date(2028, 6, 1, 0, 0, 0, 0, time.UTC)
		fire := func(period time.Time, threshold int) error {
			return s.Tx(ctx, func(tx *Tx) error { return tx.InsertBudgetAlert(ctx, b.ID, period, threshold, period.Add(time.Hour)) })
		}
		if err := fire(may, 50); err != nil {
			t.Fatal(err)
		}
		if err := fire(may, 50); !errors.Is(err, ErrConflict) {
			t.Errorf("second 50%% alert in May: %v, want ErrConflict", err)
		}
		for _, f := range []struct {
			period    time.Time
			threshold int
		}{{may, 80}, {june, 50}} {
			if err := fire(f.period, f.threshold); err != nil {
				t.Errorf("alert %d%% of %s: %v", f.threshold, f.period, err)
			}
		}
		var fired []int
		if err := s.View(ctx, func(tx *Tx) (err error) { fired, err = tx.BudgetAlerts(ctx, b.ID, may); return err }); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fired, []int{50, 80}) {
			t.Errorf("May alerts %v, want [50 80]", fired)
		}
		if err := s.Tx(ctx, func(tx *Tx) error { return tx.ResetBudgetAlerts(ctx, b.ID) }); err != nil {
			t.Fatal(err)
		}
		if err := fire(may, 50); err != nil {
			t.Errorf("50%% after reset: %v", err)
		}
	})
}

func TestRatedSpend(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		acme, other := billingOrgs(t, s)
		may := time.Date(2028, 5, 1, 0, 0, 0, 0, time.UTC)
		june := may.AddDate(0, 1, 0)
		// Exact amounts whose float sum would not be exact.
		insertLine(t, s, acme, "vdc-a", may, "0.1")
		insertLine(t, s, acme, "vdc-a", may.Add(time.Hour), "0.2")
		insertLine(t, s, acme, "vdc-b", june.Add(-time.Hour), "0.000001")
		insertLine(t, s, acme, "", may.Add(2*time.Hour), "1")
		insertLine(t, s, acme, "vdc-a", june, "100")                // next month
		insertLine(t, s, acme, "vdc-a", may.Add(-time.Hour), "100") // last month
		insertLine(t, s, other, "vdc-x", may, "7")

		var spend map[string]decimal.Decimal
		if err := s.View(ctx, func(tx *Tx) (err error) { spend, err = tx.RatedSpend(ctx, acme, may, june); return err }); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			vdc, want string
		}{{"vdc-a", "0.3"}, {"vdc-b", "0.000001"}, {"", "1.300001"}, {"vdc-x", "0"}} {
			got := BudgetSpend(&Budget{VDCID: tt.vdc}, spend)
			if !got.Equal(decimal.RequireFromString(tt.want)) {
				t.Errorf("spend of VDC %q: %s, want %s", tt.vdc, got, tt.want)
			}
		}
	})
}
