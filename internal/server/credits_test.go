package server

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// creditEnv registers the credit routes unless routes.go does already.
func creditEnv(e *env) *env {
	if e.srv.api.OpenAPI().Paths["/api/v1/orgs/{org}/balance"] == nil {
		e.srv.creditRoutes()
	}
	return e
}

// creditUsage stores a rated, unposted line of amount for org.
func creditUsage(t *testing.T, e *env, org, amount string) {
	t.Helper()
	start := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	err := e.store.Tx(context.Background(), func(tx *store.Tx) error {
		_, err := tx.InsertRatedLine(context.Background(), &store.RatedLine{
			ID: store.NewID(), OrgID: org, ResourceKind: "vm", ResourceID: "vm-1", Meter: "vcpu",
			WindowStart: start, WindowEnd: start.Add(time.Hour), Quantity: "1", Unit: "vcpu-hour", UnitPrice: amount,
			Amount: amount, Currency: "USD", PlanID: "plan", InputHash: amount, RunID: "run",
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCredits(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		creditEnv(e)
		admin := e.providerAdmin()
		acme, owner := e.tenant("acme", store.Residency{})
		_, rival := e.tenant("globex", store.Residency{})

		var b api.Balance
		e.do("GET", "/api/v1/orgs/acme/balance", owner, nil).must(t, http.StatusOK).decode(t, &b)
		if b.Currency != "USD" || b.Available != "0" || b.AvailableDisplay != "0.00" || b.State != api.OrgActive || len(b.Grants) != 0 {
			t.Errorf("new organisation's balance %+v", b)
		}

		// Only the provider grants credit; another tenant cannot even see
		// the organisation.
		top := api.CreditGrantCreate{Kind: api.CreditPaid, Amount: "25.50", Reason: "bank transfer 42"}
		if p := e.do("POST", "/api/v1/orgs/acme/credits", owner, top).must(t, http.StatusForbidden).problem(t); p.Code != api.CodeForbidden {
			t.Errorf("tenant granting itself credit: %+v", p)
		}
		e.do("GET", "/api/v1/orgs/acme/balance", rival, nil).must(t, http.StatusNotFound)
		e.do("GET", "/api/v1/orgs/acme/credits", rival, nil).must(t, http.StatusNotFound)

		for _, bad := range []api.CreditGrantCreate{
			{Kind: api.CreditPaid, Amount: "0", Reason: "nothing"},
			{Kind: api.CreditPaid, Amount: "1.5", Reason: "late", ExpiresAt: &time.Time{}},
			{Kind: api.CreditTrial, Amount: "1", Reason: "trials come with sign-up"},
		} {
			e.do("POST", "/api/v1/orgs/acme/credits", admin, bad).must(t, http.StatusUnprocessableEntity)
		}

		var g api.CreditGrant
		res := e.do("POST", "/api/v1/orgs/acme/credits", admin, top).must(t, http.StatusCreated)
		res.decode(t, &g)
		if g.Amount != "25.50" || g.Remaining != "25.5" || g.RemainingDisplay != "25.50" || g.Currency != "USD" || !g.Usable ||
			g.GrantedBy != "admin@provider.test" || g.Kind != api.CreditPaid {
			t.Errorf("granted %+v", g)
		}
		if loc := res.Header.Get("Location"); loc != "/api/v1/orgs/"+acme.ID+"/credits" {
			t.Errorf("Location %q", loc)
		}
		creditUsage(t, e, acme.ID, "0.125")
		e.do("GET", "/api/v1/orgs/acme/balance", owner, nil).must(t, http.StatusOK).decode(t, &b)
		if b.Available != "25.375" || b.AvailableDisplay != "25.38" || b.CreditRemaining != "25.5" || b.Accrued != "0.125" ||
			b.Owed != "0" || len(b.Grants) != 1 {
			t.Errorf("balance after a top-up and usage %+v", b)
		}
		var list api.List[api.CreditGrant]
		e.do("GET", "/api/v1/orgs/acme/credits", owner, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != g.ID {
			t.Errorf("credits %+v", list)
		}

		// The provider's override.
		e.do("PUT", "/api/v1/orgs/acme/billing-override", owner, api.BillingOverride{State: "active", Reason: "me"}).must(t, http.StatusForbidden)
		e.do("PUT", "/api/v1/orgs/acme/billing-override", admin, api.BillingOverride{State: "suspended", Reason: "abuse report"}).
			must(t, http.StatusOK).decode(t, &b)
		if b.State != api.OrgSuspended || b.Override != "suspended" {
			t.Errorf("after override suspended: %s (%s)", b.State, b.Override)
		}
		e.do("POST", "/api/v1/orgs/acme/vdcs", owner, api.VDCCreate{Name: "web", Zone: "nowhere-1a"}).must(t, http.StatusForbidden)
		b = api.Balance{}
		e.do("PUT", "/api/v1/orgs/acme/billing-override", admin, api.BillingOverride{State: "", Reason: "resolved"}).
			must(t, http.StatusOK).decode(t, &b)
		if b.State != api.OrgActive || b.Override != "" {
			t.Errorf("after override cleared: %s (%s)", b.State, b.Override)
		}

		var audit api.List[api.AuditEvent]
		e.do("GET", "/api/v1/orgs/acme/audit-events?action=credit.grant", owner, nil).must(t, http.StatusOK).decode(t, &audit)
		if len(audit.Items) != 1 || audit.Items[0].Actor.Email != "admin@provider.test" {
			t.Errorf("grant audit %+v", audit.Items)
		}
	})
}

// TestTopUpRestoresService: an organisation suspended for want of credit
// is active again as soon as the provider's top-up is granted.
func TestTopUpRestoresService(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		creditEnv(e)
		admin := e.providerAdmin()
		acme, owner := e.tenant("acme", store.Residency{})
		creditUsage(t, e, acme.ID, "3")
		ctx := context.Background()
		if err := e.srv.creditEnforcer().RunOrg(ctx, acme.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		var b api.Balance
		e.do("GET", "/api/v1/orgs/acme/balance", owner, nil).must(t, http.StatusOK).decode(t, &b)
		if b.State != api.OrgGrace || b.AvailableDisplay != "-3.00" {
			t.Fatalf("out of credit: %s, %s", b.State, b.AvailableDisplay)
		}
		e.do("POST", "/api/v1/orgs/acme/credits", admin, api.CreditGrantCreate{Kind: api.CreditPaid, Amount: "10", Reason: "top-up"}).
			must(t, http.StatusCreated)
		e.do("GET", "/api/v1/orgs/acme/balance", owner, nil).must(t, http.StatusOK).decode(t, &b)
		if b.State != api.OrgActive || b.AvailableDisplay != "7.00" {
			t.Errorf("after the top-up: %s, %s; want active, 7.00", b.State, b.AvailableDisplay)
		}
	})
}
