package server

import (
	"context"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// isoBilling gives the isolation matrix alpha's billing objects (budgets,
// webhooks, a finalized invoice, a future price override) and the
// provider's (a plan in force for au-syd and one not yet, a provider
// webhook), written to the store.
func isoBilling(t *testing.T, e *env, org string) isoComputeObjects {
	t.Helper()
	ctx := context.Background()
	out := isoComputeObjects{refs: map[string][]isoRef{}, secrets: map[string]string{}}
	mine := func(kind, label, id string) {
		out.refs[kind] = []isoRef{{label: label, value: id, ghost: store.NewID()}}
		out.secrets[id] = label + " ID"
	}
	rates := `{"vcpu_hour": "0.02", "memory_gib_hour": "0.005", "disk_gib_hour": {"standard": "0.0002"}}`
	err := e.store.Tx(ctx, func(tx *store.Tx) error {
		prov, err := tx.GetProvider(ctx)
		if err != nil {
			return err
		}
		for _, p := range []struct {
			kind string
			from time.Time
		}{{"price-plan", time.Now().Add(-24 * time.Hour)}, {"future-plan", time.Now().AddDate(1, 0, 0)}} {
			pp := &store.PricePlan{RegionID: "au-syd", Model: api.AllocationPAYG, EffectiveFrom: p.from, Currency: prov.Currency, Rates: rates}
			if err := tx.CreatePricePlan(ctx, pp); err != nil {
				return err
			}
			out.refs[p.kind] = []isoRef{{label: "price plan " + p.kind, value: pp.ID}}
		}
		ov := &store.PriceOverride{OrgID: org, EffectiveFrom: time.Now().AddDate(1, 0, 0), DiscountPercent: "10", Rates: "{}"}
		if err := tx.CreatePriceOverride(ctx, ov); err != nil {
			return err
		}
		mine("future-override", "alpha's price override", ov.ID)
		for _, b := range []struct{ kind, name string }{{"budget", "monthly"}, {"budget-del", "spare"}} {
			bu := &store.Budget{OrgID: org, Name: b.name, Amount: "100", Thresholds: []int{50, 80, 100}}
			if err := tx.CreateBudget(ctx, bu); err != nil {
				return err
			}
			mine(b.kind, "alpha's budget "+b.name, bu.ID)
		}
		for _, w := range []struct{ kind, owner, url string }{
			{"webhook", org, "https://hooks.alpha.test/in"}, {"webhook-del", org, "https://hooks.alpha.test/old"},
			{"provider-webhook", "", "https://ops.provider.test/in"},
		} {
			wh := &store.Webhook{OrgID: w.owner, URL: w.url, Secret: "whsec_test", Active: true}
			if err := tx.CreateWebhook(ctx, wh); err != nil {
				return err
			}
			if w.owner == "" {
				out.refs[w.kind] = []isoRef{{label: "the provider's webhook", value: wh.ID}}
				continue
			}
			mine(w.kind, "alpha's webhook", wh.ID)
			out.secrets[w.url] = "alpha's webhook URL"
		}
		month := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
		inv := &store.Invoice{OrgID: org, Kind: store.InvoiceKindInvoice, PeriodStart: month, PeriodEnd: month.AddDate(0, 1, 0),
			State: store.InvoiceDraft, Currency: prov.Currency, Subtotal: "0", Credits: "0", Total: "0"}
		if err := tx.CreateInvoice(ctx, inv); err != nil {
			return err
		}
		if _, err := tx.FinalizeInvoice(ctx, inv.ID); err != nil {
			return err
		}
		mine("invoice", "alpha's invoice", inv.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("billing fixture: %v", err)
	}
	return out
}
