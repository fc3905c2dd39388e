package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
	"github.com/sirocco-cloud/sirocco/internal/billing/ledger"
	"github.com/sirocco-cloud/sirocco/internal/billing/rater"
	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// billUsage gives org rated usage in the last three days of last month, the
// way the cloud makes it: closed usage spans (a public IP held, a disk
// allocated) in a VDC it makes, rated by the rating loop. It returns that
// month and the days with usage.
func billUsage(t *testing.T, e *env, b *browser, org string) (time.Time, []time.Time) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	last := month.AddDate(0, 1, -1)
	days := []time.Time{last.AddDate(0, 0, -2), last.AddDate(0, 0, -1), last}
	vdc, err := b.sdk().GetVDC(ctx, org, "default")
	if err != nil {
		t.Fatalf("the VDC made at sign-up: %v", err)
	}
	err = e.Store.Tx(ctx, func(tx *store.Tx) error {
		span := func(id, kind, meter string, size int64, from, to time.Time) error {
			s := &store.UsageSpan{OrgID: org, VDCID: vdc.ID, RegionID: "au-syd", Model: "payg", ResourceKind: kind,
				ResourceID: id, ResourceName: id, Meter: meter, SizeGiB: size, Class: "standard", StartedAt: from, Source: "api"}
			if err := tx.OpenSpan(ctx, s); err != nil {
				return err
			}
			_, err := tx.CloseSpan(ctx, id, meter, to)
			return err
		}
		// A public IP held 2.5 h on the first day, a disk of 20 GiB from
		// the second day's noon to the last day's 01:00.
		if err := span("ip-demo", "public_ip", rating.SpanPublicIP, 0, days[0].Add(10*time.Hour), days[0].Add(12*time.Hour+30*time.Minute)); err != nil {
			return err
		}
		return span("disk-demo", "disk", rating.SpanDisk, 20, days[1].Add(12*time.Hour), days[2].Add(time.Hour))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&rater.Rater{Store: e.Store}).RunOnce(ctx, now); err != nil {
		t.Fatal(err)
	}
	return month, days
}

// billAPIGet decodes a GET of the API with the browser's session cookie.
func billAPIGet(t *testing.T, b *browser, path string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.e.URL+path, nil)
	p := b.do(req)
	if p.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, p.Status, p.Body)
	}
	if err := json.Unmarshal([]byte(p.Body), out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func TestUsageEmptyMonth(t *testing.T) {
	e := newEnv(t)
	b, org := e.signup("dev@kiwi.test", "kiwi")
	p := b.get("/console/o/" + org + "/usage")
	if p.Status != http.StatusOK {
		t.Fatalf("usage page: %d\n%s", p.Status, p.Body)
	}
	mustContain(t, p, "No usage in "+time.Now().UTC().Format("January 2006"), `aria-current="page">Usage`, "Download CSV")
	if strings.Contains(p.Body, `class="bar"`) {
		t.Error("an empty month draws bars")
	}
	if p := b.get("/console/o/" + org + "/usage?month=November"); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "YYYY-MM") {
		t.Errorf("month=November: %d, want 400 saying YYYY-MM\n%s", p.Status, p.Body)
	}
}

