package console_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/servertest"
)

func TestDashboard(t *testing.T) {
	e := newEnv(t)
	e.computeCloud()
	b, org := e.signup("ann@example.com", "acme")

	credits := apiGet[api.List[api.CreditGrant]](t, b, "/api/v1/orgs/"+org+"/credits")
	if len(credits.Items) != 1 || credits.Items[0].ExpiresAt == nil {
		t.Fatalf("after sign-up the organisation has credits %+v, want the trial", credits.Items)
	}
	expiry := credits.Items[0].ExpiresAt.UTC().Format("2 Jan 2006")

	p := b.get("/console/o/" + org + "/")
	if p.Status != http.StatusOK {
		t.Fatalf("dashboard: %d\n%s", p.Status, p.Body)
	}
	// The demo's A$50 trial, its expiry 30 days out, nothing spent or
	// forecast yet.
	mustContain(t, p, `aria-current="page">Dashboard`, "<h1>acme</h1>", "50.00 AUD", "50.00 AUD of trial credit expires on", expiry,
		">active</span>", "All good", "Launch your first VM",
		"Spent this month</div>\n    <div class=\"value\">0.00 AUD</div>",
		"Forecast for the month end</div>\n    <div class=\"value\">0.00 AUD</div>", "What exists now costs 0 AUD an hour.")
	mustLack(t, p, "Resend the link")

	// A VM shows in the counts, by state, with a link to the list.
	if p := b.post("/console/o/"+org+"/launch", launchForm("web1")); p.Status != http.StatusSeeOther {
		t.Fatalf("launch: %d\n%s", p.Status, p.Body)
	}
	vm := apiGet[api.VM](t, b, "/api/v1/orgs/"+org+"/vms/web1")
	p = b.get("/console/o/" + org + "/")
	mustContain(t, p, `href="/console/o/`+org+`/vms">Virtual machines</a></div>`, `<div class="value">1</div>`, "<li>1 <span class=\"badge", ">"+vm.State+"</span>")
	// What it costs from now on is the API's forecast, shown exact.
	fc := apiGet[api.Forecast](t, b, "/api/v1/orgs/"+org+"/forecast")
	if fc.PerHour == "0" {
		t.Errorf("the forecast prices nothing for a new VM: %+v", fc)
	}
	mustContain(t, p, "What exists now costs "+fc.PerHour+" AUD an hour.")
	mustLack(t, p, "Launch your first VM")

	// Another tenant cannot see it.
	other, _ := e.signup("bob@example.com", "beta")
	if p := other.get("/console/o/" + org + "/"); p.Status != http.StatusNotFound {
		t.Errorf("another tenant's dashboard: status %d, want 404", p.Status)
	}
}

func TestDashboardUnverified(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	p := b.post("/console/signup", url.Values{"email": {"ann@example.com"}, "password": {servertest.Password}, "org_name": {"acme"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("sign up: %d\n%s", p.Status, p.Body)
	}
	p = b.get("/console/")
	p = b.get(p.Location)
	if p.Status != http.StatusOK {
		t.Fatalf("dashboard: %d\n%s", p.Status, p.Body)
	}
	mustContain(t, p, "Confirm your e-mail address.", "ann@example.com", `action="/console/verify-email/resend"`, "Resend the link",
		`href="/console/mailbox"`)
}
