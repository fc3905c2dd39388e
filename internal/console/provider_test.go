package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// provPages are every provider console page, with something each must show
// for the provider fixture below.
func provPages(org string) map[string][]string {
	return map[string][]string{
		"/console/provider/":                     {"Provider overview", `aria-current="page">Overview`, "VMs running"},
		"/console/provider/hosts":                {"hv1", "au-syd-1a", "Add a host"},
		"/console/provider/regions":              {"au-syd", ">AU<", "New zone"},
		"/console/provider/images":               {"testguest", "Import an image from a URL"},
		"/console/provider/sizes":                {"s1.small", "New size"},
		"/console/provider/prices":               {"payg", "New price plan", "in force"},
		"/console/provider/tenants":              {"acme", "51.00 AUD"},
		"/console/provider/tenants/" + org:       {"ann@example.com", "main", "Grant credit", "Suspend"},
		"/console/provider/revenue":              {"Usage rated", "Top tenants by usage"},
		"/console/provider/revenue?from=2026-01": {"2026-01"},
		"/console/provider/audit":                {"credit.grant", "Filter"},
		"/console/provider/branding":             {"Save branding", `type="color"`},
	}
}

// TestProviderPagesRender: a provider admin sees every page of the
// provider console, with every host, tenant and invoice; a tenant gets 403.
func TestProviderPagesRender(t *testing.T) {
	e := newEnv(t)
	e.computeCloud()
	ann, org := e.signup("ann@example.com", "acme")
	admin := e.providerAdmin()
	// A finalized invoice of the tenant's, for the tenant page.
	ctx := context.Background()
	err := e.Store.Tx(ctx, func(tx *store.Tx) error {
		month := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		inv := &store.Invoice{OrgID: org, Kind: store.InvoiceKindInvoice, PeriodStart: month, PeriodEnd: month.AddDate(0, 1, 0),
			State: store.InvoiceDraft, Currency: "AUD", Subtotal: "12.34", Credits: "0", Total: "12.34"}
		if err := tx.CreateInvoice(ctx, inv); err != nil {
			return err
		}
		_, err := tx.FinalizeInvoice(ctx, inv.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Something in the audit log.
	if p := admin.post("/console/provider/tenants/"+org+"/credit", url.Values{"amount": {"1"}, "kind": {"promo"}, "reason": {"welcome"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("grant: %d\n%s", p.Status, p.Body)
	}

	for path, want := range provPages(org) {
		p := admin.get(path)
		if p.Status != http.StatusOK {
			t.Errorf("%s: status %d\n%s", path, p.Status, p.Body)
			continue
		}
		mustContain(t, p, want...)
	}
	mustContain(t, admin.get("/console/provider/tenants/"+org), "January 2026", "12.34 AUD", "finalized")

	for path := range provPages(org) {
		if p := ann.get(path); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "needs a provider role") {
			t.Errorf("tenant on %s: status %d, want 403 saying why", path, p.Status)
		}
	}
	for _, path := range []string{"/console/provider/tenants/" + org + "/credit", "/console/provider/hosts", "/console/provider/branding"} {
		if p := ann.post(path, url.Values{"amount": {"100"}, "kind": {"paid"}, "reason": {"me"}, "name": {"x"}}); p.Status != http.StatusForbidden {
			t.Errorf("tenant posting %s: status %d, want 403", path, p.Status)
		}
	}
}

// TestProviderHosts: adding a host shows its join command; draining and
// making it ready change its state.
func TestProviderHosts(t *testing.T) {
	e := newEnv(t)
	e.computeCloud()
	admin := e.providerAdmin()

	// This test server speaks plain HTTP, so the API hands out no join
	// token: the host is registered and the page says why there is no
	// command.
	p := admin.post("/console/provider/hosts", url.Values{"name": {"hv2"}, "zone": {"au-syd-1a"}})
	if p.Status != http.StatusConflict {
		t.Fatalf("add host: %d\n%s", p.Status, p.Body)
	}
	mustContain(t, p, "Host hv2 registered.", "Join host hv2", `role="alert"`, "agents join only over TLS")
	mustContain(t, admin.get("/console/provider/hosts"), "hv2", ">pending</span>", "Join command")

	p = admin.post("/console/provider/hosts", url.Values{"name": {"Bad Name"}, "zone": {"au-syd-1a"}})
	if p.Status < 400 {
		t.Fatalf("a bad host name: %d", p.Status)
	}
	mustContain(t, p, `role="alert"`, `value="Bad Name"`)

	p = admin.post("/console/provider/hosts/hv1/state", url.Values{"state": {"draining"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("drain: %d\n%s", p.Status, p.Body)
	}
	mustContain(t, admin.get("/console/provider/hosts"), ">draining</span>", "Make ready")
	admin.post("/console/provider/hosts/hv1/state", url.Values{"state": {"ready"}})
	mustContain(t, admin.get("/console/provider/hosts"), ">ready</span>", "Drain")
}

// TestProviderCatalogForms: regions, zones, sizes and price plans are made
// from their forms; the API's errors show next to the fields.
func TestProviderCatalogForms(t *testing.T) {
	e := newEnv(t)
	admin := e.providerAdmin()

	if p := admin.post("/console/provider/regions", url.Values{"name": {"de-fra"}, "jurisdiction": {"de"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("create region: %d\n%s", p.Status, p.Body)
	}
	if p := admin.post("/console/provider/zones", url.Values{"region": {"de-fra"}, "zone_name": {"de-fra-1a"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("create zone: %d\n%s", p.Status, p.Body)
	}
	mustContain(t, admin.get("/console/provider/regions"), "de-fra", ">DE<", "de-fra-1a")
	p := admin.post("/console/provider/regions", url.Values{"name": {"x"}, "jurisdiction": {"Germany"}})
	if p.Status < 400 {
		t.Fatalf("bad region: %d", p.Status)
	}
	mustContain(t, p, `class="field-error"`)

	if p := admin.post("/console/provider/sizes", url.Values{"name": {"s9.huge"}, "vcpu": {"16"}, "memory_mib": {"65536"}, "disk_gib": {"200"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("create size: %d\n%s", p.Status, p.Body)
	}
	mustContain(t, admin.get("/console/provider/sizes"), "s9.huge", "64 GiB")
	if p := admin.post("/console/provider/sizes/s9.huge/delete", nil); p.Status != http.StatusSeeOther {
		t.Fatalf("delete size: %d\n%s", p.Status, p.Body)
	}
	mustLack(t, admin.get("/console/provider/sizes"), "<td>s9.huge")
	p = admin.post("/console/provider/sizes", url.Values{"name": {"s0"}, "vcpu": {"two"}, "memory_mib": {"1024"}, "disk_gib": {"1"}})
	mustContain(t, p, `class="field-error" role="alert">&#34;two&#34; is not a whole number`)

	p = admin.post("/console/provider/prices", url.Values{"region": {"de-fra"}, "allocation_model": {"payg"},
		"vcpu_hour": {"0.03"}, "memory_gib_hour": {"0.004"}, "disk_standard": {"0.0003"}, "public_ip_hour": {"0.006"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("create plan: %d\n%s", p.Status, p.Body)
	}
	mustContain(t, admin.get("/console/provider/prices"), "de-fra", "0.03", "0.0003")
	p = admin.post("/console/provider/prices", url.Values{"region": {"de-fra"}, "vcpu_hour": {"cheap"}})
	if p.Status < 400 {
		t.Fatalf("bad rate: %d", p.Status)
	}
	mustContain(t, p, `role="alert"`, `value="cheap"`)
}

// TestProviderGrantAndSuspend: credit granted through the form raises the
// tenant's balance by exactly its amount; suspending then reinstating
// changes the tenant's state.
func TestProviderGrantAndSuspend(t *testing.T) {
	e := newEnv(t)
	ann, org := e.signup("ann@example.com", "acme")
	admin := e.providerAdmin()

	before := apiGet[api.Balance](t, ann, "/api/v1/orgs/"+org+"/balance")
	p := admin.post("/console/provider/tenants/"+org+"/credit", url.Values{"amount": {"12.345678"}, "kind": {"paid"},
		"expires_days": {"90"}, "reason": {"bank transfer 77"}})
	if p.Status != http.StatusSeeOther || p.Location != "/console/provider/tenants/"+org {
		t.Fatalf("grant: %d %q\n%s", p.Status, p.Location, p.Body)
	}
	after := apiGet[api.Balance](t, ann, "/api/v1/orgs/"+org+"/balance")
	b0, _ := decimal.NewFromString(before.CreditRemaining)
	b1, _ := decimal.NewFromString(after.CreditRemaining)
	if got := b1.Sub(b0); !got.Equal(decimal.RequireFromString("12.345678")) {
		t.Errorf("credit rose by %s, want exactly 12.345678", got)
	}
	page := admin.get("/console/provider/tenants/" + org)
	mustContain(t, page, "Granted 12.35 AUD of paid credit.", "bank transfer 77")
	// The expiry is 90 days out.
	grants := apiGet[api.List[api.CreditGrant]](t, ann, "/api/v1/orgs/"+org+"/credits")
	var found bool
	for _, g := range grants.Items {
		if g.Kind == api.CreditPaid && g.ExpiresAt != nil && g.ExpiresAt.Sub(time.Now()) > 89*24*time.Hour {
			found = true
		}
	}
	if !found {
		t.Errorf("no paid grant expiring in 90 days: %+v", grants.Items)
	}

	// A bad amount is the API's message next to the field.
	p = admin.post("/console/provider/tenants/"+org+"/credit", url.Values{"amount": {"-5"}, "kind": {"paid"}, "reason": {"oops"}})
	if p.Status < 400 {
		t.Fatalf("negative credit: %d", p.Status)
	}
	mustContain(t, p, `class="field-error"`, `value="-5"`)

	p = admin.post("/console/provider/tenants/"+org+"/override", url.Values{"state": {"suspended"}, "override_reason": {"abuse report"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("suspend: %d\n%s", p.Status, p.Body)
	}
	if o := apiGet[api.Organisation](t, admin, "/api/v1/orgs/"+org); o.State != api.OrgSuspended {
		t.Errorf("after suspending, state %s", o.State)
	}
	mustContain(t, admin.get("/console/provider/tenants"), ">suspended</span>", "(pinned suspended)")

	p = admin.post("/console/provider/tenants/"+org+"/override", url.Values{"state": {""}, "override_reason": {"resolved"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("reinstate: %d\n%s", p.Status, p.Body)
	}
	if o := apiGet[api.Organisation](t, admin, "/api/v1/orgs/"+org); o.State != api.OrgActive {
		t.Errorf("after reinstating, state %s", o.State)
	}
	// Both are in the audit log, with the reason.
	mustContain(t, admin.get("/console/provider/audit?action=org.billing_override"), "abuse report", "resolved")
	mustLack(t, admin.get("/console/provider/audit?action=org.billing_override"), "bank transfer 77")
}

// TestProviderBranding: saved branding shows in the header and in
// /console/brand.css at once; a bad colour shows the API's error.
func TestProviderBranding(t *testing.T) {
	e := newEnv(t)
	admin := e.providerAdmin()
	form := url.Values{"display_name": {"Kookaburra Cloud"}, "primary_color": {"#123abc"}, "accent_color": {"#ff8800"},
		"support_email": {"help@kookaburra.test"}, "support_url": {"https://help.kookaburra.test"}}
	if p := admin.post("/console/provider/branding", form); p.Status != http.StatusSeeOther {
		t.Fatalf("save branding: %d\n%s", p.Status, p.Body)
	}
	anon := e.browser()
	mustContain(t, anon.get("/console/login"), "<span>Kookaburra Cloud</span>", "help@kookaburra.test")
	css := anon.get("/console/brand.css")
	mustContain(t, css, "--primary: #123abc;", "--accent: #ff8800;")
	mustContain(t, admin.get("/console/provider/branding"), `value="#123abc"`, "Kookaburra Cloud")

	form.Set("primary_color", "red")
	p := admin.post("/console/provider/branding", form)
	if p.Status < 400 {
		t.Fatalf("bad colour: %d", p.Status)
	}
	mustContain(t, p, `role="alert"`, `class="field-error"`)
	mustContain(t, anon.get("/console/brand.css"), "--primary: #123abc;")
}

// TestProviderRevenuePage: the month's usage shows in the table and as a
// bar of the chart.
func TestProviderRevenuePage(t *testing.T) {
	e := newEnv(t)
	_, org := e.signup("ann@example.com", "acme")
	admin := e.providerAdmin()
	ctx := context.Background()
	start := time.Date(2026, 2, 3, 4, 0, 0, 0, time.UTC)
	err := e.Store.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.InsertRatedLine(ctx, &store.RatedLine{ID: store.NewID(), OrgID: org, ResourceKind: "vm", ResourceID: "vm-1",
			Meter: "vcpu", WindowStart: start, WindowEnd: start.Add(time.Hour), Quantity: "1", Unit: "vcpu-hour",
			UnitPrice: "7.125", Amount: "7.125", Currency: "AUD", PlanID: "plan", InputHash: "h", RunID: "run"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p := admin.get("/console/provider/revenue?from=2026-01&to=2026-03")
	if p.Status != http.StatusOK {
		t.Fatalf("revenue: %d\n%s", p.Status, p.Body)
	}
	mustContain(t, p, "<th scope=\"row\">2026-02</th><td class=\"num\">7.13 AUD</td>", `<rect class="bar"`, "2026-02: 7.13 AUD",
		">acme</a></td><td class=\"num\">7.13 AUD", "Exact usage over the range: 7.125 AUD")
	mustLack(t, p, "style=", "<script>")
	if p := admin.get("/console/provider/revenue?from=2026-05&to=2026-01"); p.Status != http.StatusBadRequest {
		t.Errorf("backwards range: %d", p.Status)
	}
}
