package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
	"github.com/sirocco-cloud/sirocco/internal/agent"
	"github.com/sirocco-cloud/sirocco/internal/billing/invoice"
	"github.com/sirocco-cloud/sirocco/internal/console"
	"github.com/sirocco-cloud/sirocco/internal/seed"
	"github.com/sirocco-cloud/sirocco/internal/servertest"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// BenchmarkConsolePages measures the server time of each console page on
// demo data (DESIGN goal: under 100 ms a page): the demo provider, a tenant
// with a few VMs (created powered off: no host boots them here), networks,
// disks, a budget and last month's invoice, and the provider admin. Each
// sub-benchmark is one GET through the console's handler in process, with
// the visitor's session cookie, as a browser would send it; pages that do
// not exist (yet) are skipped.
func BenchmarkConsolePages(b *testing.B) {
	f := newConsoleFixture(b)
	tenant := "/console/o/" + f.org
	pages := []struct{ name, path, session string }{
		{"dashboard", tenant + "/", f.tenantSession},
		{"vms", tenant + "/vms", f.tenantSession},
		{"vm-detail", tenant + "/vms/" + f.vm, f.tenantSession},
		{"vm-snapshots", tenant + "/vms/" + f.vm + "/snapshots", f.tenantSession},
		{"vm-firewall", tenant + "/vms/" + f.vm + "/firewall", f.tenantSession},
		{"launch", tenant + "/launch", f.tenantSession},
		{"catalog", tenant + "/catalog", f.tenantSession},
		{"networks", tenant + "/networks", f.tenantSession},
		{"network-detail", tenant + "/networks/" + f.network, f.tenantSession},
		{"public-ips", tenant + "/public-ips", f.tenantSession},
		{"disks", tenant + "/disks", f.tenantSession},
		{"usage", tenant + "/usage", f.tenantSession},
		{"budgets", tenant + "/budgets", f.tenantSession},
		{"invoices", tenant + "/invoices", f.tenantSession},
		{"invoice-detail", tenant + "/invoices/" + f.invoice, f.tenantSession},
		{"tokens", tenant + "/tokens", f.tenantSession},
		{"members", tenant + "/members", f.tenantSession},
		{"account", "/console/account", f.tenantSession},
		{"provider-overview", "/console/provider/", f.adminSession},
		{"provider-hosts", "/console/provider/hosts", f.adminSession},
		{"provider-regions", "/console/provider/regions", f.adminSession},
		{"provider-images", "/console/provider/images", f.adminSession},
		{"provider-sizes", "/console/provider/sizes", f.adminSession},
		{"provider-prices", "/console/provider/prices", f.adminSession},
		{"provider-tenants", "/console/provider/tenants", f.adminSession},
		{"provider-tenant", "/console/provider/tenants/" + f.org, f.adminSession},
		{"provider-revenue", "/console/provider/revenue", f.adminSession},
		{"provider-audit", "/console/provider/audit", f.adminSession},
		{"provider-branding", "/console/provider/branding", f.adminSession},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			if status := f.get(p.path, p.session); status == http.StatusNotFound {
				b.Skipf("%s: 404 (page not built yet)", p.path)
			} else if status != http.StatusOK {
				b.Fatalf("GET %s: status %d", p.path, status)
			}
			for b.Loop() {
				f.get(p.path, p.session)
			}
			ms := float64(b.Elapsed().Microseconds()) / 1000 / float64(b.N)
			b.ReportMetric(ms, "ms/page")
			if ms > 100 {
				b.Logf("%s takes %.1f ms a page: over the 100 ms goal", p.path, ms)
			}
		})
	}
}

// consoleFixture is a seeded server with the console and two sessions.
type consoleFixture struct {
	b                           *testing.B
	h                           http.Handler
	tenantSession, adminSession string
	org, vm, network, invoice   string
}

