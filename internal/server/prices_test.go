package server

import (
	"net/http"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// priceFixture is a provider billing in AUD with regions au-syd and
// de-fra, sizes s1.small and s1.large, and tenant acme with a payg VDC
// "main" and a reservation VDC "reserved" in au-syd.
type priceFixture struct {
	e             *env
	admin, tenant string
	org           *store.Org
}

func newPriceFixture(t *testing.T, e *env) *priceFixture {
	t.Helper()
	// Until routes.go registers them (a second registration would panic).
	if e.srv.OpenAPI().Paths["/api/v1/price-plans"] == nil {
		e.srv.priceRoutes()
	}
	f := &priceFixture{e: e, admin: e.providerAdmin()}
	e.do("PATCH", "/api/v1/provider", f.admin, map[string]any{"currency": "AUD"}).must(t, http.StatusOK)
	for _, z := range []struct{ region, juris, zone string }{{"au-syd", "AU", "au-syd-1a"}, {"de-fra", "DE", "de-fra-1a"}} {
		e.do("POST", "/api/v1/regions", f.admin, api.RegionCreate{Name: z.region, Jurisdiction: z.juris}).must(t, http.StatusCreated)
		e.do("POST", "/api/v1/zones", f.admin, api.ZoneCreate{Name: z.zone, Region: z.region}).must(t, http.StatusCreated)
	}
	e.do("POST", "/api/v1/sizes", f.admin, api.SizeCreate{Name: "s1.small", VCPU: 2, MemoryMiB: 4096, DiskGiB: 20}).must(t, http.StatusCreated)
	f.org, f.tenant = e.tenant("acme", store.Residency{})
	e.do("POST", "/api/v1/orgs/acme/vdcs", f.tenant, api.VDCCreate{Name: "main", Zone: "au-syd-1a"}).must(t, http.StatusCreated)
	e.do("POST", "/api/v1/orgs/acme/vdcs", f.tenant, api.VDCCreate{Name: "reserved", Zone: "au-syd-1a",
		AllocationModel: api.AllocationReservation}).must(t, http.StatusCreated)
	return f
}

// sydneyRates: A$0.012 per vCPU-hour, 0.004 per GiB-hour of memory,
// 0.0002 per GiB-hour of standard disk, 0.005 per public IP-hour.
var sydneyRates = api.PriceRates{VCPUHour: "0.012", MemoryGiBHour: "0.004", DiskGiBHour: map[string]string{"standard": "0.0002", "ssd": "0.0005"},
	PublicIPHour: "0.005", SnapshotGiBHour: "0.0001", ReservationVCPUMonth: "6", ReservationMemoryGiBMonth: "2"}

func (f *priceFixture) plan(t *testing.T, c api.PricePlanCreate) api.PricePlan {
	t.Helper()
	var p api.PricePlan
	f.e.do("POST", "/api/v1/price-plans", f.admin, c).must(t, http.StatusCreated).decode(t, &p)
	return p
}

func TestPricePlansArePublicAndNeverRewritten(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		f := newPriceFixture(t, e)
		now := f.plan(t, api.PricePlanCreate{Region: "au-syd", Rates: sydneyRates, Description: "launch prices"})
		if !now.InForce || now.Currency != "AUD" || now.AllocationModel != "payg" || now.Rates.VCPUHour != "0.012" ||
			now.Rates.DiskGiBHour["ssd"] != "0.0005" || now.Rates.EgressGiB != "0" {
			t.Fatalf("created plan %+v", now)
		}
		later := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
		cheaper := sydneyRates
		cheaper.VCPUHour = "0.010"
		next := f.plan(t, api.PricePlanCreate{Region: "au-syd", EffectiveFrom: &later, Rates: cheaper})
		if next.InForce || !next.EffectiveFrom.Equal(later) {
			t.Fatalf("announced plan %+v, want not in force, from %s", next, later)
		}

		// Prices are public: a tenant reads them, in force or announced.
		var list api.List[api.PricePlan]
		e.do("GET", "/api/v1/price-plans?region=au-syd", f.tenant, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 2 || list.Items[0].ID != now.ID || !list.Items[0].InForce || list.Items[1].InForce {
			t.Fatalf("tenant's list %+v, want the plan in force then the announced one", list.Items)
		}
		var got api.PricePlan
		e.do("GET", "/api/v1/price-plans/"+now.ID, f.tenant, nil).must(t, http.StatusOK).decode(t, &got)
		if got.Rates.MemoryGiBHour != "0.004" || !got.InForce {
			t.Fatalf("tenant's read %+v", got)
		}
		e.do("GET", "/api/v1/price-plans", "", nil).must(t, http.StatusUnauthorized)

		for _, c := range []struct {
			name   string
			token  string
			body   any
			status int
		}{
			{"by a tenant", f.tenant, api.PricePlanCreate{Region: "de-fra", Rates: sydneyRates}, http.StatusForbidden},
			{"in another currency", f.admin, api.PricePlanCreate{Region: "de-fra", Currency: "EUR", Rates: sydneyRates}, http.StatusUnprocessableEntity},
			{"for no region", f.admin, api.PricePlanCreate{Region: "mars", Rates: sydneyRates}, http.StatusUnprocessableEntity},
			{"backdated", f.admin, map[string]any{"region": "de-fra", "effective_from": "2020-01-01T00:00:00Z", "rates": sydneyRates}, http.StatusUnprocessableEntity},
			{"negative", f.admin, map[string]any{"region": "de-fra", "rates": map[string]string{"vcpu_hour": "-1"}}, http.StatusUnprocessableEntity},
			{"misspelt rate", f.admin, map[string]any{"region": "de-fra", "rates": map[string]string{"vcpu_hours": "1"}}, http.StatusUnprocessableEntity},
			{"guarantee above 100 %", f.admin, map[string]any{"region": "de-fra", "rates": map[string]string{"allocation_guarantee_percent": "150"}}, http.StatusUnprocessableEntity},
			{"same region, model and date", f.admin, api.PricePlanCreate{Region: "au-syd", EffectiveFrom: &later, Rates: sydneyRates}, http.StatusConflict},
		} {
			if r := e.do("POST", "/api/v1/price-plans", c.token, c.body); r.Status != c.status {
				t.Errorf("create %s: status %d, want %d: %s", c.name, r.Status, c.status, r.Body)
			}
		}

		// A plan in force rated usage: it stays. An announced one may go.
		if p := e.do("DELETE", "/api/v1/price-plans/"+now.ID, f.admin, nil).must(t, http.StatusConflict).problem(t); p.Code != api.CodeConflict {
			t.Fatalf("delete in force: %+v", p)
		}
		e.do("DELETE", "/api/v1/price-plans/"+next.ID, f.tenant, nil).must(t, http.StatusForbidden)
		e.do("DELETE", "/api/v1/price-plans/"+next.ID, f.admin, nil).must(t, http.StatusNoContent)
		e.do("GET", "/api/v1/price-plans/"+next.ID, f.tenant, nil).must(t, http.StatusNotFound)
	})
}

