package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/billing/enforce"
	"github.com/sirocco-cloud/sirocco/internal/billing/invoice"
	"github.com/sirocco-cloud/sirocco/internal/billing/ledger"
	"github.com/sirocco-cloud/sirocco/internal/billing/rater"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// clock is a settable time for the server, the store and the billing loops.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// TestBillingAcceptance walks the billing issue's acceptance with the real
// API, store and billing loops, on a clock the test moves: a tenant signs
// up and verifies its address (trial credit A$1 here, so it runs out in
// hours); its VM runs and the balance falls exactly as the price plan says,
// between ratings too; the credit runs out, the organisation goes to grace,
// then to suspended and its VM is powered off; the provider's top-up brings
// it back; the month's invoice (PDF and CSV) agrees with the usage export.
func TestBillingAcceptance(t *testing.T) {
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatal("pdftotext (Debian poppler-utils) is needed: make deps installs it")
	}
	forEachEngineWith(t, func(t *testing.T, engine string) {
		t0 := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
		clk := &clock{now: t0}
		e := newEnvFor(t, engine, Config{Now: clk.Now})
		f := newVMFixture(t, e, 1, store.Residency{}, roomyQuotas)
		ctx := context.Background()
		admin := f.admin
		cur, trial, grace := "AUD", "1.00", 24
		e.do("PATCH", "/api/v1/provider", admin, api.ProviderUpdate{Currency: &cur, TrialCredit: &api.TrialCredit{Amount: trial, Days: 30},
			Enforcement: &api.Enforcement{GraceHours: grace, RetentionDays: 30}}).must(t, http.StatusOK)
		// s1.small (1 vCPU, 1 GiB, 10 GiB) costs 0.02 + 0.005 + 10 × 0.0002 = A$0.027 an hour while on.
		e.do("POST", "/api/v1/price-plans", admin, map[string]any{"region": "au-syd", "allocation_model": "payg",
			"rates": map[string]any{"vcpu_hour": "0.02", "memory_gib_hour": "0.005", "disk_gib_hour": map[string]string{"standard": "0.0002"}}}).
			must(t, http.StatusCreated)

		// Sign up and verify: the trial credit arrives with the verification.
		e.do("POST", "/api/v1/signup", "", api.Signup{Email: "dev@kiwi.test", Password: "a long enough secret", OrgName: "kiwi"}).
			must(t, http.StatusCreated)
		e.do("POST", "/api/v1/verify-email", "", api.TokenRequest{Token: mailToken(t, e, "dev@kiwi.test", "/console/verify-email")}).
			must(t, http.StatusOK)
		var u *store.User
		var org *store.Org
		err := e.store.View(ctx, func(tx *store.Tx) error {
			var err error
			if u, err = tx.GetUserByEmail(ctx, "dev@kiwi.test"); err != nil {
				return err
			}
			org, err = tx.LookupOrg(ctx, "kiwi")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		tenant := e.token(u, org.ID, api.RoleOrgAdmin)
		balance := func() api.Balance {
			t.Helper()
			var b api.Balance
			e.do("GET", "/api/v1/orgs/kiwi/balance", tenant, nil).must(t, http.StatusOK).decode(t, &b)
			return b
		}
		if b := balance(); b.AvailableDisplay != "1.00" || b.State != api.OrgActive {
			t.Fatalf("after sign-up: %+v", b)
		}

		// Sign-up made the VDC "default" in au-syd-1a: the VM goes there.
		var created api.VMCreated
		e.do("POST", "/api/v1/orgs/kiwi/vms", tenant, api.VMCreate{Name: "web", Image: "tiny", Size: "s1.small"}).
			must(t, http.StatusAccepted).decode(t, &created)
		vm := created.VMs[0]
		cred := agentCredentialFor(t, f, vm.Host)
		var desired agentapi.SyncResponse
		report := func(state string) {
			t.Helper()
			e.do("POST", agentapi.PathSync, cred, agentapi.SyncRequest{Protocol: agentapi.ProtocolVersion}).must(t, http.StatusOK).decode(t, &desired)
			e.do("POST", agentapi.PathSync, cred, agentapi.SyncRequest{Protocol: agentapi.ProtocolVersion,
				VMs: []agentapi.ObservedVM{{ID: vm.ID, State: state, Generation: desired.VMs[0].Generation}}}).
				must(t, http.StatusOK).decode(t, &desired)
		}
		report(api.VMRunning)

		led := &ledger.Ledger{Store: e.store}
		loops := func(now time.Time) {
			t.Helper()
			clk.set(now)
			if err := (&rater.Rater{Store: e.store}).RunOnce(ctx, now); err != nil {
				t.Fatal(err)
			}
			if err := led.PostUsage(ctx, now); err != nil {
				t.Fatal(err)
			}
			if err := (&enforce.Enforcer{Store: e.store, Ledger: led}).RunOnce(ctx, now); err != nil {
				t.Fatal(err)
			}
		}
		// Ten hours and a half: ten rated hours and the running half hour.
		loops(t0.Add(10*time.Hour + 30*time.Minute))
		want := decimal.RequireFromString("1").Sub(decimal.RequireFromString("0.027").Mul(decimal.RequireFromString("10.5")))
		if b := balance(); !decimal.RequireFromString(b.Available).Equal(want) || b.AvailableDisplay != "0.72" || b.State != api.OrgActive {
			t.Fatalf("after 10.5 h: available %s (%s), state %s; want %s (0.72), active", b.Available, b.AvailableDisplay, b.State, want)
		}

		// 1.00 / 0.027 = 37.04 h: out of credit, into grace; no new VM.
		// Half the credit is used after 18.5 h: a warning first.
		var graceAt, warnAt time.Time
		for h := 11; h <= 40 && graceAt.IsZero(); h++ {
			loops(t0.Add(time.Duration(h) * time.Hour))
			switch balance().State {
			case api.OrgWarn:
				if warnAt.IsZero() {
					warnAt = t0.Add(time.Duration(h) * time.Hour)
				}
			case api.OrgGrace:
				graceAt = t0.Add(time.Duration(h) * time.Hour)
			}
		}
		if warnAt != t0.Add(19*time.Hour) {
			t.Errorf("warned at %v, want after 19 h (half the credit used at 18.5 h)", warnAt)
		}
		if graceAt != t0.Add(38*time.Hour) {
			t.Fatalf("grace at %v, want after 38 h (the first check with the balance below zero)", graceAt)
		}
		r := e.do("POST", "/api/v1/orgs/kiwi/vms", tenant, api.VMCreate{Name: "more", Image: "tiny", Size: "s1.small"})
		if r.Status != http.StatusForbidden || r.problem(t).Code != api.CodeOrgRestricted {
			t.Fatalf("create in grace: %d %s", r.Status, r.Body)
		}

		// After the grace period: suspended, the VM asked to power off.
		loops(graceAt.Add(time.Duration(grace) * time.Hour))
		if b := balance(); b.State != api.OrgSuspended {
			t.Fatalf("after grace: %+v", b)
		}
		e.do("POST", agentapi.PathSync, cred, agentapi.SyncRequest{Protocol: agentapi.ProtocolVersion}).must(t, http.StatusOK).decode(t, &desired)
		if desired.VMs[0].Power != store.PowerStopped {
			t.Fatalf("suspended organisation's VM: desired power %s", desired.VMs[0].Power)
		}
		report(api.VMStopped)
		r = e.do("POST", "/api/v1/orgs/kiwi/vms/web/start", tenant, nil)
		if r.Status != http.StatusForbidden || r.problem(t).Code != api.CodeOrgRestricted {
			t.Fatalf("start while suspended: %d %s", r.Status, r.Body)
		}

		// The provider's top-up restores service at once.
		e.do("POST", "/api/v1/orgs/kiwi/credits", admin, map[string]any{"kind": "paid", "amount": "10.00", "reason": "top-up"}).
			must(t, http.StatusCreated)
		if b := balance(); b.State != api.OrgActive {
			t.Fatalf("after the top-up: %+v", b)
		}
		e.do("POST", "/api/v1/orgs/kiwi/vms/web/start", tenant, nil).must(t, http.StatusAccepted)

		// The month's invoice, once it is over, agrees with the usage export.
		loops(time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC))
		if err := (&invoice.Invoicer{Store: e.store, Now: clk.Now}).RunOnce(ctx, clk.Now()); err != nil {
			t.Fatal(err)
		}
		var invs api.List[api.Invoice]
		e.do("GET", "/api/v1/orgs/kiwi/invoices", tenant, nil).must(t, http.StatusOK).decode(t, &invs)
		if len(invs.Items) != 1 || invs.Items[0].State != "finalized" {
			t.Fatalf("invoices: %+v", invs.Items)
		}
		inv := invs.Items[0]
		usage := e.do("GET", "/api/v1/orgs/kiwi/usage.csv?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z", tenant, nil).must(t, http.StatusOK)
		lines := e.do("GET", "/api/v1/orgs/kiwi/invoices/"+inv.ID+"/csv", tenant, nil).must(t, http.StatusOK)
		// Lines are the usage rounded once per resource and meter; they
		// sum to the subtotal, which the credit covers up to the total.
		got, want := csvTotal(t, lines.Body, "amount"), roundedPerResource(t, usage.Body)
		if !got.Equal(want) || !got.Equal(decimal.RequireFromString(inv.Subtotal)) {
			t.Fatalf("invoice lines sum %s, subtotal %s; the usage export rounded per resource and meter %s", got, inv.Subtotal, want)
		}
		if sub, cr, tot := decimal.RequireFromString(inv.Subtotal), decimal.RequireFromString(inv.Credits), decimal.RequireFromString(inv.Total); !sub.Sub(cr).Equal(tot) || tot.IsNegative() {
			t.Fatalf("subtotal %s - credits %s != total %s", sub, cr, tot)
		}
		pdf := e.do("GET", "/api/v1/orgs/kiwi/invoices/"+inv.ID+"/pdf", tenant, nil).must(t, http.StatusOK)
		cmd := exec.Command("pdftotext", "-", "-")
		cmd.Stdin = bytes.NewReader(pdf.Body)
		text, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(text), inv.Total) || !strings.Contains(string(text), "kiwi") {
			t.Fatalf("the PDF lacks the total %s or the organisation:\n%s", inv.Total, text)
		}
	})
}

// csvTotal sums column col over an invoice CSV's lines (the rows with a
// position; the subtotal, credits and total rows have none).
func csvTotal(t *testing.T, b []byte, col string) decimal.Decimal {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("csv: %v\n%s", err, b)
	}
	idx := map[string]int{}
	for i, h := range rows[0] {
		idx[h] = i
	}
	sum := decimal.Zero
	for _, r := range rows[1:] {
		if r[idx["position"]] == "" {
			continue
		}
		sum = sum.Add(decimal.RequireFromString(r[idx[col]]))
	}
	return sum
}

// roundedPerResource sums the usage export rounded per resource and meter,
// the way invoice lines are made.
func roundedPerResource(t *testing.T, b []byte) decimal.Decimal {
	t.Helper()
	rows, _ := csv.NewReader(bytes.NewReader(b)).ReadAll()
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	per := map[string]decimal.Decimal{}
	for _, r := range rows[1:] {
		k := r[col["resource_id"]] + "/" + r[col["meter"]]
		per[k] = per[k].Add(decimal.RequireFromString(r[col["amount"]]))
	}
	sum := decimal.Zero
	for _, v := range per {
		sum = sum.Add(v.Round(2))
	}
	return sum
}
