package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/billing/ledger"
	"github.com/sirocco-cloud/sirocco/internal/cli"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// billingCloud is a provider (currency AUD) with region au-syd, size
// s1.small (1 vCPU, 1 GiB, 10 GiB disk) and tenant acme with VDC prod; the
// CLI runs with explicit --server and --token, as the provider admin or as
// acme's org-admin.
type billingCloud struct {
	*env
	admin, tenant string
	org           *api.Organisation
}

func newBillingCloud(t *testing.T) *billingCloud {
	t.Helper()
	e := newEnv(t, false)
	isolate(t)
	b := &billingCloud{env: e, admin: e.ProviderAdmin()}
	b.provider(t, "provider", "update", "--currency", "AUD")
	b.provider(t, "region", "create", "au-syd", "--jurisdiction", "AU")
	b.provider(t, "zone", "create", "au-syd-1a", "--region", "au-syd")
	b.provider(t, "size", "create", "s1.small", "--vcpu", "1", "--memory-mib", "1024", "--disk-gib", "10")
	b.provider(t, "org", "create", "acme", "--jurisdiction", "AU")
	org := decode[api.Organisation](t, b.provider(t, "org", "get", "acme", "-o", "json"))
	b.org = &org
	u := e.User("ana@acme.test", store.RoleBinding{OrgID: org.ID, Role: api.RoleOrgAdmin})
	b.tenant = e.Token(u, org.ID, api.RoleOrgAdmin)
	b.as(t, "vdc", "create", "prod", "--zone", "au-syd-1a")
	return b
}

// provider runs the CLI as the provider admin, expecting success.
func (b *billingCloud) provider(t *testing.T, args ...string) result {
	t.Helper()
	return ok(t, append([]string{"--server", b.URL, "--token", b.admin}, args...)...)
}

// as runs the CLI as acme's org-admin in acme, expecting success.
func (b *billingCloud) as(t *testing.T, args ...string) result {
	t.Helper()
	return ok(t, append([]string{"--server", b.URL, "--token", b.tenant, "--org", "acme"}, args...)...)
}

// tenantRun runs the CLI as acme's org-admin, whatever the outcome.
func (b *billingCloud) tenantRun(t *testing.T, args ...string) result {
	t.Helper()
	return sirocco(t, "", append([]string{"--server", b.URL, "--token", b.tenant, "--org", "acme"}, args...)...)
}

// wantFail checks a run failed with code and a one-line error containing match.
func wantFail(t *testing.T, r result, code int, match string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "error: ") || !strings.Contains(lines[0], match) {
		t.Fatalf("error line %q, want it to contain %q", lines[0], match)
	}
	if code != cli.ExitUsage && len(lines) != 1 {
		t.Fatalf("stderr has %d lines, want 1:\n%s", len(lines), r.stderr)
	}
	if strings.Contains(r.stderr, "Usage:") || r.stdout != "" {
		t.Fatalf("noise in output:\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
	}
}