func TestQuoteMatchesHandComputation(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		f := newPriceFixture(t, e)
		plan := f.plan(t, api.PricePlanCreate{Region: "au-syd", Rates: sydneyRates})
		f.plan(t, api.PricePlanCreate{Region: "au-syd", AllocationModel: api.AllocationReservation, Rates: sydneyRates})
		quote := func(token string, req api.QuoteRequest) api.Quote {
			t.Helper()
			var q api.Quote
			e.do("POST", "/api/v1/orgs/acme/quote", token, req).must(t, http.StatusOK).decode(t, &q)
			return q
		}
		// s1.small: 2 × 0.012 + 4 GiB × 0.004 + 20 GiB × 0.0002, plus an
		// IP at 0.005 = A$0.049 an hour; × 730 = A$35.77 a month.
		q := quote(f.tenant, api.QuoteRequest{VDC: "main", Size: "s1.small", PublicIPs: 1})
		if q.PerHour != "0.049" || q.PerMonth != "35.77" || q.PerMonthDisplay != "35.77" || q.Currency != "AUD" ||
			q.Plan != plan.ID || q.HoursPerMonth != 730 || q.AllocationModel != "payg" || q.Region != "au-syd" {
			t.Fatalf("quote %+v, want A$0.049 an hour, A$35.77 a month", q)
		}
		want := []api.QuoteLine{
			{Meter: "vcpu", Quantity: "2", UnitPrice: "0.012", PerHour: "0.024"},
			{Meter: "memory", Quantity: "4", UnitPrice: "0.004", PerHour: "0.016"},
			{Meter: "disk", Quantity: "20", UnitPrice: "0.0002", PerHour: "0.004"},
			{Meter: "public_ip", Quantity: "1", UnitPrice: "0.005", PerHour: "0.005"},
		}
		if len(q.Lines) != len(want) {
			t.Fatalf("lines %+v, want %+v", q.Lines, want)
		}
		for i := range want {
			if q.Lines[i] != want[i] {
				t.Errorf("line %d: %+v, want %+v", i, q.Lines[i], want[i])
			}
		}
		// Explicit figures win over the size; a lone SSD disk.
		vcpu, disk := 0, int64(100)
		mem := int64(0)
		if q := quote(f.tenant, api.QuoteRequest{VDC: "main", VCPU: &vcpu, MemoryMiB: &mem, DiskGiB: &disk, DiskClass: "ssd"}); q.PerHour != "0.05" || len(q.Lines) != 1 {
			t.Fatalf("100 GiB SSD: %+v, want A$0.05 an hour on one line", q)
		}
		// In a reservation VDC compute is paid for by the reservation.
		if q := quote(f.tenant, api.QuoteRequest{VDC: "reserved", Size: "s1.small"}); q.PerHour != "0.004" || q.Note == "" || len(q.Lines) != 1 {
			t.Fatalf("reservation VDC: %+v, want only the disk's A$0.004 with a note", q)
		}

		// Negotiated prices: vCPUs at 0.010, then 10 % off everything.
		var ov api.PriceOverride
		e.do("POST", "/api/v1/orgs/acme/price-overrides", f.tenant, api.PriceOverrideCreate{DiscountPercent: "10"}).must(t, http.StatusForbidden)
		e.do("POST", "/api/v1/orgs/acme/price-overrides", f.admin, api.PriceOverrideCreate{DiscountPercent: "10",
			Rates: api.PriceOverrideRates{VCPUHour: "0.010"}, Note: "annual deal"}).must(t, http.StatusCreated).decode(t, &ov)
		q = quote(f.tenant, api.QuoteRequest{VDC: "main", Size: "s1.small", PublicIPs: 1})
		// (2 × 0.010 + 0.016 + 0.004 + 0.005) × 0.9 = 0.0405
		if q.PerHour != "0.0405" || q.PerMonth != "29.565" || q.PerMonthDisplay != "29.57" || q.DiscountPercent != "10" || q.Lines[0].UnitPrice != "0.009" {
			t.Fatalf("quote with the override %+v, want A$0.0405 an hour, A$29.57 a month", q)
		}
		var ovs api.List[api.PriceOverride]
		e.do("GET", "/api/v1/orgs/acme/price-overrides", f.tenant, nil).must(t, http.StatusForbidden)
		e.do("GET", "/api/v1/orgs/acme/price-overrides", f.admin, nil).must(t, http.StatusOK).decode(t, &ovs)
		if len(ovs.Items) != 1 || !ovs.Items[0].InForce || ovs.Items[0].Rates.VCPUHour != "0.01" || ovs.Items[0].DiscountPercent != "10" {
			t.Fatalf("overrides %+v", ovs.Items)
		}
		e.do("DELETE", "/api/v1/orgs/acme/price-overrides/"+ov.ID, f.admin, nil).must(t, http.StatusConflict)
		later := time.Now().Add(24 * time.Hour)
		var future api.PriceOverride
		e.do("POST", "/api/v1/orgs/acme/price-overrides", f.admin, api.PriceOverrideCreate{EffectiveFrom: &later}).
			must(t, http.StatusCreated).decode(t, &future)
		e.do("DELETE", "/api/v1/orgs/acme/price-overrides/"+future.ID, f.admin, nil).must(t, http.StatusNoContent)

		// Nothing priced in Frankfurt yet; another tenant cannot quote
		// for acme; a VDC must be named when there are several.
		e.do("POST", "/api/v1/orgs/acme/vdcs", f.tenant, api.VDCCreate{Name: "fra", Zone: "de-fra-1a"}).must(t, http.StatusCreated)
		if p := e.do("POST", "/api/v1/orgs/acme/quote", f.tenant, api.QuoteRequest{VDC: "fra", Size: "s1.small"}).must(t, http.StatusConflict).problem(t); p.Code != api.CodeConflict {
			t.Fatalf("unpriced region: %+v", p)
		}
		_, other := e.tenant("other", store.Residency{})
		e.do("POST", "/api/v1/orgs/acme/quote", other, api.QuoteRequest{VDC: "main", Size: "s1.small"}).must(t, http.StatusNotFound)
		e.do("POST", "/api/v1/orgs/acme/quote", f.tenant, api.QuoteRequest{Size: "s1.small"}).must(t, http.StatusUnprocessableEntity)
		e.do("POST", "/api/v1/orgs/acme/quote", f.tenant, api.QuoteRequest{VDC: "main", Size: "s9.huge"}).must(t, http.StatusUnprocessableEntity)
	})
}
