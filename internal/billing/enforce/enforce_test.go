package enforce

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/billing/ledger"
	"github.com/sirocco-cloud/sirocco/internal/store"
	"github.com/sirocco-cloud/sirocco/internal/store/storetest"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// fixture: a provider billing in AUD, organisation acme with a running VM,
// and an enforcer that records the events it announces.
type fixture struct {
	t      *testing.T
	s      *store.Store
	e      *Enforcer
	org    string
	vm     string
	events []string
	lines  int // rated lines stored, for unique input hashes
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
	f := &fixture{t: t, s: s}
	f.e = &Enforcer{Store: s, Ledger: &ledger.Ledger{Store: s}, OnEvent: func(org, kind, detail string) {
		f.events = append(f.events, kind+" "+detail)
	}}
	f.tx(func(tx *store.Tx) error {
		p := store.DefaultProvider()
		p.Currency = "AUD"
		if err := tx.PutProvider(ctx, &p); err != nil {
			return err
		}
		if err := tx.CreateRegion(ctx, &store.Region{Meta: store.Meta{ID: "au"}, Jurisdiction: "AU"}); err != nil {
			return err
		}
		if err := tx.CreateZone(ctx, &store.Zone{Meta: store.Meta{ID: "au-1a"}, RegionID: "au"}); err != nil {
			return err
		}
		if err := tx.CreateHost(ctx, &store.Host{Meta: store.Meta{ID: "h1"}, ZoneID: "au-1a", State: "ready",
			VCPU: 16, MemoryMiB: 65536, DiskGiB: 2000, CPUOvercommit: 4, MemoryOvercommit: 1}); err != nil {
			return err
		}
		if err := tx.CreateSize(ctx, &store.Size{Meta: store.Meta{ID: "small"}, VCPU: 1, MemoryMiB: 1024, DiskGiB: 10}); err != nil {
			return err
		}
		o := &store.Org{Name: "acme", State: api.OrgActive}
		if err := tx.CreateOrg(ctx, o); err != nil {
			return err
		}
		f.org = o.ID
		vdc := &store.VDC{OrgID: o.ID, Name: "main", ZoneID: "au-1a", AllocationModel: "payg", Quotas: store.Quotas{VCPU: 10, MemoryMiB: 10240, DiskGiB: 100, VMs: 5}}
		if err := tx.CreateVDC(ctx, vdc); err != nil {
			return err
		}
		im := &store.Image{Name: "debian-12", Kind: "disk", State: "available"}
		if err := tx.CreateImage(ctx, im); err != nil {
			return err
		}
		for _, name := range []string{"web", "db"} {
			v := &store.VM{OrgID: o.ID, VDCID: vdc.ID, Name: name, Hostname: name, ImageID: im.ID, SizeID: "small",
				VCPU: 1, MemoryMiB: 1024, DiskGiB: 10, HostID: "h1", Power: store.PowerRunning, StopTimeout: 60}
			if name == "db" {
				v.Power = store.PowerStopped
			}
			if err := tx.CreateVM(ctx, v); err != nil {
				return err
			}
			if name == "web" {
				f.vm = v.ID
			}
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

func (f *fixture) grant(kind, amount string) {
	f.t.Helper()
	f.tx(func(tx *store.Tx) error {
		return f.e.Ledger.Grant(context.Background(), tx, &store.CreditGrant{OrgID: f.org, Kind: kind, Amount: amount, EffectiveAt: t0})
	})
}

// usage rates amount of usage in the hour window at hour.
func (f *fixture) usage(hour int, amount string) {
	f.t.Helper()
	f.lines++
	start := t0.Add(time.Duration(hour) * time.Hour)
	f.tx(func(tx *store.Tx) error {
		_, err := tx.InsertRatedLine(context.Background(), &store.RatedLine{
			ID: store.NewID(), OrgID: f.org, ResourceKind: "vm", ResourceID: f.vm, Meter: "vcpu",
			WindowStart: start, WindowEnd: start.Add(time.Hour), Quantity: "1", Unit: "vcpu-hour", UnitPrice: amount,
			Amount: amount, Currency: "AUD", PlanID: "plan", InputHash: fmt.Sprint(f.lines), RunID: "run",
		})
		return err
	})
}

// run enforces at hours after t0 and returns the state and events.
func (f *fixture) run(at time.Duration) (string, []string) {
	f.t.Helper()
	f.events = nil
	if err := f.e.RunOnce(context.Background(), t0.Add(at)); err != nil {
		f.t.Fatal(err)
	}
	return f.state(), f.events
}

func (f *fixture) state() string {
	f.t.Helper()
	var o *store.Org
	f.tx(func(tx *store.Tx) error {
		var err error
		o, err = tx.GetOrg(context.Background(), f.org)
		return err
	})
	return o.State
}

func (f *fixture) power() map[string]string {
	f.t.Helper()
	out := map[string]string{}
	f.tx(func(tx *store.Tx) error {
		vms, _, err := tx.ListVMs(context.Background(), store.VMFilter{OrgID: f.org}, store.Page{})
		for _, v := range vms {
			out[v.Name] = v.Power
		}
		return err
	})
	return out
}

func (f *fixture) audits(action string) []string {
	f.t.Helper()
	var out []string
	f.tx(func(tx *store.Tx) error {
		evs, _, err := tx.ListAudit(context.Background(), store.AuditFilter{OrgID: f.org, Action: action}, store.Page{})
		for _, e := range evs {
			out = append(out, e.Detail)
		}
		return err
	})
	return out
}

// TestCreditRunsOut follows a A$10 credit burning down: warnings at 50, 80
// and 100 % once each, grace at exactly zero, suspension after the grace
// hours with the running VM powered off, and a top-up bringing service
// back.
func TestCreditRunsOut(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		f.grant(store.GrantTrial, "10")
		steps := []struct {
			at     time.Duration
			usage  string // rated in the hour before at
			state  string
			events []string
		}{
			{1 * time.Hour, "4", api.OrgActive, nil},
			{2 * time.Hour, "1", api.OrgWarn, []string{"credit.warning 50% of credit used: 5.00 AUD available", "org.state active -> warn: available 5.00 AUD"}},
			{2 * time.Hour, "", api.OrgWarn, nil}, // again: nothing new
			{3 * time.Hour, "4.999999", api.OrgWarn, []string{"credit.warning 80% of credit used: 0.00 AUD available"}},
			{4 * time.Hour, "0.000001", api.OrgGrace, []string{"credit.warning 100% of credit used: 0.00 AUD available", "org.state warn -> grace: available 0.00 AUD"}},
			{75 * time.Hour, "", api.OrgGrace, nil}, // 71 h in grace
			{76 * time.Hour, "", api.OrgSuspended, []string{"org.state grace -> suspended: available 0.00 AUD"}},
			{77 * time.Hour, "", api.OrgSuspended, nil},
		}
		for i, st := range steps {
			if st.usage != "" {
				f.usage(int(st.at/time.Hour)-1, st.usage)
			}
			if i == 3 {
				// Posting moves usage from accrued to charged; the balance,
				// and so the state, stay the same.
				if err := f.e.Ledger.PostUsage(context.Background(), t0.Add(st.at)); err != nil {
					t.Fatal(err)
				}
			}
			state, events := f.run(st.at)
			if state != st.state || !slices.Equal(events, st.events) {
				t.Errorf("at %v: state %s events %q; want %s %q", st.at, state, events, st.state, st.events)
			}
		}
		if p := f.power(); p["web"] != store.PowerStopped || p["db"] != store.PowerStopped {
			t.Errorf("VM powers after suspension %v, want all stopped", p)
		}
		if got := f.audits("vm.stop"); len(got) != 1 {
			t.Errorf("VM stops audited %q, want one (db was off already)", got)
		}
		// A top-up: back to active at once; the warnings are forgotten as
		// the credit used falls under them; VMs stay off for the tenant
		// to start.
		f.grant(store.GrantPaid, "20")
		if err := f.e.RunOrg(context.Background(), f.org, t0.Add(78*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if s := f.state(); s != api.OrgActive {
			t.Errorf("after a top-up: %s, want active", s)
		}
		if p := f.power(); p["web"] != store.PowerStopped {
			t.Errorf("VM restarted by itself: %v", p)
		}
		want := []string{"active -> warn: available 5.00 AUD", "warn -> grace: available 0.00 AUD",
			"grace -> suspended: available 0.00 AUD", "suspended -> active: available 20.00 AUD"}
		if got := f.audits("org.billing_state"); !slices.Equal(got, want) {
			t.Errorf("audited transitions %q, want %q", got, want)
		}
		if got := f.audits("org.credit_warning"); len(got) != 3 {
			t.Errorf("audited warnings %q, want 3", got)
		}
		// Using half of the new total credit warns again.
		f.usage(80, "15")
		if state, events := f.run(81 * time.Hour); state != api.OrgWarn || len(events) != 3 {
			t.Errorf("half of the topped-up credit used: %s %q", state, events)
		}
	})
}

func TestGraceAtExactlyZero(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		f.grant(store.GrantPromo, "1")
		f.usage(0, "0.999999999")
		if s, _ := f.run(time.Hour); s != api.OrgWarn {
			t.Errorf("with 0.000000001 left: %s, want warn", s)
		}
		f.usage(1, "0.000000001")
		if s, _ := f.run(2 * time.Hour); s != api.OrgGrace {
			t.Errorf("with nothing left: %s, want grace", s)
		}
	})
}

func TestSuspendedThenClosed(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		f.tx(func(tx *store.Tx) error {
			p, err := tx.GetProvider(context.Background())
			if err != nil {
				return err
			}
			p.GraceHours, p.RetentionDays = 0, 2
			return tx.PutProvider(context.Background(), p)
		})
		// No credit at all and usage: straight through grace (0 hours) to
		// suspended in one run.
		f.usage(0, "0.01")
		state, events := f.run(time.Hour)
		if state != api.OrgSuspended || len(events) != 1 {
			t.Errorf("state %s events %q, want suspended in one step", state, events)
		}
		if s, _ := f.run(time.Hour + 47*time.Hour); s != api.OrgSuspended {
			t.Errorf("47 h suspended: %s", s)
		}
		if s, _ := f.run(time.Hour + 48*time.Hour); s != api.OrgClosed {
			t.Errorf("2 days suspended: %s, want closed", s)
		}
		// Closed stays closed, even with credit: only the provider reopens.
		f.grant(store.GrantPaid, "5")
		if s, _ := f.run(60 * time.Hour); s != api.OrgClosed {
			t.Errorf("closed after a top-up: %s", s)
		}
	})
}

