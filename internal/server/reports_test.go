package server

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// reportFixture prices au-syd and gives acme and globex known usage on
// 10 April 2026 at noon: rating has reached 10:00; acme has a March line of
// 5, an April line of 1.25, a VM on (2 vCPU, 2 GiB) since 09:00, a 10 GiB
// disk since April began and a public IP held 10:30–11:00; globex an April
// line of 2.5.
func reportFixture(t *testing.T, e *env) (acme, globex *store.Org, acmeAdmin, globexAdmin string) {
	t.Helper()
	ctx := context.Background()
	acme, acmeAdmin = e.tenant("acme", store.Residency{})
	globex, globexAdmin = e.tenant("globex", store.Residency{})
	at := func(day, hour, min int) time.Time { return time.Date(2026, 4, day, hour, min, 0, 0, time.UTC) }
	line := func(org, id, amount string, start time.Time) store.RatedLine {
		return store.RatedLine{ID: store.NewID(), OrgID: org, ResourceKind: "vm", ResourceID: id, Meter: "vcpu",
			WindowStart: start, WindowEnd: start.Add(time.Hour), Quantity: "1", Unit: "vcpu-hour", UnitPrice: amount,
			Amount: amount, Currency: "USD", PlanID: "plan", InputHash: amount, RunID: "run"}
	}
	err := e.store.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateRegion(ctx, &store.Region{Meta: store.Meta{ID: "au-syd"}, Jurisdiction: "AU"}); err != nil {
			return err
		}
		plan := &store.PricePlan{RegionID: "au-syd", Model: api.AllocationPAYG, EffectiveFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			Currency: "USD", Rates: `{"vcpu_hour": "0.02", "memory_gib_hour": "0.005", "disk_gib_hour": {"standard": "0.0002"}, "public_ip_hour": "0.005"}`}
		if err := tx.CreatePricePlan(ctx, plan); err != nil {
			return err
		}
		for _, l := range []store.RatedLine{
			line(acme.ID, "vm-old", "5", time.Date(2026, 3, 31, 23, 0, 0, 0, time.UTC)),
			line(acme.ID, "vm-web", "1.25", at(1, 0, 0)),
			line(globex.ID, "vm-g", "2.5", at(2, 0, 0)),
		} {
			if _, err := tx.InsertRatedLine(ctx, &l); err != nil {
				return err
			}
		}
		if err := tx.SetRatedUntil(ctx, at(10, 10, 0)); err != nil {
			return err
		}
		span := func(org, kind, id, meter string, start time.Time, f func(*store.UsageSpan)) error {
			s := &store.UsageSpan{OrgID: org, RegionID: "au-syd", Model: api.AllocationPAYG, ResourceKind: kind,
				ResourceID: id, ResourceName: id, Meter: meter, StartedAt: start, Source: "api"}
			if f != nil {
				f(s)
			}
			return tx.OpenSpan(ctx, s)
		}
		if err := span(acme.ID, "vm", "vm-web", "compute", at(10, 9, 0), func(s *store.UsageSpan) {
			s.VCPU, s.MemoryMiB, s.PowerOnID = 2, 2048, "p1"
		}); err != nil {
			return err
		}
		if err := span(acme.ID, "disk", "disk-web", "disk", at(1, 0, 0), func(s *store.UsageSpan) { s.SizeGiB, s.Class = 10, "standard" }); err != nil {
			return err
		}
		if err := span(acme.ID, "public_ip", "ip-1", "public_ip", at(10, 10, 30), nil); err != nil {
			return err
		}
		if _, err := tx.CloseSpan(ctx, "ip-1", "public_ip", at(10, 11, 0)); err != nil {
			return err
		}
		// globex runs a bigger VM: none of it may show in acme's figures.
		return span(globex.ID, "vm", "vm-g", "compute", at(9, 0, 0), func(s *store.UsageSpan) {
			s.VCPU, s.MemoryMiB, s.PowerOnID = 8, 16384, "p2"
		})
	})
	if err != nil {
		t.Fatalf("report fixture: %v", err)
	}
	return acme, globex, acmeAdmin, globexAdmin
}