func TestUsageChartAndTableMatchTheAPI(t *testing.T) {
	e := newEnv(t)
	b, org := e.signup("dev@kiwi.test", "kiwi")
	month, days := billUsage(t, e, b, org)

	p := b.get("/console/o/" + org + "/usage?month=" + month.Format("2006-01"))
	if p.Status != http.StatusOK {
		t.Fatalf("usage page: %d\n%s", p.Status, p.Body)
	}
	if got := strings.Count(p.Body, `class="bar"`); got != len(days) {
		t.Errorf("the chart has %d bars, want one per day with usage (%d)", got, len(days))
	}
	mustContain(t, p, "<svg", "<title id=\"usage-chart-title\">", "<desc id=\"usage-chart-desc\">", "ip-demo", "disk-demo")
	for _, d := range days {
		mustContain(t, p, d.Format("Mon 2 Jan 2006"))
	}

	// The table's total is the API's, exactly.
	q := url.Values{"from": {month.Format(time.RFC3339)}, "to": {month.AddDate(0, 1, 0).Format(time.RFC3339)}}
	var u api.Usage
	billAPIGet(t, b, "/api/v1/orgs/"+org+"/usage?"+q.Encode(), &u)
	total := decimal.Zero
	for _, r := range u.Items {
		total = total.Add(decimal.RequireFromString(r.Amount))
	}
	if !total.IsPositive() {
		t.Fatalf("the API shows no usage: %+v", u)
	}
	mustContain(t, p, "Total (exact "+total.String()+" AUD)", total.Round(2).StringFixed(2)+" AUD")

	// The CSV link is the API's, and the session cookie opens it.
	link := regexp.MustCompile(`href="(/api/v1/orgs/[^"]+/usage\.csv\?[^"]+)"`).FindStringSubmatch(p.Body)
	if link == nil {
		t.Fatal("no CSV link on the usage page")
	}
	req, _ := http.NewRequest(http.MethodGet, e.URL+strings.ReplaceAll(link[1], "&amp;", "&"), nil)
	if csv := b.do(req); csv.Status != http.StatusOK || !strings.Contains(csv.Body, "ip-demo") {
		t.Errorf("CSV link: %d\n%s", csv.Status, csv.Body)
	}

	// The month with no usage next to it shows nothing.
	if p := b.get("/console/o/" + org + "/usage?month=" + month.AddDate(0, -1, 0).Format("2006-01")); strings.Contains(p.Body, `class="bar"`) {
		t.Error("the month before has bars")
	}
}

