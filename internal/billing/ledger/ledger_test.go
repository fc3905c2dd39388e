package ledger

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/internal/store"
	"github.com/sirocco-cloud/sirocco/internal/store/storetest"
)

// t0 is the start of the tests' billing month.
var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// fixture is a store with the provider billing in AUD (A$50 trial for 30
// days) and two organisations.
type fixture struct {
	t          *testing.T
	s          *store.Store
	l          *Ledger
	acme, beta string
}

func engines(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, e := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "s.db") }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresURL(t) }},
	} {
		t.Run(e.name, func(t *testing.T) { fn(t, newFixture(t, e.dsn(t))) })
	}
}

func newFixture(t *testing.T, dsn string) *fixture {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, dsn, store.Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &fixture{t: t, s: s, l: &Ledger{Store: s}}
	f.tx(func(tx *store.Tx) error {
		p := store.DefaultProvider()
		p.Currency, p.TrialAmount, p.TrialDays = "AUD", "50.00", 30
		if err := tx.PutProvider(ctx, &p); err != nil {
			return err
		}
		for _, o := range []struct {
			name string
			id   *string
		}{{"acme", &f.acme}, {"beta", &f.beta}} {
			org := &store.Org{Name: o.name, State: "active"}
			if err := tx.CreateOrg(ctx, org); err != nil {
				return err
			}
			*o.id = org.ID
		}
		return nil
	})
	return f
}

func (f *fixture) tx(fn func(tx *store.Tx) error) {
	f.t.Helper()
	if err := f.s.Tx(context.Background(), fn); err != nil {
		f.t.Fatal(err)
	}
}

// grant gives org credit; expires is an offset from t0 (0: never).
func (f *fixture) grant(org, kind, amount string, priority int, effective time.Time, expires time.Duration) *store.CreditGrant {
	f.t.Helper()
	g := &store.CreditGrant{OrgID: org, Kind: kind, Amount: amount, Priority: priority, EffectiveAt: effective, Reason: "test"}
	if expires != 0 {
		e := t0.Add(expires)
		g.ExpiresAt = &e
	}
	f.tx(func(tx *store.Tx) error { return f.l.Grant(context.Background(), tx, g) })
	return g
}

// line stores a rated line of org for the hour window starting at hour
// hours after t0.
func (f *fixture) line(org, resource string, hour int, amount string) {
	f.t.Helper()
	start := t0.Add(time.Duration(hour) * time.Hour)
	f.tx(func(tx *store.Tx) error {
		_, err := tx.InsertRatedLine(context.Background(), &store.RatedLine{
			ID: store.NewID(), OrgID: org, ResourceKind: "vm", ResourceID: resource, Meter: "vcpu",
			WindowStart: start, WindowEnd: start.Add(time.Hour), Quantity: "1", Unit: "vcpu-hour", UnitPrice: amount,
			Amount: amount, Currency: "AUD", PlanID: "plan", InputHash: amount + resource, RunID: "run",
		})
		return err
	})
}

func (f *fixture) ratedUntil(hour int) {
	f.t.Helper()
	f.tx(func(tx *store.Tx) error {
		return tx.SetRatedUntil(context.Background(), t0.Add(time.Duration(hour)*time.Hour))
	})
}

func (f *fixture) post(at time.Time) {
	f.t.Helper()
	if err := f.l.PostUsage(context.Background(), at); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) balance(org string, at time.Time) Balance {
	f.t.Helper()
	var b Balance
	f.tx(func(tx *store.Tx) error {
		var err error
		b, err = f.l.Balance(context.Background(), tx, org, at)
		return err
	})
	return b
}

func (f *fixture) account(name string) string {
	f.t.Helper()
	var v string
	f.tx(func(tx *store.Tx) error {
		var err error
		v, err = tx.AccountBalance(context.Background(), name)
		return err
	})
	return v
}