func TestForecast(t *testing.T) {
	forEachEngineWith(t, func(t *testing.T, engine string) {
		clk := &clock{now: time.Date(2026, 4, 10, 12, 0, 0, 0, time.UTC)}
		e := newEnvFor(t, engine, Config{Now: clk.Now})
		acme, _, _, globexAdmin := reportFixture(t, e)
		viewer := e.token(e.user("viewer@acme.test", store.RoleBinding{OrgID: acme.ID, Role: api.RoleOrgViewer}), acme.ID, api.RoleOrgViewer)

		var f api.Forecast
		e.do("GET", "/api/v1/orgs/acme/forecast", viewer, nil).must(t, http.StatusOK).decode(t, &f)
		// So far: the April line 1.25, then 10:00-12:00 unrated: the VM
		// 2 h × (2 × 0.02 + 2 × 0.005) = 0.1, the disk 2 h × 10 × 0.0002 =
		// 0.004, the IP 0.5 h × 0.005 = 0.0025. Per hour: 0.05 + 0.002.
		// April has 30 days: 492 h left after noon on the 10th, 492 × 0.052 = 25.584.
		want := api.Forecast{Currency: "USD", SoFar: "1.3565", SoFarDisplay: "1.36", PerHour: "0.052", PerHourDisplay: "0.05",
			HoursLeft: "492", Rest: "25.584", RestDisplay: "25.58", MonthEnd: "26.9405", MonthEndDisplay: "26.94"}
		got := f
		got.PeriodStart, got.PeriodEnd, got.AsOf = time.Time{}, time.Time{}, time.Time{}
		if got != want {
			t.Errorf("forecast\n got %+v\nwant %+v", got, want)
		}
		if !f.PeriodStart.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)) || !f.PeriodEnd.Equal(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("period %s - %s", f.PeriodStart, f.PeriodEnd)
		}

		// Stopping the VM leaves the disk: the rate falls to 0.002 an hour.
		err := e.store.Tx(context.Background(), func(tx *store.Tx) error {
			_, err := tx.CloseSpan(context.Background(), "vm-web", "compute", clk.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		e.do("GET", "/api/v1/orgs/acme/forecast", viewer, nil).must(t, http.StatusOK).decode(t, &f)
		if f.PerHour != "0.002" || f.SoFar != "1.3565" || f.MonthEnd != "2.3405" {
			t.Errorf("after the VM stopped: per hour %s, so far %s, month end %s", f.PerHour, f.SoFar, f.MonthEnd)
		}

		// Another tenant's forecast does not exist for globex.
		e.do("GET", "/api/v1/orgs/acme/forecast", globexAdmin, nil).must(t, http.StatusNotFound)
		e.do("GET", "/api/v1/orgs/"+acme.ID+"/forecast", globexAdmin, nil).must(t, http.StatusNotFound)
	})
}

func TestRevenue(t *testing.T) {
	forEachEngineWith(t, func(t *testing.T, engine string) {
		clk := &clock{now: time.Date(2026, 4, 10, 12, 0, 0, 0, time.UTC)}
		e := newEnvFor(t, engine, Config{Now: clk.Now})
		acme, globex, acmeAdmin, _ := reportFixture(t, e)
		admin := e.providerAdmin()
		ctx := context.Background()

		// March: acme's invoice (5.00) is finalized, globex's still a
		// draft; in April a credit note of 1.00 corrects acme's invoice and
		// credit is granted.
		err := e.store.Tx(ctx, func(tx *store.Tx) error {
			march := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			inv := &store.Invoice{OrgID: acme.ID, Kind: store.InvoiceKindInvoice, PeriodStart: march, PeriodEnd: march.AddDate(0, 1, 0),
				State: store.InvoiceDraft, Currency: "USD", Subtotal: "5.00", Credits: "0", Total: "5.00"}
			if err := tx.CreateInvoice(ctx, inv); err != nil {
				return err
			}
			if _, err := tx.FinalizeInvoice(ctx, inv.ID); err != nil {
				return err
			}
			note := &store.Invoice{OrgID: acme.ID, Kind: store.InvoiceKindCreditNote, Corrects: inv.ID, PeriodStart: march,
				PeriodEnd: march.AddDate(0, 1, 0), State: store.InvoiceDraft, Currency: "USD", Subtotal: "1.00", Credits: "0", Total: "1.00"}
			if err := tx.CreateInvoice(ctx, note); err != nil {
				return err
			}
			if _, err := tx.FinalizeInvoice(ctx, note.ID); err != nil {
				return err
			}
			draft := &store.Invoice{OrgID: globex.ID, Kind: store.InvoiceKindInvoice, PeriodStart: march, PeriodEnd: march.AddDate(0, 1, 0),
				State: store.InvoiceDraft, Currency: "USD", Subtotal: "9.00", Credits: "0", Total: "9.00"}
			if err := tx.CreateInvoice(ctx, draft); err != nil {
				return err
			}
			prov, err := tx.GetProvider(ctx)
			if err != nil {
				return err
			}
			prov.TrialAmount = "50"
			_, err = e.srv.creditLedger().GrantTrial(ctx, tx, globex.ID, "admin@globex.test", prov, clk.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range []api.CreditGrantCreate{
			{Kind: api.CreditPaid, Amount: "20", Reason: "bank transfer"},
			{Kind: api.CreditPromo, Amount: "3.5", Reason: "launch offer"},
		} {
			e.do("POST", "/api/v1/orgs/acme/credits", admin, g).must(t, http.StatusCreated)
		}

		var r api.Revenue
		e.do("GET", "/api/v1/provider/revenue?from=2026-02&to=2026-04", admin, nil).must(t, http.StatusOK).decode(t, &r)
		zero := api.RevenueMonth{Month: "2026-02", Invoiced: "0", CreditNotes: "0", CreditsTrial: "0", CreditsPromo: "0", CreditsPaid: "0",
			Usage: "0", UsageDisplay: "0.00"}
		want := []api.RevenueMonth{zero,
			{Month: "2026-03", Invoiced: "5", Invoices: 1, CreditNotes: "0", CreditsTrial: "0", CreditsPromo: "0", CreditsPaid: "0",
				Usage: "5", UsageDisplay: "5.00"},
			{Month: "2026-04", Invoiced: "0", CreditNotes: "1", CreditsTrial: "50", CreditsPromo: "3.5", CreditsPaid: "20",
				Usage: "3.75", UsageDisplay: "3.75"},
		}
		if r.Currency != "USD" || r.From != "2026-02" || r.To != "2026-04" || len(r.Months) != len(want) {
			t.Fatalf("revenue %+v", r)
		}
		for i := range want {
			if r.Months[i] != want[i] {
				t.Errorf("month %d\n got %+v\nwant %+v", i, r.Months[i], want[i])
			}
		}
		if len(r.Tenants) != 2 || r.Tenants[0].Name != "acme" || r.Tenants[0].Usage != "6.25" ||
			r.Tenants[1].Name != "globex" || r.Tenants[1].Usage != "2.5" {
			t.Errorf("top tenants %+v", r.Tenants)
		}

		// Defaults: the twelve months up to this one.
		e.do("GET", "/api/v1/provider/revenue", admin, nil).must(t, http.StatusOK).decode(t, &r)
		if r.From != "2025-05" || r.To != "2026-04" || len(r.Months) != 12 {
			t.Errorf("default range %s..%s, %d months", r.From, r.To, len(r.Months))
		}
		for _, q := range []string{"from=2026-05&to=2026-04", "from=2020-01&to=2026-04", "to=2026-13"} {
			e.do("GET", "/api/v1/provider/revenue?"+q, admin, nil).must(t, http.StatusBadRequest)
		}

		// Tenants never see it.
		if p := e.do("GET", "/api/v1/provider/revenue", acmeAdmin, nil).must(t, http.StatusForbidden).problem(t); p.Code != api.CodeForbidden {
			t.Errorf("tenant reading revenue: %+v", p)
		}
	})
}