// A mistake in how a billing command is called is exit 2 and one error
// line, found before anything is sent: the server here does not exist.
func TestBillingUsageErrors(t *testing.T) {
	isolate(t)
	t.Setenv(cli.EnvServer, "http://127.0.0.1:1")
	t.Setenv(cli.EnvToken, "sk_unused")
	t.Setenv(cli.EnvOrg, "acme")
	tests := []struct {
		args  []string
		match string
	}{
		{[]string{"balance", "extra"}, `unexpected argument "extra"`},
		{[]string{"usage", "--by", "week"}, `--by "week"`},
		{[]string{"usage", "--from", "yesterday"}, `--from "yesterday"`},
		{[]string{"usage", "--from", "2026-12-01", "--to", "2026-11-01"}, "--to must be after --from"},
		{[]string{"usage", "export", "--format", "xlsx"}, `--format "xlsx"`},
		{[]string{"usage", "frobnicate"}, `unexpected argument "frobnicate"`},
		{[]string{"credit", "grant"}, "missing ORG"},
		{[]string{"credit", "grant", "acme"}, "--amount is required"},
		{[]string{"credit", "grant", "acme", "--amount", "ten"}, `--amount "ten"`},
		{[]string{"credit", "grant", "acme", "--amount", "-5"}, `--amount "-5"`},
		{[]string{"credit", "grant", "acme", "--amount", "5", "--kind", "trial"}, `--kind "trial"`},
		{[]string{"credit", "grant", "acme", "--amount", "5", "--expires", "soon"}, `--expires "soon"`},
		{[]string{"credit", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"invoice", "get"}, "missing ID"},
		{[]string{"invoice", "download", "i1", "--format", "docx"}, `--format "docx"`},
		{[]string{"invoice", "pay"}, "missing ID"},
		{[]string{"invoice", "void", "a", "b"}, `unexpected argument "b"`},
		{[]string{"invoice", "credit-note", "i1", "--amount", "5"}, "--amount and --reason are required"},
		{[]string{"invoice", "credit-note", "i1", "--amount", "5e3", "--reason", "x"}, `--amount "5e3"`},
		{[]string{"invoice", "run"}, "--period is required"},
		{[]string{"invoice", "run", "--period", "2026-13"}, `--period "2026-13"`},
		{[]string{"budget", "create", "monthly"}, "--amount is required"},
		{[]string{"budget", "create", "monthly", "--amount", "100", "--threshold", "50,eighty"}, `--threshold "50,eighty"`},
		{[]string{"budget", "create", "monthly", "--amount", "100", "--threshold", "0"}, `--threshold "0"`},
		{[]string{"budget", "create", "monthly", "--amount", "100", "--email", "ops"}, `--email "ops"`},
		{[]string{"budget", "update", "monthly"}, "nothing to change"},
		{[]string{"budget", "get"}, "missing NAME"},
		{[]string{"budget", "delete"}, "missing NAME"},
		{[]string{"webhook", "create"}, "missing URL"},
		{[]string{"webhook", "create", "ftp://hooks.example.com"}, `URL "ftp://hooks.example.com"`},
		{[]string{"webhook", "create", "https://hooks.example.com", "--event", "vm.created"}, `--event "vm.created"`},
		{[]string{"webhook", "delete"}, "missing ID"},
		{[]string{"webhook", "deliveries"}, "missing ID"},
		{[]string{"price-plan", "create"}, "--region is required"},
		{[]string{"price-plan", "create", "--region", "au-syd", "--model", "spot"}, `--model "spot"`},
		{[]string{"price-plan", "create", "--region", "au-syd", "--vcpu-hour", "0,02"}, `--vcpu-hour "0,02"`},
		{[]string{"price-plan", "create", "--region", "au-syd", "--disk-class-hour", "ssd"}, `--disk-class-hour "ssd"`},
		{[]string{"price-plan", "create", "--region", "au-syd", "--from", "Monday"}, `--from "Monday"`},
		{[]string{"price-plan", "get"}, "missing ID"},
		{[]string{"price-plan", "delete"}, "missing ID"},
		{[]string{"price-override", "list"}, "missing ORG"},
		{[]string{"price-override", "create", "acme"}, "nothing to override"},
		{[]string{"price-override", "create", "acme", "--discount", "ten"}, `--discount "ten"`},
		{[]string{"price-override", "delete", "acme"}, "missing ID"},
		{[]string{"quote"}, "nothing to price"},
		{[]string{"quote", "--vcpu", "-1"}, "cannot be negative"},
		{[]string{"org", "billing-override", "acme", "--reason", "x"}, "--state is required"},
		{[]string{"org", "billing-override", "acme", "--state", "grace", "--reason", "x"}, `--state "grace"`},
		{[]string{"org", "billing-override", "acme", "--state", "active"}, "--reason is required"},
		{[]string{"provider", "update", "--grace-hours", "many"}, `invalid argument "many"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			wantFail(t, sirocco(t, "", tt.args...), cli.ExitUsage, tt.match)
		})
	}
}

func TestProviderEnforcementFlags(t *testing.T) {
	e := newEnv(t, false)
	isolate(t)
	admin := e.ProviderAdmin()
	run := func(args ...string) result {
		return ok(t, append([]string{"--server", e.URL, "--token", admin}, args...)...)
	}
	run("provider", "update", "--trial-amount", "50.00")
	p := decode[api.Provider](t, run("provider", "update", "--grace-hours", "48", "-o", "json"))
	// Only the flag given changes: retention keeps its default.
	if p.Enforcement.GraceHours != 48 || p.Enforcement.RetentionDays != 30 || p.TrialCredit.Amount != "50.00" {
		t.Fatalf("after --grace-hours: %+v, trial %+v", p.Enforcement, p.TrialCredit)
	}
	run("provider", "update", "--retention-days", "7")
	out := run("provider", "get").stdout
	if !strings.Contains(out, "48 hours out of credit before suspension") || !strings.Contains(out, "7 days suspended before closing") {
		t.Fatalf("provider get:\n%s", out)
	}
	r := sirocco(t, "", "--server", e.URL, "--token", admin, "provider", "update", "--grace-hours", "-1")
	wantFail(t, r, cli.ExitError, "(validation_failed)")
}

func TestPricesAndQuote(t *testing.T) {
	b := newBillingCloud(t)

	// A plan in force from now: payg in au-syd.
	plan := decode[api.PricePlan](t, b.provider(t, "price-plan", "create", "--region", "au-syd", "--model", "payg",
		"--vcpu-hour", "0.02", "--memory-gib-hour", "0.005", "--disk-gib-hour", "0.0002", "--disk-class-hour", "ssd=0.0004",
		"--public-ip-hour", "0.005", "--description", "launch prices", "-o", "json"))
	if plan.Currency != "AUD" || plan.Rates.VCPUHour != "0.02" || plan.Rates.DiskGiBHour["standard"] != "0.0002" ||
		plan.Rates.DiskGiBHour["ssd"] != "0.0004" || plan.Region != "au-syd" {
		t.Fatalf("plan %+v", plan)
	}

	// Prices are public: the tenant reads them.
	list := b.as(t, "price-plan", "list").stdout
	if !strings.Contains(list, plan.ID) || !strings.Contains(list, "0.02") || !strings.Contains(list, "launch prices") {
		t.Fatalf("price-plan list:\n%s", list)
	}
	if got := b.as(t, "price-plan", "get", plan.ID).stdout; !strings.Contains(got, "ssd=0.0004,standard=0.0002") {
		t.Fatalf("price-plan get:\n%s", got)
	}

	// s1.small: 0.02 + 1 GiB × 0.005 + 10 GiB × 0.0002 = 0.027 per hour;
	// × 730 = 19.71 per month.
	r := b.as(t, "quote", "--size", "s1.small", "--vdc", "prod")
	if first := strings.SplitN(r.stdout, "\n", 2)[0]; first != "Price: A$0.03 per hour, A$19.71 per month (au-syd payg plan)" {
		t.Fatalf("quote:\n%s", r.stdout)
	}
	q := decode[api.Quote](t, b.as(t, "quote", "--size", "s1.small", "--public-ips", "1", "-o", "json"))
	if q.PerHour != "0.032" || q.PerMonthDisplay != "23.36" || q.Plan != plan.ID {
		t.Fatalf("quote with an IP: %+v", q)
	}

	// vm create prints the price before it creates (here it then fails:
	// there is no such image).
	r = b.tenantRun(t, "vm", "create", "web", "--image", "nowhere", "--size", "s1.small", "--vdc", "prod")
	if r.code == 0 || !strings.HasPrefix(r.stderr, "Price: A$0.03 per hour, A$19.71 per month (au-syd payg plan)\n") {
		t.Fatalf("vm create: exit %d\nstderr: %s", r.code, r.stderr)
	}

	// A plan in force is history: it cannot be deleted.
	wantFail(t, sirocco(t, "", "--server", b.URL, "--token", b.admin, "price-plan", "delete", plan.ID), cli.ExitConflict, "")
	// Tenants cannot write prices.
	r = b.tenantRun(t, "price-plan", "create", "--region", "au-syd", "--vcpu-hour", "0.01")
	if r.code == 0 {
		t.Fatalf("a tenant created a price plan: %s", r.stdout)
	}

	// An override: 10 % off for acme, and the quote shows it.
	o := decode[api.PriceOverride](t, b.provider(t, "price-override", "create", "acme", "--discount", "10", "--note", "3-year agreement", "-o", "json"))
	if o.DiscountPercent != "10" || o.Note != "3-year agreement" {
		t.Fatalf("override %+v", o)
	}
	if l := b.provider(t, "price-override", "list", "acme").stdout; !strings.Contains(l, o.ID) || !strings.Contains(l, "3-year agreement") {
		t.Fatalf("override list:\n%s", l)
	}
	q = decode[api.Quote](t, b.as(t, "quote", "--size", "s1.small", "-o", "json"))
	if q.PerHour != "0.0243" {
		t.Fatalf("quote with 10 %% off: %+v", q)
	}
	// One in force is history; one announced for later can be withdrawn.
	wantFail(t, sirocco(t, "", "--server", b.URL, "--token", b.admin, "price-override", "delete", "acme", o.ID), cli.ExitConflict, "in force")
	later := decode[api.PriceOverride](t, b.provider(t, "price-override", "create", "acme", "--discount", "20",
		"--from", time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly), "-o", "json"))
	b.provider(t, "price-override", "delete", "acme", later.ID)
	if l := b.provider(t, "price-override", "list", "acme", "-o", "json").stdout; strings.Contains(l, later.ID) {
		t.Fatalf("deleted override still listed:\n%s", l)
	}

	// Without a plan for the VDC's model, vm create warns and carries on.
	b.as(t, "vdc", "create", "resv", "--zone", "au-syd-1a", "--allocation-model", "reservation")
	r = b.tenantRun(t, "vm", "create", "web", "--image", "nowhere", "--size", "s1.small", "--vdc", "resv")
	if !strings.HasPrefix(r.stderr, "warning: no price for this VM: ") || !strings.Contains(r.stderr, "nowhere") {
		t.Fatalf("vm create without a plan: exit %d\nstderr: %s", r.code, r.stderr)
	}
}

func TestBalanceCreditAndOverride(t *testing.T) {
	b := newBillingCloud(t)

	g := decode[api.CreditGrant](t, b.provider(t, "credit", "grant", "acme", "--amount", "20", "--kind", "promo",
		"--expires", "30d", "--priority", "5", "--reason", "conference voucher", "-o", "json"))
	if g.Kind != api.CreditPromo || g.Priority != 5 || g.ExpiresAt == nil || g.Reason != "conference voucher" {
		t.Fatalf("grant %+v", g)
	}
	if d := time.Until(*g.ExpiresAt); d < 29*24*time.Hour || d > 31*24*time.Hour {
		t.Fatalf("--expires 30d gave %v", g.ExpiresAt)
	}
	b.provider(t, "credit", "grant", "acme", "--amount", "0.125", "--kind", "paid")

	// The tenant sees its balance: no usage yet, so all credit is available.
	bal := decode[api.Balance](t, b.as(t, "balance", "-o", "json"))
	if bal.Currency != "AUD" || bal.AvailableDisplay != "20.13" || len(bal.Grants) != 2 || bal.State != "active" {
		t.Fatalf("balance %+v", bal)
	}
	out := b.as(t, "balance").stdout
	for _, want := range []string{"Available:", "A$20.13", "Credit remaining:", "State:", "active", "conference voucher", "top-up"} {
		if !strings.Contains(out, want) {
			t.Fatalf("balance table lacks %q:\n%s", want, out)
		}
	}
	if l := b.as(t, "credit", "list").stdout; !strings.Contains(l, g.ID) || !strings.Contains(l, "A$20.00") {
		t.Fatalf("credit list:\n%s", l)
	}

	// Only the provider grants credit or overrides the state.
	wantFail(t, b.tenantRun(t, "credit", "grant", "acme", "--amount", "1000"), cli.ExitError, "(forbidden)")
	wantFail(t, b.tenantRun(t, "org", "billing-override", "acme", "--state", "active", "--reason", "me"), cli.ExitError, "(forbidden)")

	bal = decode[api.Balance](t, b.provider(t, "org", "billing-override", "acme", "--state", "suspended", "--reason", "abuse report", "-o", "json"))
	if bal.Override != "suspended" {
		t.Fatalf("after override: %+v", bal)
	}
	if out := b.as(t, "balance").stdout; !strings.Contains(out, "pinned by the provider: suspended") {
		t.Fatalf("balance after override:\n%s", out)
	}
	bal = decode[api.Balance](t, b.provider(t, "org", "billing-override", "acme", "--state", "", "--reason", "back to automatic", "-o", "json"))
	if bal.Override != "" {
		t.Fatalf("after clearing the override: %+v", bal)
	}
}

func TestBudgetsAndWebhooks(t *testing.T) {
	b := newBillingCloud(t)

	bu := decode[api.Budget](t, b.as(t, "budget", "create", "monthly", "--amount", "100", "--threshold", "80,50", "--threshold", "100",
		"--email", "ops@acme.test", "-o", "json"))
	if bu.Amount != "100" || len(bu.Thresholds) != 3 || bu.Thresholds[0] != 50 || bu.Emails[0] != "ops@acme.test" || bu.Currency != "AUD" {
		t.Fatalf("budget %+v", bu)
	}
	b.as(t, "budget", "create", "batch", "--amount", "40", "--vdc", "prod")
	l := b.as(t, "budget", "list").stdout
	if !strings.Contains(l, "monthly") || !strings.Contains(l, "A$100.00") || !strings.Contains(l, "50,80,100 %") || !strings.Contains(l, "batch") {
		t.Fatalf("budget list:\n%s", l)
	}
	up := decode[api.Budget](t, b.as(t, "budget", "update", "monthly", "--amount", "150", "-o", "json"))
	if up.Amount != "150" || len(up.Thresholds) != 3 {
		t.Fatalf("updated budget %+v", up)
	}
	if g := b.as(t, "budget", "get", "monthly").stdout; !strings.Contains(g, "A$150.00") {
		t.Fatalf("budget get:\n%s", g)
	}
	b.as(t, "budget", "delete", "batch")
	wantFail(t, b.tenantRun(t, "budget", "get", "batch"), cli.ExitNotFound, "(not_found)")

	// A webhook shows its secret once.
	r := b.as(t, "webhook", "create", "https://hooks.example.com/sirocco", "--event", "billing.state", "--event", "budget.threshold")
	if !strings.Contains(r.stdout, "Secret:") || !strings.Contains(r.stderr, "not shown again") {
		t.Fatalf("webhook create:\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
	}
	hooks := decode[api.List[api.Webhook]](t, b.as(t, "webhook", "list", "-o", "json"))
	if len(hooks.Items) != 1 || hooks.Items[0].URL != "https://hooks.example.com/sirocco" || len(hooks.Items[0].EventTypes) != 2 {
		t.Fatalf("webhooks %+v", hooks)
	}
	if strings.Contains(b.as(t, "webhook", "list").stdout, "Secret") {
		t.Fatal("the secret is shown again")
	}
	id := hooks.Items[0].ID
	b.as(t, "webhook", "deliveries", id)
	// A tenant's webhook may not aim at the control plane's own network.
	if r := b.tenantRun(t, "webhook", "create", "http://127.0.0.1:9/x"); r.code == 0 {
		t.Fatalf("a tenant webhook to loopback was accepted: %s", r.stdout)
	}
	b.as(t, "webhook", "delete", id)

	// The provider's webhooks are apart from the tenant's.
	pw := decode[api.WebhookCreated](t, b.provider(t, "webhook", "create", "http://127.0.0.1:9/billing", "--provider", "-o", "json"))
	if pw.Secret == "" || pw.Org != "" {
		t.Fatalf("provider webhook %+v", pw)
	}
	if l := b.provider(t, "webhook", "list", "--provider").stdout; !strings.Contains(l, pw.ID) || !strings.Contains(l, "all") {
		t.Fatalf("provider webhook list:\n%s", l)
	}
	b.provider(t, "webhook", "deliveries", pw.ID, "--provider")
	if r := b.tenantRun(t, "webhook", "list", "--provider"); r.code == 0 {
		t.Fatalf("a tenant listed the provider's webhooks: %s", r.stdout)
	}
	b.provider(t, "webhook", "delete", pw.ID, "--provider")
}

func TestInvoicesAndUsage(t *testing.T) {
	b := newBillingCloud(t)
	ctx := context.Background()

	// Two hours of one VM rated in a month that is over: exact amounts
	// that round per invoice line.
	month := time.Date(time.Now().UTC().Year(), time.Now().UTC().Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -2, 0)
	var lines []store.RatedLine
	for h := range 2 {
		start := month.Add(time.Duration(24+h) * time.Hour)
		lines = append(lines,
			store.RatedLine{OrgID: b.org.ID, ResourceKind: "vm", ResourceID: "vm-web", ResourceName: "web", Meter: "vcpu",
				WindowStart: start, WindowEnd: start.Add(time.Hour), Quantity: "1", Unit: "vCPU-hour", UnitPrice: "0.0335",
				Amount: "0.0335", Currency: "AUD", PlanID: "p1", InputHash: "h", RunID: "r1"},
			store.RatedLine{OrgID: b.org.ID, ResourceKind: "disk", ResourceID: "vm-web", ResourceName: "web", Meter: "disk",
				WindowStart: start, WindowEnd: start.Add(time.Hour), Quantity: "10", Unit: "GiB-hour", UnitPrice: "0.0002",
				Amount: "0.002", Currency: "AUD", PlanID: "p1", InputHash: "h", RunID: "r1"},
		)
	}
	err := b.Store.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.InsertRatedLines(ctx, lines)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The post loop charges them to the ledger, as siroccod would.
	if err := (&ledger.Ledger{Store: b.Store}).PostUsage(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	period := month.Format("2006-01")

	// Usage: per resource (exact and rounded), and per day.
	u := decode[api.Usage](t, b.as(t, "usage", "--from", month.Format(time.DateOnly), "--to", month.AddDate(0, 1, 0).Format(time.DateOnly), "-o", "json"))
	if len(u.Items) != 2 {
		t.Fatalf("usage %+v", u)
	}
	out := b.as(t, "usage", "--from", month.Format(time.DateOnly), "--by", "day").stdout
	if !strings.Contains(out, "DAY") || !strings.Contains(out, month.AddDate(0, 0, 1).Format(time.DateOnly)) || !strings.Contains(out, "A$0.07") {
		t.Fatalf("usage by day:\n%s", out)
	}
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "usage.csv")
	b.as(t, "usage", "export", "--from", month.Format(time.DateOnly), "--file", csvPath)
	if raw, err := os.ReadFile(csvPath); err != nil || strings.Count(string(raw), "\n") != 5 || !strings.Contains(string(raw), "0.0335") {
		t.Fatalf("usage export (%v):\n%s", err, raw)
	}
	focus := b.as(t, "usage", "export", "--format", "focus", "--from", month.Format(time.DateOnly)).stdout
	if !strings.Contains(strings.SplitN(focus, "\n", 2)[0], "BilledCost") {
		t.Fatalf("focus export:\n%s", focus)
	}

	// The provider runs the month: vcpu 0.067 → 0.07, disk 0.004 → 0.00.
	run := decode[api.InvoiceRunResult](t, b.provider(t, "invoice", "run", "--period", period, "-o", "json"))
	if len(run.Invoices) != 1 {
		t.Fatalf("invoice run %+v", run)
	}
	inv := run.Invoices[0]
	if inv.Number == nil || inv.State != "finalized" || inv.Subtotal != "0.07" || inv.Total != "0.07" {
		t.Fatalf("invoice %+v", inv)
	}
	if l := b.as(t, "invoice", "list").stdout; !strings.Contains(l, inv.ID) || !strings.Contains(l, period) || !strings.Contains(l, "A$0.07") {
		t.Fatalf("invoice list:\n%s", l)
	}
	g := b.as(t, "invoice", "get", inv.ID).stdout
	if !strings.Contains(g, "Total:") || !strings.Contains(g, "0.0335") || !strings.Contains(g, "A$0.07") {
		t.Fatalf("invoice get:\n%s", g)
	}

	pdf := filepath.Join(dir, "invoice.pdf")
	b.as(t, "invoice", "download", inv.ID, "--file", pdf)
	if raw, err := os.ReadFile(pdf); err != nil || !strings.HasPrefix(string(raw), "%PDF-") {
		t.Fatalf("invoice PDF (%v): %.20q", err, raw)
	}
	csv := filepath.Join(dir, "invoice.csv")
	b.as(t, "invoice", "download", inv.ID, "--file", csv)
	if raw, err := os.ReadFile(csv); err != nil || !strings.Contains(string(raw), "0.07") || strings.HasPrefix(string(raw), "%PDF") {
		t.Fatalf("invoice CSV (%v):\n%s", err, raw)
	}
	if r := b.as(t, "invoice", "download", inv.ID, "--format", "csv"); !strings.Contains(r.stdout, "0.07") {
		t.Fatalf("invoice CSV on stdout:\n%s", r.stdout)
	}

	// Only the provider settles and corrects; a credit note has its own number.
	wantFail(t, b.tenantRun(t, "invoice", "pay", inv.ID), cli.ExitError, "(forbidden)")
	note := decode[api.Invoice](t, b.provider(t, "invoice", "credit-note", inv.ID, "--org", "acme", "--amount", "0.05", "--reason", "outage", "-o", "json"))
	if note.Kind != "credit_note" || note.Corrects != inv.ID || note.Number == nil || *note.Number == *inv.Number {
		t.Fatalf("credit note %+v", note)
	}
	paid := decode[api.Invoice](t, b.provider(t, "invoice", "pay", inv.ID, "--org", "acme", "-o", "json"))
	if paid.State != "paid" || paid.PaidAt == nil {
		t.Fatalf("paid %+v", paid)
	}
	wantFail(t, sirocco(t, "", "--server", b.URL, "--token", b.admin, "invoice", "void", inv.ID, "--org", "acme"), cli.ExitConflict, "")
	wantFail(t, b.tenantRun(t, "invoice", "get", "nowhere"), cli.ExitNotFound, "(not_found)")
}
