package client_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
	"github.com/sirocco-cloud/sirocco/internal/billing/ledger"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// billingEnv is a provider in AUD with a payg plan in au-syd, size s1.small
// and tenant acme (org-admin client) with VDC prod.
func billingEnv(t *testing.T) (e *env, admin, acme *client.Client, org *api.Organisation) {
	t.Helper()
	e = newEnv(t, false)
	admin = e.client(e.ProviderAdmin())
	ctx := t.Context()
	aud := "AUD"
	if _, err := admin.UpdateProvider(ctx, api.ProviderUpdate{Currency: &aud}); err != nil {
		t.Fatal(err)
	}
	catalog(t, admin)
	if _, err := admin.CreateSize(ctx, api.SizeCreate{Name: "s1.small", VCPU: 1, MemoryMiB: 1024, DiskGiB: 10}); err != nil {
		t.Fatal(err)
	}
	org, err := admin.CreateOrg(ctx, api.OrganisationCreate{Name: "acme", Residency: api.Residency{Jurisdictions: []string{"AU"}}})
	if err != nil {
		t.Fatal(err)
	}
	u := e.User("ana@acme.test", store.RoleBinding{OrgID: org.ID, Role: api.RoleOrgAdmin})
	acme = e.client(e.Token(u, org.ID, api.RoleOrgAdmin))
	if _, err := acme.CreateVDC(ctx, "acme", api.VDCCreate{Name: "prod", Zone: "au-syd-1a"}); err != nil {
		t.Fatal(err)
	}
	return e, admin, acme, org
}

