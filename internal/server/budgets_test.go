package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// billingNotifyRoutes registers the budget and webhook routes unless
// routes() already did, so these tests run before and after they are wired.
func (e *env) billingNotifyRoutes() {
	paths := e.srv.OpenAPI().Paths
	if _, ok := paths["/api/v1/orgs/{org}/budgets"]; !ok {
		e.srv.budgetRoutes()
	}
	if _, ok := paths["/api/v1/webhooks"]; !ok {
		e.srv.webhookRoutes()
	}
}

func TestBudgetsAPI(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		e.billingNotifyRoutes()
		admin := e.providerAdmin()
		e.do("POST", "/api/v1/regions", admin, api.RegionCreate{Name: "au-syd", Jurisdiction: "AU"}).must(t, http.StatusCreated)
		e.do("POST", "/api/v1/zones", admin, api.ZoneCreate{Name: "au-syd-1a", Region: "au-syd"}).must(t, http.StatusCreated)
		acme, acmeAdmin := e.tenant("acme", store.Residency{})
		_, otherAdmin := e.tenant("other", store.Residency{})
		var vdc api.VDC
		e.do("POST", "/api/v1/orgs/acme/vdcs", acmeAdmin, api.VDCCreate{Name: "main", Zone: "au-syd-1a"}).must(t, http.StatusCreated).decode(t, &vdc)

		// Defaults: the organisation as a whole, thresholds 50/80/100.
		var b api.Budget
		res := e.do("POST", "/api/v1/orgs/acme/budgets", acmeAdmin, api.BudgetCreate{Name: "monthly", Amount: "250.50",
			Emails: []string{"finance@acme.test"}}).must(t, http.StatusCreated)
		res.decode(t, &b)
		if b.Org != acme.ID || b.VDC != "" || b.Amount != "250.50" || b.Currency != "USD" || b.Spent != "0" ||
			fmt.Sprint(b.Thresholds) != "[50 80 100]" || res.Header.Get("Location") != "/api/v1/orgs/"+acme.ID+"/budgets/"+b.ID ||
			b.PeriodStart.Day() != 1 {
			t.Fatalf("created %+v", b)
		}
		// A VDC budget, naming the VDC by name.
		var vb api.Budget
		e.do("POST", "/api/v1/orgs/acme/budgets", acmeAdmin, api.BudgetCreate{Name: "prod", VDC: "main", Amount: "10", Thresholds: []int{100, 90}}).
			must(t, http.StatusCreated).decode(t, &vb)
		if vb.VDC != vdc.ID || fmt.Sprint(vb.Thresholds) != "[90 100]" || len(vb.Emails) != 0 {
			t.Errorf("VDC budget %+v", vb)
		}

		for _, tt := range []struct {
			name string
			body api.BudgetCreate
			want int
			says string
		}{
			{"duplicate name", api.BudgetCreate{Name: "monthly", Amount: "1"}, http.StatusConflict, "already has a budget named"},
			{"zero amount", api.BudgetCreate{Name: "zero", Amount: "0"}, http.StatusUnprocessableEntity, "greater than zero"},
			{"not a decimal", api.BudgetCreate{Name: "nan", Amount: "1e3"}, http.StatusUnprocessableEntity, "body.amount"},
			{"threshold out of range", api.BudgetCreate{Name: "fine", Amount: "1", Thresholds: []int{0}}, http.StatusUnprocessableEntity, "threshold 0%"},
			{"threshold twice", api.BudgetCreate{Name: "fine", Amount: "1", Thresholds: []int{80, 80}}, http.StatusUnprocessableEntity, "given twice"},
			{"bad e-mail", api.BudgetCreate{Name: "fine", Amount: "1", Emails: []string{"not-an-address"}}, http.StatusUnprocessableEntity, "not an e-mail address"},
			{"unknown VDC", api.BudgetCreate{Name: "fine", Amount: "1", VDC: "nowhere"}, http.StatusUnprocessableEntity, "no VDC"},
		} {
			got := e.do("POST", "/api/v1/orgs/acme/budgets", acmeAdmin, tt.body)
			if got.Status != tt.want || !strings.Contains(string(got.Body), tt.says) {
				t.Errorf("%s: %d, want %d saying %q: %s", tt.name, got.Status, tt.want, tt.says, got.Body)
			}
		}

		var list api.List[api.Budget]
		e.do("GET", "/api/v1/orgs/acme/budgets", acmeAdmin, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 2 || list.Items[0].Name != "monthly" || list.Items[1].Name != "prod" {
			t.Errorf("list %+v", list.Items)
		}

		// Spend is this month's rated lines, exact: the VDC's for a VDC
		// budget, all of them for the organisation's.
		window := monthStart(time.Now())
		for _, l := range []struct{ vdc, amount string }{{vdc.ID, "12.345678"}, {"", "1"}} {
			line := &store.RatedLine{ID: store.NewID(), OrgID: acme.ID, VDCID: l.vdc, ResourceKind: "vm", ResourceID: store.NewID(), Meter: "vcpu",
				WindowStart: window, WindowEnd: window.Add(time.Hour), Quantity: "1", Unit: "vcpu-hour", UnitPrice: l.amount, Amount: l.amount,
				Currency: "USD", PlanID: "plan", InputHash: "h", RunID: "run", CreatedAt: window}
			err := e.store.Tx(context.Background(), func(tx *store.Tx) error { _, err := tx.InsertRatedLine(context.Background(), line); return err })
			if err != nil {
				t.Fatal(err)
			}
		}
		for name, want := range map[string]string{"monthly": "13.345678", "prod": "12.345678"} {
			var got api.Budget
			e.do("GET", "/api/v1/orgs/acme/budgets/"+name, acmeAdmin, nil).must(t, http.StatusOK).decode(t, &got)
			if got.Spent != want {
				t.Errorf("%s spent %s, want %s", name, got.Spent, want)
			}
		}

		// Update with If-Match; a stale ETag is refused.
		got := e.do("GET", "/api/v1/orgs/acme/budgets/monthly", acmeAdmin, nil).must(t, http.StatusOK)
		amount := "300"
		var up api.Budget
		e.do("PATCH", "/api/v1/orgs/acme/budgets/monthly", acmeAdmin, api.BudgetUpdate{Amount: &amount}, "If-Match", got.Header.Get("ETag")).
			must(t, http.StatusOK).decode(t, &up)
		if up.Amount != "300" || up.Version != 2 {
			t.Errorf("updated %+v", up)
		}
		e.do("PATCH", "/api/v1/orgs/acme/budgets/monthly", acmeAdmin, api.BudgetUpdate{Amount: &amount}, "If-Match", got.Header.Get("ETag")).
			must(t, http.StatusPreconditionFailed)

		// A viewer reads but does not change; another tenant sees nothing.
		viewer := e.token(e.user("viewer@acme.test", store.RoleBinding{OrgID: acme.ID, Role: api.RoleOrgViewer}), acme.ID, api.RoleOrgViewer)
		e.do("GET", "/api/v1/orgs/acme/budgets/monthly", viewer, nil).must(t, http.StatusOK)
		e.do("POST", "/api/v1/orgs/acme/budgets", viewer, api.BudgetCreate{Name: "viewer", Amount: "1"}).must(t, http.StatusForbidden)
		e.do("DELETE", "/api/v1/orgs/acme/budgets/monthly", viewer, nil).must(t, http.StatusForbidden)
		for _, path := range []string{"/api/v1/orgs/acme/budgets", "/api/v1/orgs/acme/budgets/" + b.ID} {
			e.do("GET", path, otherAdmin, nil).must(t, http.StatusNotFound)
		}
		e.do("GET", "/api/v1/orgs/other/budgets/"+b.ID, otherAdmin, nil).must(t, http.StatusNotFound)
		e.do("DELETE", "/api/v1/orgs/other/budgets/"+b.ID, otherAdmin, nil).must(t, http.StatusNotFound)
		var theirs api.List[api.Budget]
		e.do("GET", "/api/v1/orgs/other/budgets", otherAdmin, nil).must(t, http.StatusOK).decode(t, &theirs)
		if len(theirs.Items) != 0 {
			t.Errorf("other sees %+v", theirs.Items)
		}

		e.do("DELETE", "/api/v1/orgs/acme/budgets/monthly", acmeAdmin, nil).must(t, http.StatusNoContent)
		e.do("GET", "/api/v1/orgs/acme/budgets/monthly", acmeAdmin, nil).must(t, http.StatusNotFound)
		e.do("DELETE", "/api/v1/orgs/acme/budgets/monthly", acmeAdmin, nil).must(t, http.StatusNotFound)
	})
}