// remaining is the credit left on each grant, in the order given.
func (f *fixture) remaining(org string, gs ...*store.CreditGrant) []string {
	f.t.Helper()
	var m map[string]decimal.Decimal
	f.tx(func(tx *store.Tx) error {
		var err error
		m, err = tx.GrantRemaining(context.Background(), org)
		return err
	})
	var out []string
	for _, g := range gs {
		out = append(out, m[g.ID].String())
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBurnOrder(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		// Created in this order; they burn paid (priority 5), then the
		// soonest expiry (late), then the later expiry (early), then the
		// one without expiry.
		never := f.grant(f.acme, store.GrantPromo, "100", 0, t0, 0)
		early := f.grant(f.acme, store.GrantPromo, "5", 0, t0, 10*24*time.Hour)
		paid := f.grant(f.acme, store.GrantPaid, "10", 5, t0, 0)
		late := f.grant(f.acme, store.GrantPromo, "5", 0, t0, 5*24*time.Hour)
		steps := []struct {
			amount string
			want   []string // never, early, paid, late
		}{
			{"12", []string{"100", "5", "0", "3"}},
			{"6", []string{"100", "2", "0", "0"}},
			{"2.000001", []string{"99.999999", "0", "0", "0"}},
		}
		for i, st := range steps {
			f.line(f.acme, "vm-1", i, st.amount)
			f.post(t0.Add(time.Duration(i+1) * time.Hour))
			if got := f.remaining(f.acme, never, early, paid, late); !equal(got, st.want) {
				t.Errorf("after charging %s: remaining %v, want %v", st.amount, got, st.want)
			}
		}
		// Beyond all credit: the rest is owed.
		f.line(f.acme, "vm-1", 3, "100.5")
		f.post(t0.Add(4 * time.Hour))
		if got := f.account(store.ReceivableAccount(f.acme)); got != "0.500001" {
			t.Errorf("owed %s, want 0.500001", got)
		}
		if got := f.account(store.AccountRevenue); got != "-120.500001" {
			t.Errorf("revenue %s, want -120.500001", got)
		}
		if got := f.remaining(f.acme, never); got[0] != "0" {
			t.Errorf("left on the last grant %s", got[0])
		}
	})
}

func TestGrantCoversOnlyItsWindows(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		// A grant effective from hour 5 does not pay for hour 2; one
		// expiring at 10:30 pays for the 10:00 window, not the 11:00 one.
		later := f.grant(f.acme, store.GrantPromo, "10", 0, t0.Add(5*time.Hour), 0)
		expiring := f.grant(f.acme, store.GrantPromo, "10", 9, t0, 10*time.Hour+30*time.Minute)
		f.line(f.acme, "vm-1", 2, "1")  // expiring
		f.line(f.acme, "vm-1", 10, "1") // expiring
		f.line(f.acme, "vm-1", 11, "1") // later
		f.post(t0.Add(9 * time.Hour))   // watermark not set: no expiry yet
		if got := f.remaining(f.acme, later, expiring); !equal(got, []string{"9", "8"}) {
			t.Errorf("remaining %v, want [9 8]", got)
		}
	})
}

func TestExpiryPostsBreakage(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		trial := f.grant(f.acme, store.GrantTrial, "50.00", 0, t0, 48*time.Hour)
		paid := f.grant(f.acme, store.GrantPaid, "20", 0, t0, 0)
		f.line(f.acme, "vm-1", 0, "1.25")
		f.line(f.acme, "vm-1", 47, "0.75")
		f.ratedUntil(47) // the last window before the expiry is not rated yet
		f.post(t0.Add(49 * time.Hour))
		if got := f.account(store.AccountBreakage); got != "0" {
			t.Fatalf("breakage %s before rating passed the expiry", got)
		}
		f.ratedUntil(49)
		f.line(f.acme, "vm-1", 48, "2") // after the expiry: the paid grant
		f.post(t0.Add(49 * time.Hour))
		if got := f.account(store.AccountBreakage); got != "-48" {
			t.Errorf("breakage %s, want -48 (50 - 1.25 - 0.75)", got)
		}
		if got := f.remaining(f.acme, trial, paid); !equal(got, []string{"0", "18"}) {
			t.Errorf("remaining %v, want [0 18]", got)
		}
		var g *store.CreditGrant
		f.tx(func(tx *store.Tx) error {
			var err error
			g, err = tx.GetCreditGrant(context.Background(), f.acme, trial.ID)
			return err
		})
		if g.ExpiredAt == nil {
			t.Error("trial not marked expired")
		}
		// Running again changes nothing: expiry is once.
		f.post(t0.Add(50 * time.Hour))
		if got := f.account(store.AccountBreakage); got != "-48" {
			t.Errorf("breakage after a re-run %s, want -48", got)
		}
		b := f.balance(f.acme, t0.Add(50*time.Hour))
		if b.Credit.String() != "18" || b.Display != "18.00" || b.Granted.String() != "20" {
			t.Errorf("balance credit %s display %s granted %s; want 18, 18.00, 20", b.Credit, b.Display, b.Granted)
		}
	})
}