func TestPricesQuoteBalanceAndCredit(t *testing.T) {
	_, admin, acme, _ := billingEnv(t)
	ctx := t.Context()

	plan, err := admin.CreatePricePlan(ctx, api.PricePlanCreate{Region: "au-syd", AllocationModel: api.AllocationPAYG,
		Rates: api.PriceRates{VCPUHour: "0.02", MemoryGiBHour: "0.005", DiskGiBHour: map[string]string{"standard": "0.0002"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Tenants read prices but cannot write them.
	plans, err := acme.ListPricePlans(ctx, client.PricePlanListOptions{Region: "au-syd", AllocationModel: api.AllocationPAYG})
	if err != nil || len(plans.Items) != 1 || plans.Items[0].ID != plan.ID || !plans.Items[0].InForce {
		t.Fatalf("plans %+v, %v", plans, err)
	}
	_, err = acme.CreatePricePlan(ctx, api.PricePlanCreate{Region: "au-syd"})
	wantCode(t, err, http.StatusForbidden, api.CodeForbidden)

	// 0.02 + 1 GiB × 0.005 + 10 GiB × 0.0002 = 0.027 an hour.
	q, err := acme.Quote(ctx, "acme", api.QuoteRequest{VDC: "prod", Size: "s1.small"})
	if err != nil {
		t.Fatal(err)
	}
	if q.Currency != "AUD" || q.PerHour != "0.027" || q.PerMonthDisplay != "19.71" || q.Plan != plan.ID || len(q.Lines) != 3 {
		t.Fatalf("quote %+v", q)
	}

	g, err := admin.GrantCredit(ctx, "acme", api.CreditGrantCreate{Kind: api.CreditPaid, Amount: "12.345", Reason: "top-up"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := acme.GetBalance(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if b.AvailableDisplay != "12.35" || len(b.Grants) != 1 || b.Grants[0].ID != g.ID || b.State != "active" {
		t.Fatalf("balance %+v", b)
	}
	credits, err := acme.ListCredits(ctx, "acme")
	if err != nil || len(credits.Items) != 1 || credits.Items[0].Remaining != "12.345" {
		t.Fatalf("credits %+v, %v", credits, err)
	}
	// Granting is the provider's: a refusal comes back typed.
	_, err = acme.GrantCredit(ctx, "acme", api.CreditGrantCreate{Kind: api.CreditPaid, Amount: "1000", Reason: "free money"})
	wantCode(t, err, http.StatusForbidden, api.CodeForbidden)
	_, err = acme.SetBillingOverride(ctx, "acme", api.BillingOverride{State: "active", Reason: "please"})
	wantCode(t, err, http.StatusForbidden, api.CodeForbidden)
	b, err = admin.SetBillingOverride(ctx, "acme", api.BillingOverride{State: "active", Reason: "pays by invoice"})
	if err != nil || b.Override != "active" {
		t.Fatalf("override: %+v, %v", b, err)
	}
}

func TestBudgetsWebhooksIterate(t *testing.T) {
	_, admin, acme, _ := billingEnv(t)
	ctx := t.Context()
	for _, name := range []string{"one", "two", "three"} {
		if _, err := acme.CreateBudget(ctx, "acme", api.BudgetCreate{Name: name, Amount: "100"}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for b, err := range acme.AllBudgets(ctx, "acme", client.ListOptions{Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, b.Name)
	}
	if len(names) != 3 {
		t.Fatalf("walked budgets %v, want 3 one page at a time", names)
	}
	amount := "250.50"
	b, err := acme.UpdateBudget(ctx, "acme", "two", api.BudgetUpdate{Amount: &amount})
	if err != nil || b.Amount != "250.50" {
		t.Fatalf("update: %+v, %v", b, err)
	}
	if err := acme.DeleteBudget(ctx, "acme", "two"); err != nil {
		t.Fatal(err)
	}
	_, err = acme.GetBudget(ctx, "acme", "two")
	wantCode(t, err, http.StatusNotFound, api.CodeNotFound)

	w, err := acme.CreateWebhook(ctx, "acme", api.WebhookCreate{URL: "https://hooks.example.com/x", EventTypes: []string{api.EventBillingState}})
	if err != nil || w.Secret == "" || w.Org == "" {
		t.Fatalf("webhook %+v, %v", w, err)
	}
	for d, err := range acme.AllWebhookDeliveries(ctx, "acme", w.ID, client.ListOptions{}) {
		t.Fatalf("a new webhook has a delivery: %+v, %v", d, err)
	}
	pw, err := admin.CreateWebhook(ctx, "", api.WebhookCreate{URL: "http://127.0.0.1:9/billing"})
	if err != nil || pw.Org != "" {
		t.Fatalf("provider webhook %+v, %v", pw, err)
	}
	// The provider's list is its own, the tenant's its own.
	hooks, err := admin.ListWebhooks(ctx, "", client.ListOptions{})
	if err != nil || len(hooks.Items) != 1 || hooks.Items[0].ID != pw.ID {
		t.Fatalf("provider webhooks %+v, %v", hooks, err)
	}
	_, err = acme.ListWebhooks(ctx, "", client.ListOptions{})
	wantCode(t, err, http.StatusForbidden, api.CodeForbidden)
	if err := acme.DeleteWebhook(ctx, "acme", w.ID); err != nil {
		t.Fatal(err)
	}
	if err := admin.DeleteWebhook(ctx, "", pw.ID); err != nil {
		t.Fatal(err)
	}
}

func TestInvoiceDownloadsAndUsage(t *testing.T) {
	e, admin, acme, org := billingEnv(t)
	ctx := t.Context()

	// One hour of 0.0335 vCPU rated two months ago, posted to the ledger.
	now := time.Now().UTC()
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -2, 0)
	start := month.Add(30 * time.Hour)
	err := e.Store.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.InsertRatedLine(ctx, &store.RatedLine{OrgID: org.ID, ResourceKind: "vm", ResourceID: "vm-web", ResourceName: "web",
			Meter: "vcpu", WindowStart: start, WindowEnd: start.Add(time.Hour), Quantity: "1", Unit: "vCPU-hour",
			UnitPrice: "0.0335", Amount: "0.0335", Currency: "AUD", PlanID: "p1", InputHash: "h", RunID: "r1"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&ledger.Ledger{Store: e.Store}).PostUsage(context.Background(), now); err != nil {
		t.Fatal(err)
	}

	run, err := admin.RunInvoices(ctx, month.Format("2006-01"))
	if err != nil || len(run.Invoices) != 1 {
		t.Fatalf("run %+v, %v", run, err)
	}
	var ids []string
	for inv, err := range acme.AllInvoices(ctx, "acme", client.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, inv.ID)
	}
	if len(ids) != 1 || ids[0] != run.Invoices[0].ID {
		t.Fatalf("invoices %v", ids)
	}
	inv, err := acme.GetInvoice(ctx, "acme", ids[0])
	if err != nil || inv.Total != "0.03" || len(inv.Lines) != 1 {
		t.Fatalf("invoice %+v, %v", inv, err)
	}

	var pdf, csv, usage, focus bytes.Buffer
	if err := acme.InvoicePDF(ctx, "acme", inv.ID, &pdf); err != nil || !bytes.HasPrefix(pdf.Bytes(), []byte("%PDF-")) {
		t.Fatalf("PDF %.20q, %v", pdf.Bytes(), err)
	}
	if err := acme.InvoiceCSV(ctx, "acme", inv.ID, &csv); err != nil || !strings.Contains(csv.String(), "0.03") {
		t.Fatalf("CSV %q, %v", csv.String(), err)
	}
	opts := client.UsageOptions{From: month, To: month.AddDate(0, 1, 0)}
	if err := acme.UsageCSV(ctx, "acme", opts, &usage); err != nil || !strings.Contains(usage.String(), "0.0335") {
		t.Fatalf("usage CSV %q, %v", usage.String(), err)
	}
	if err := acme.CostsFOCUS(ctx, "acme", opts, &focus); err != nil || !strings.Contains(focus.String(), "BilledCost") {
		t.Fatalf("FOCUS %q, %v", focus.String(), err)
	}
	opts.Group = "day"
	u, err := acme.GetUsage(ctx, "acme", opts)
	if err != nil || len(u.Items) != 1 || u.Items[0].Key != start.Format(time.DateOnly) || u.Items[0].AmountRounded != "0.03" {
		t.Fatalf("usage %+v, %v", u, err)
	}

	// Another tenant learns nothing of acme's bills; a download refused is
	// an *api.Error, and nothing is written.
	evil, err := admin.CreateOrg(ctx, api.OrganisationCreate{Name: "evil"})
	if err != nil {
		t.Fatal(err)
	}
	eve := e.client(e.Token(e.User("eve@evil.test", store.RoleBinding{OrgID: evil.ID, Role: api.RoleOrgAdmin}), evil.ID, api.RoleOrgAdmin))
	var leak bytes.Buffer
	wantCode(t, eve.InvoicePDF(ctx, "acme", inv.ID, &leak), http.StatusNotFound, api.CodeNotFound)
	_, err = eve.GetBalance(ctx, "acme")
	wantCode(t, err, http.StatusNotFound, api.CodeNotFound)
	if leak.Len() != 0 {
		t.Fatalf("a refused download wrote %q", leak.String())
	}
}