func newConsoleFixture(b *testing.B) *consoleFixture {
	b.Helper()
	e := servertest.NewWrapped(b, false, func(h http.Handler) (http.Handler, error) {
		return console.Mount(h, console.Config{})
	})
	ctx := context.Background()
	must := func(err error) {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
	}
	must(seed.Demo(ctx, e.Store))
	admin, err := client.New(e.URL, client.WithToken(e.ProviderAdmin()))
	must(err)

	// Two ready hosts (as if their agents had reported) to place VMs on,
	// and a public image.
	for _, id := range []string{"hv1", "hv2"} {
		_, err := agent.Enrol(ctx, e.Store, id, "au-syd-1a", "")
		must(err)
		must(e.Store.Tx(ctx, func(tx *store.Tx) error {
			h, err := tx.GetHost(ctx, id)
			if err != nil {
				return err
			}
			beat := time.Now()
			h.State, h.VCPU, h.MemoryMiB, h.DiskGiB, h.Acceleration, h.LastHeartbeat = api.HostReady, 32, 128<<10, 2000, "kvm", &beat
			return tx.UpdateHost(ctx, h)
		}))
	}
	img := &store.Image{Name: "debian-12", Kind: api.ImageKindKernel, State: api.ImageAvailable, Cmdline: "console=ttyS0",
		Files: []store.ImageFile{{Name: api.ImageFileKernel, Size: 1 << 20, SHA256: strings.Repeat("ab", 32)}}}
	must(e.Store.Tx(ctx, func(tx *store.Tx) error { return tx.CreateImage(ctx, img) }))

	org, err := admin.CreateOrg(ctx, api.OrganisationCreate{Name: "acme", DisplayName: "Acme"})
	must(err)
	dev := e.User("dev@acme.test", store.RoleBinding{OrgID: org.ID, Role: api.RoleOrgAdmin})
	for i := range 3 {
		e.User(fmt.Sprintf("member%d@acme.test", i), store.RoleBinding{OrgID: org.ID, Role: api.RoleOrgMember})
	}
	tenant, err := client.New(e.URL, client.WithToken(e.Token(dev, org.ID, api.RoleOrgAdmin)))
	must(err)
	_, err = tenant.CreateVDC(ctx, org.ID, api.VDCCreate{Name: "main", Zone: "au-syd-1a"})
	must(err)
	var network string
	for i, name := range []string{"lan", "dmz"} {
		n, err := tenant.CreateNetwork(ctx, org.ID, api.NetworkCreate{Name: name, CIDR: fmt.Sprintf("10.%d.0.0/24", i)})
		must(err)
		if network == "" {
			network = n.ID
		}
	}
	off := false
	created, err := tenant.CreateVMs(ctx, org.ID, api.VMCreate{Name: "web", Image: "debian-12", Size: "s1.small", Count: 5, PowerOn: &off,
		Networks: []api.VMNetwork{{Network: "lan"}}})
	must(err)
	for i := range 3 {
		_, err := tenant.CreateDisk(ctx, org.ID, api.DiskCreate{Name: fmt.Sprintf("data%d", i), SizeGiB: 10})
		must(err)
	}
	_, err = tenant.CreateBudget(ctx, org.ID, api.BudgetCreate{Name: "monthly", Amount: "100.00"})
	must(err)
	_, err = admin.GrantCredit(ctx, org.ID, api.CreditGrantCreate{Kind: api.CreditPromo, Amount: "25.00", Reason: "welcome"})
	must(err)

	// Last month's usage, rated and posted, invoiced as at month end.
	now := time.Now().UTC()
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	must(e.Store.Tx(ctx, func(tx *store.Tx) error {
		var ids []string
		for _, vm := range created.VMs {
			for _, m := range []struct{ meter, qty, price, amount string }{
				{"vcpu", "744", "0.02", "14.88"}, {"memory", "744", "0.005", "3.72"}, {"disk", "7440", "0.0002", "1.488"},
			} {
				l := &store.RatedLine{ID: store.NewID(), OrgID: org.ID, ResourceKind: "vm", ResourceID: vm.ID, Meter: m.meter,
					WindowStart: month, WindowEnd: month.AddDate(0, 1, 0), Quantity: m.qty, Unit: "hour", UnitPrice: m.price,
					Amount: m.amount, Currency: "AUD", PlanID: "plan", InputHash: vm.ID + m.meter, RunID: "bench"}
				if _, err := tx.InsertRatedLine(ctx, l); err != nil {
					return err
				}
				ids = append(ids, l.ID)
			}
		}
		return tx.MarkRatedLinesPosted(ctx, ids, "bench-posting")
	}))
	iv := &invoice.Invoicer{Store: e.Store, Now: func() time.Time { return month.AddDate(0, 1, 0).Add(2 * time.Hour) }}
	invs, err := iv.RunMonth(ctx, month)
	must(err)
	if len(invs) == 0 {
		b.Fatal("no invoice made")
	}

	f := &consoleFixture{b: b, h: e.HTTP.Config.Handler, org: org.ID, vm: created.VMs[0].ID, network: network, invoice: invs[0].ID}
	f.tenantSession = f.login("dev@acme.test")
	f.adminSession = f.login("admin@provider.test")
	return f
}

// login logs in through the console's form and returns the session cookie.
func (f *consoleFixture) login(email string) string {
	f.b.Helper()
	form := url.Values{"email": {email}, "password": {servertest.Password}}
	req := httptest.NewRequest(http.MethodPost, "/console/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	for _, c := range w.Result().Cookies() {
		if c.Name == client.SessionCookie && c.Value != "" {
			return c.Value
		}
	}
	f.b.Fatalf("console login %s: status %d, no session cookie", email, w.Code)
	return ""
}

// get serves one page in process and returns its status.
func (f *consoleFixture) get(path, session string) int {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Sec-Fetch-Site", "none")
	req.AddCookie(&http.Cookie{Name: client.SessionCookie, Value: session})
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return w.Code
}