func TestTrialOncePerEmail(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		var prov *store.Provider
		f.tx(func(tx *store.Tx) error {
			var err error
			prov, err = tx.GetProvider(ctx)
			return err
		})
		tests := []struct {
			org, email string
			want       bool
		}{
			{f.acme, "Ann@Example.com", true},
			{f.beta, " ann@example.COM", false}, // the same person's second organisation
			{f.beta, "bob@example.com", true},
			{f.beta, "bob@example.com", false},
		}
		for _, tt := range tests {
			var got bool
			f.tx(func(tx *store.Tx) error {
				var err error
				got, err = f.l.GrantTrial(ctx, tx, tt.org, tt.email, prov, t0)
				return err
			})
			if got != tt.want {
				t.Errorf("trial for %q: granted %v, want %v", tt.email, got, tt.want)
			}
		}
		b := f.balance(f.acme, t0.Add(time.Hour))
		if len(b.Grants) != 1 || b.Display != "50.00" || b.Grants[0].TrialKey != "ann@example.com" ||
			b.Grants[0].ExpiresAt == nil || !b.Grants[0].ExpiresAt.Equal(t0.Add(30*24*time.Hour)) {
			t.Errorf("acme's balance %+v", b)
		}
		if got := f.account(store.AccountPromoExpense); got != "100" {
			t.Errorf("promo expense %s, want 100 (two trials)", got)
		}
		// After its expiry the trial is no longer credit.
		if b := f.balance(f.acme, t0.Add(30*24*time.Hour)); !b.Credit.IsZero() || b.Grants[0].Usable {
			t.Errorf("expired trial still counts: %s", b.Credit)
		}
		none := *prov
		none.TrialAmount = "0.00"
		f.tx(func(tx *store.Tx) error {
			got, err := f.l.GrantTrial(ctx, tx, f.acme, "carol@example.com", &none, t0)
			if got {
				t.Error("granted a zero trial")
			}
			return err
		})
	})
}

func TestBalanceToTheCent(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		f.grant(f.acme, store.GrantTrial, "50.00", 0, t0, 30*24*time.Hour)
		// 2 vCPU at A$0.0215/vCPU-h and 4 GiB at A$0.0043/GiB-h for three
		// hours: 3 × (0.043 + 0.0172) = 0.1806, charged; a fourth hour
		// (0.0602) rated, not yet charged.
		for h := range 3 {
			f.line(f.acme, "vm-cpu", h, "0.043")
			f.line(f.acme, "vm-mem", h, "0.0172")
		}
		f.post(t0.Add(3 * time.Hour))
		f.line(f.acme, "vm-cpu", 3, "0.043")
		f.line(f.acme, "vm-mem", 3, "0.0172")
		b := f.balance(f.acme, t0.Add(4*time.Hour))
		want := map[string]string{"credit": "49.8194", "owed": "0", "accrued": "0.0602", "available": "49.7592", "display": "49.76"}
		got := map[string]string{"credit": b.Credit.String(), "owed": b.Owed.String(), "accrued": b.Accrued.String(),
			"available": b.Available.String(), "display": b.Display}
		for k := range want {
			if got[k] != want[k] {
				t.Errorf("%s = %s, want %s", k, got[k], want[k])
			}
		}
		// Half a cent rounds up in display; the exact value stays.
		f.line(f.acme, "vm-x", 4, "49.7542")
		b = f.balance(f.acme, t0.Add(5*time.Hour))
		if b.Available.String() != "0.005" || b.Display != "0.01" {
			t.Errorf("available %s shown %s, want 0.005 shown 0.01", b.Available, b.Display)
		}
		// Past the credit, the balance is negative and what is owed shows.
		f.line(f.acme, "vm-x", 5, "1.5")
		f.post(t0.Add(6 * time.Hour))
		b = f.balance(f.acme, t0.Add(6*time.Hour))
		if b.Owed.String() != "1.495" || b.Available.String() != "-1.495" || b.Display != "-1.50" || !b.Credit.IsZero() {
			t.Errorf("owed %s available %s shown %s credit %s; want 1.495, -1.495, -1.50, 0", b.Owed, b.Available, b.Display, b.Credit)
		}
	})
}