func TestBudgets(t *testing.T) {
	e := newEnv(t)
	b, org := e.signup("dev@kiwi.test", "kiwi")
	base := "/console/o/" + org + "/budgets"

	p := b.get(base)
	mustContain(t, p, "No budget yet.", `<label for="amount">`, `value="50, 80, 100"`)

	p = b.post(base, url.Values{"name": {"monthly"}, "amount": {"lots"}, "thresholds": {"50, 80, 100"}})
	if p.Status < 400 {
		t.Fatalf("a budget of 'lots': status %d", p.Status)
	}
	mustContain(t, p, `role="alert"`, `value="lots"`)
	if !regexp.MustCompile(`(?s)id="amount"[^>]*>\s*<span class="field-error"`).MatchString(p.Body) {
		t.Errorf("no error next to the amount field:\n%s", p.Body)
	}
	p = b.post(base, url.Values{"name": {"monthly"}, "amount": {"20"}, "thresholds": {"fifty"}})
	if p.Status < 400 || !regexp.MustCompile(`(?s)id="thresholds"[^>]*>\s*<span class="field-error"`).MatchString(p.Body) {
		t.Errorf("thresholds 'fifty': status %d, want an error next to the field:\n%s", p.Status, p.Body)
	}

	p = b.post(base, url.Values{"name": {"monthly"}, "amount": {"25.50"}, "thresholds": {"50, 80, 100"}, "emails": {"alerts@kiwi.test"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("create a budget: %d\n%s", p.Status, p.Body)
	}
	p = b.get(base)
	mustContain(t, p, "Budget monthly created.", "<td>monthly</td>", "25.50 AUD", "50 %, 80 %, 100 %", "Whole organisation")

	p = b.post(base+"/monthly/amount", url.Values{"amount": {"40"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("change the amount: %d\n%s", p.Status, p.Body)
	}
	mustContain(t, b.get(base), "40.00 AUD")
	if p := b.post(base+"/monthly/amount", url.Values{"amount": {"-3"}}); p.Status < 400 || !strings.Contains(p.Body, `role="alert"`) {
		t.Errorf("amount -3: %d, want the API's error", p.Status)
	}

	// A viewer sees the budget but no form or button.
	e.User("viewer@kiwi.test", store.RoleBinding{OrgID: org, Role: api.RoleOrgViewer})
	viewer := e.browser()
	viewer.login("viewer@kiwi.test")
	p = viewer.get(base)
	mustContain(t, p, "<td>monthly</td>")
	if strings.Contains(p.Body, "Create the budget") || strings.Contains(p.Body, "Delete") {
		t.Errorf("a viewer gets the budget forms:\n%s", p.Body)
	}
	if p := viewer.post(base+"/monthly/delete", nil); p.Status != http.StatusForbidden {
		t.Errorf("a viewer deletes a budget: %d", p.Status)
	}

	if p := b.post(base+"/monthly/delete", nil); p.Status != http.StatusSeeOther {
		t.Fatalf("delete: %d\n%s", p.Status, p.Body)
	}
	p = b.get(base)
	mustContain(t, p, "Budget monthly deleted.", "No budget yet.")
}

func TestInvoicesAndIsolation(t *testing.T) {
	e := newEnv(t)
	b, org := e.signup("dev@kiwi.test", "kiwi")
	other, otherOrg := e.signup("dev@weka.test", "weka")
	month, _ := billUsage(t, e, b, org)
	ctx := context.Background()
	if err := (&ledger.Ledger{Store: e.Store}).PostUsage(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(e.URL, client.WithToken(e.ProviderAdmin()))
	if err != nil {
		t.Fatal(err)
	}
	run, err := admin.RunInvoices(ctx, month.Format("2006-01"))
	if err != nil || len(run.Errors) > 0 {
		t.Fatalf("run invoices: %v %v", err, run)
	}
	var inv *api.Invoice
	for i := range run.Invoices {
		if run.Invoices[i].Org == org {
			inv = &run.Invoices[i]
		}
	}
	if inv == nil || inv.Number == nil {
		t.Fatalf("no finalized invoice for the organisation in %+v", run.Invoices)
	}

	p := b.get("/console/o/" + org + "/invoices")
	mustContain(t, p, "/console/o/"+org+"/invoices/"+inv.ID, month.Format("January 2006"), inv.State)
	p = b.get("/console/o/" + org + "/invoices/" + inv.ID)
	if p.Status != http.StatusOK {
		t.Fatalf("invoice page: %d\n%s", p.Status, p.Body)
	}
	pdf := "/api/v1/orgs/" + org + "/invoices/" + inv.ID + "/pdf"
	mustContain(t, p, `href="`+pdf+`"`, `href="/api/v1/orgs/`+org+`/invoices/`+inv.ID+`/csv"`, "Subtotal", billMoney(inv.Total))
	req, _ := http.NewRequest(http.MethodGet, e.URL+pdf, nil)
	if got := b.do(req); got.Status != http.StatusOK || got.Header.Get("Content-Type") != "application/pdf" {
		t.Errorf("PDF link: %d %s", got.Status, got.Header.Get("Content-Type"))
	}

	// Another tenant sees none of it, under either organisation.
	for _, path := range []string{"/console/o/" + org + "/invoices/" + inv.ID, "/console/o/" + otherOrg + "/invoices/" + inv.ID,
		"/console/o/" + org + "/invoices", "/console/o/" + org + "/usage"} {
		if p := other.get(path); p.Status != http.StatusNotFound {
			t.Errorf("another tenant gets %s: %d", path, p.Status)
		}
	}
	req, _ = http.NewRequest(http.MethodGet, e.URL+pdf, nil)
	if got := other.do(req); got.Status != http.StatusNotFound {
		t.Errorf("another tenant downloads the PDF: %d", got.Status)
	}
	mustContain(t, other.get("/console/o/"+otherOrg+"/invoices"), "No invoice yet")
}

func billMoney(amount string) string {
	return decimal.RequireFromString(amount).StringFixed(2) + " AUD"
}