func TestNewOrganisationIsLeftAlone(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		// An organisation with a billing row but neither credit nor usage
		// has a zero balance and owes nothing: not grace.
		f.tx(func(tx *store.Tx) error {
			return tx.PutOrgBilling(context.Background(), &store.OrgBilling{OrgID: f.org})
		})
		if s, ev := f.run(time.Hour); s != api.OrgActive || len(ev) != 0 {
			t.Errorf("%s %q, want active and quiet", s, ev)
		}
	})
}

func TestProviderOverride(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		override := func(state string) {
			f.tx(func(tx *store.Tx) error {
				b, err := tx.GetOrgBilling(context.Background(), f.org)
				if err != nil {
					return err
				}
				b.Override = state
				return tx.PutOrgBilling(context.Background(), b)
			})
		}
		f.usage(0, "5") // no credit: would be grace
		override(OverrideActive)
		if s, _ := f.run(time.Hour); s != api.OrgActive {
			t.Errorf("override active with a negative balance: %s", s)
		}
		if s, _ := f.run(200 * time.Hour); s != api.OrgActive {
			t.Errorf("override active long after: %s", s)
		}
		f.grant(store.GrantPaid, "100")
		override(OverrideSuspended)
		if s, _ := f.run(201 * time.Hour); s != api.OrgSuspended {
			t.Errorf("override suspended with credit: %s", s)
		}
		if p := f.power(); p["web"] != store.PowerStopped {
			t.Errorf("suspended by the provider, VM power %v", p)
		}
		override(OverrideNone)
		if s, _ := f.run(202 * time.Hour); s != api.OrgActive {
			t.Errorf("back to automatic with credit: %s, want active", s)
		}
	})
}