func TestNegativeDeltaGivesBack(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		g := f.grant(f.acme, store.GrantPromo, "1", 0, t0, 0)
		f.line(f.acme, "vm-1", 0, "1.5")
		f.post(t0.Add(time.Hour))
		f.line(f.acme, "vm-1", 0, "-0.8") // re-rating found less usage
		f.post(t0.Add(2 * time.Hour))
		if owed := f.account(store.ReceivableAccount(f.acme)); owed != "0" {
			t.Errorf("owed %s, want 0: the delta pays the debt first", owed)
		}
		if got := f.remaining(f.acme, g); got[0] != "0.3" {
			t.Errorf("credit given back: %s left, want 0.3", got[0])
		}
		if got := f.account(store.AccountRevenue); got != "-0.7" {
			t.Errorf("revenue %s, want -0.7", got)
		}
	})
}

// TestCrashRerunsIdentical fails the posting transaction midway, then runs
// the loop body repeatedly: the ledger ends as if nothing had failed, and
// no line is charged twice.
func TestCrashRerunsIdentical(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		trial := f.grant(f.acme, store.GrantTrial, "10", 0, t0, 2*time.Hour)
		paid := f.grant(f.acme, store.GrantPaid, "10", 0, t0, 0)
		f.line(f.acme, "vm-1", 0, "3")
		f.line(f.acme, "vm-1", 1, "4")
		f.line(f.beta, "vm-2", 0, "2")
		f.ratedUntil(3)
		boom := errors.New("crash")
		for _, crash := range []func(tx *store.Tx) error{
			func(tx *store.Tx) error { _, err := f.l.postOrg(ctx, tx, f.acme, t0.Add(3*time.Hour)); return err },
			func(tx *store.Tx) error {
				if _, err := f.l.postOrg(ctx, tx, f.acme, t0.Add(3*time.Hour)); err != nil {
					return err
				}
				return f.l.expire(ctx, tx, trial.ID, f.acme, t0.Add(3*time.Hour))
			},
		} {
			err := f.s.Tx(ctx, func(tx *store.Tx) error {
				if err := crash(tx); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("crash: %v", err)
			}
			if got := f.account(store.AccountRevenue); got != "0" {
				t.Fatalf("revenue %s after a crash, want nothing booked", got)
			}
		}
		want := map[string]string{
			store.AccountRevenue:            "-9",
			store.AccountBreakage:           "-3",
			store.ReceivableAccount(f.beta): "2",
			store.GrantAccount(trial.ID):    "0",
			store.GrantAccount(paid.ID):     "-10",
		}
		for run := range 3 {
			f.post(t0.Add(time.Duration(3+run) * time.Hour))
			for acct, w := range want {
				if got := f.account(acct); got != w {
					t.Errorf("run %d: %s = %s, want %s", run, acct, got, w)
				}
			}
		}
		f.tx(func(tx *store.Tx) error {
			left, err := tx.ListRatedLines(ctx, store.RatedLineFilter{Unposted: true})
			if len(left) != 0 {
				t.Errorf("%d lines left unposted", len(left))
			}
			return err
		})
	})
}

