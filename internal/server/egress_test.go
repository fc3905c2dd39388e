package server

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/billing/rater"
	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Egress is metered from the host's reports of each VM's tap counter,
// resets included, and rated per GiB at the plan's price.
func TestEgressMeteredFromHostReports(t *testing.T) {
	forEachEngineWith(t, func(t *testing.T, engine string) {
		t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
		clk := &clock{now: t0.Add(-time.Minute)}
		e := newEnvFor(t, engine, Config{Now: clk.Now})
		f := newVMFixture(t, e, 1, store.Residency{}, roomyQuotas)
		ctx := context.Background()
		e.do("POST", "/api/v1/price-plans", f.admin, map[string]any{"region": "au-syd", "allocation_model": "payg",
			"rates": map[string]any{"egress_gib": "0.09"}}).must(t, http.StatusCreated)
		clk.set(t0)
		var created api.VMCreated
		e.do("POST", "/api/v1/orgs/acme/vms", f.tenant, api.VMCreate{Name: "web", Image: "tiny", Size: "s1.small"}).
			must(t, http.StatusAccepted).decode(t, &created)
		vm := created.VMs[0]
		cred := agentCredentialFor(t, f, vm.Host)
		report := func(at time.Duration, counter int64) {
			t.Helper()
			clk.set(t0.Add(at))
			e.do("POST", agentapi.PathSync, cred, agentapi.SyncRequest{Protocol: agentapi.ProtocolVersion,
				VMs: []agentapi.ObservedVM{{ID: vm.ID, State: api.VMRunning, Generation: 1, TxBytes: counter}}}).must(t, http.StatusOK)
		}
		report(10*time.Minute, 1<<30)   // 1 GiB since the start
		report(40*time.Minute, 3<<30)   // 2 more
		report(40*time.Minute, 3<<30)   // the same reading again: nothing
		report(50*time.Minute, 512<<20) // the counter was reset: 0.5 GiB since
		if err := (&rater.Rater{Store: e.store}).RunOnce(ctx, t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		var lines []store.RatedLine
		err := e.store.View(ctx, func(tx *store.Tx) (err error) {
			lines, err = tx.ListRatedLines(ctx, store.RatedLineFilter{OrgID: f.org.ID, Meter: rating.MeterEgress})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) != 1 || !decimal.RequireFromString(lines[0].Quantity).Equal(decimal.RequireFromString("3.5")) ||
			!decimal.RequireFromString(lines[0].Amount).Equal(decimal.RequireFromString("0.315")) || lines[0].ResourceName != "web" {
			t.Fatalf("egress lines %+v, want 3.5 GiB costing 0.315 for web", lines)
		}
	})
}