// TestBalanceCountsUnratedUsage prices what rating has not reached yet:
// spans after the watermark, open ones up to now and closed ones with their
// 60 s minimum, at the plan in force.
func TestBalanceCountsUnratedUsage(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		f.grant(f.acme, store.GrantTrial, "50.00", 0, t0, 0)
		at := func(d time.Duration) time.Time { return t0.Add(4*time.Hour + d) }
		f.tx(func(tx *store.Tx) error {
			if err := tx.CreateRegion(ctx, &store.Region{Meta: store.Meta{ID: "au"}, Jurisdiction: "AU"}); err != nil {
				return err
			}
			if err := tx.CreatePricePlan(ctx, &store.PricePlan{RegionID: "au", Model: "payg", EffectiveFrom: t0, Currency: "AUD",
				Rates: `{"vcpu_hour": "0.0215", "memory_gib_hour": "0.0043"}`}); err != nil {
				return err
			}
			// Rated (and so not counted here): before hour 4.
			if err := tx.OpenSpan(ctx, &store.UsageSpan{OrgID: f.acme, RegionID: "au", Model: "payg", ResourceKind: "vm",
				ResourceID: "old", Meter: "compute", VCPU: 8, MemoryMiB: 8192, PowerOnID: "p0", StartedAt: t0, Source: "api"}); err != nil {
				return err
			}
			if _, err := tx.CloseSpan(ctx, "old", "compute", at(0)); err != nil {
				return err
			}
			// Running for 30 minutes since the watermark: 2 vCPU, 4 GiB.
			if err := tx.OpenSpan(ctx, &store.UsageSpan{OrgID: f.acme, RegionID: "au", Model: "payg", ResourceKind: "vm",
				ResourceID: "web", Meter: "compute", VCPU: 2, MemoryMiB: 4096, PowerOnID: "p1", StartedAt: at(0), Source: "api"}); err != nil {
				return err
			}
			// On for 20 s, charged 60 s: 1 vCPU, 1 GiB.
			if err := tx.OpenSpan(ctx, &store.UsageSpan{OrgID: f.acme, RegionID: "au", Model: "payg", ResourceKind: "vm",
				ResourceID: "blip", Meter: "compute", VCPU: 1, MemoryMiB: 1024, PowerOnID: "p2", StartedAt: at(time.Minute), Source: "api"}); err != nil {
				return err
			}
			if _, err := tx.CloseSpan(ctx, "blip", "compute", at(time.Minute+20*time.Second)); err != nil {
				return err
			}
			return tx.SetRatedUntil(ctx, at(0))
		})
		// 0.5 h × (2 × 0.0215 + 4 × 0.0043) = 0.0301; 60 s of (0.0215 +
		// 0.0043) = 0.00043. Available 50 - 0.03053 = 49.96947. (A minute
		// is 1/60 h, which rating keeps to 18 places: hence the tolerance.)
		b := f.balance(f.acme, at(30*time.Minute))
		near := func(d decimal.Decimal, want string) bool {
			return d.Sub(decimal.RequireFromString(want)).Abs().LessThan(decimal.New(1, -15))
		}
		if !near(b.Accrued, "0.03053") || b.Display != "49.97" || !near(b.Available, "49.96947") {
			t.Errorf("accrued %s available %s shown %s; want 0.03053, 49.96947, 49.97", b.Accrued, b.Available, b.Display)
		}
	})
}

// Lines of two calendar months are charged in separate transactions, so an
// invoice's credit (the credit its lines' transactions burnt) never counts
// the other month's.
func TestPostingSplitsByMonth(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		f.grant(f.acme, store.GrantPromo, "100", 0, t0.Add(-48*time.Hour), 0)
		f.line(f.acme, "vm-1", -1, "3") // February's last hour
		f.line(f.acme, "vm-1", 0, "4")  // March's first
		f.post(t0.Add(2 * time.Hour))
		var feb, mar []store.RatedLine
		f.tx(func(tx *store.Tx) error {
			var err error
			if feb, err = tx.ListRatedLines(context.Background(), store.RatedLineFilter{OrgID: f.acme, From: t0.Add(-time.Hour), To: t0}); err != nil {
				return err
			}
			mar, err = tx.ListRatedLines(context.Background(), store.RatedLineFilter{OrgID: f.acme, From: t0, To: t0.Add(time.Hour)})
			return err
		})
		if len(feb) != 1 || len(mar) != 1 || feb[0].PostedTxn == "" || mar[0].PostedTxn == "" || feb[0].PostedTxn == mar[0].PostedTxn {
			t.Fatalf("February posted by %q, March by %q: want two transactions", feb[0].PostedTxn, mar[0].PostedTxn)
		}
		f.tx(func(tx *store.Tx) error {
			for _, c := range []struct {
				txn, want string
			}{{feb[0].PostedTxn, "3"}, {mar[0].PostedTxn, "4"}} {
				got, err := tx.CreditUsedByTxns(context.Background(), []string{c.txn})
				if err != nil {
					return err
				}
				if got != c.want {
					t.Errorf("credit used by %s = %s, want %s", c.txn, got, c.want)
				}
			}
			return nil
		})
	})
}
