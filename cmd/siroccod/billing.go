package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/billing/enforce"
	"github.com/sirocco-cloud/sirocco/internal/billing/invoice"
	"github.com/sirocco-cloud/sirocco/internal/billing/ledger"
	"github.com/sirocco-cloud/sirocco/internal/billing/notify"
	"github.com/sirocco-cloud/sirocco/internal/billing/rater"
	"github.com/sirocco-cloud/sirocco/internal/loop"
	"github.com/sirocco-cloud/sirocco/internal/mail"
	"github.com/sirocco-cloud/sirocco/internal/metering"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// billingLoops are the singleton loops that turn usage into money: rate
// closed hours, charge them to the ledger, enforce credit, invoice months,
// watch budgets, deliver webhooks, and repair metering drift.
func billingLoops(st *store.Store, m mail.Sender, log *slog.Logger) []loop.Loop {
	log = log.With("component", "billing")
	led := &ledger.Ledger{Store: st}
	notifier := &notify.Notifier{Store: st, Mail: m, Log: log}
	events := map[string]string{"credit.warning": api.EventBillingThreshold, "org.state": api.EventBillingState}
	enf := &enforce.Enforcer{Store: st, Ledger: led, Log: log, OnEvent: func(orgID, kind, detail string) {
		typ, ok := events[kind]
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := st.Tx(ctx, func(tx *store.Tx) error {
			return notifier.Event(ctx, tx, orgID, typ, map[string]string{"detail": detail})
		})
		if err != nil {
			log.Warn("billing event not queued", "org", orgID, "type", typ, "err", err)
		}
	}}
	rate := &rater.Rater{Store: st}
	inv := &invoice.Invoicer{Store: st, OnFinalized: func(ctx context.Context, tx *store.Tx, in *store.Invoice) error {
		number := int64(0)
		if in.Number != nil {
			number = *in.Number
		}
		return notifier.Event(ctx, tx, in.OrgID, api.EventInvoiceFinalized, map[string]any{"invoice": in.ID, "number": number,
			"kind": in.Kind, "total": in.Total, "currency": in.Currency})
	}}
	recon := &metering.Reconciler{Store: st, Log: log}
	now := func(run func(context.Context, time.Time) error) func(context.Context) error {
		return func(ctx context.Context) error { return run(ctx, time.Now()) }
	}
	return []loop.Loop{
		{Name: "rating", Every: time.Minute, Singleton: true, Run: now(rate.RunOnce)},
		{Name: "billing-post", Every: time.Minute, Singleton: true, Run: now(led.PostUsage)},
		{Name: "enforcement", Every: time.Minute, Singleton: true, Run: now(enf.RunOnce)},
		{Name: "invoicing", Every: time.Hour, Singleton: true, Run: now(inv.RunOnce)},
		{Name: "budgets", Every: 5 * time.Minute, Singleton: true, Run: now(notifier.CheckBudgets)},
		{Name: "webhooks", Every: 10 * time.Second, Singleton: true, Run: now(notifier.DeliverOnce)},
		{Name: "resource-webhooks", Every: 5 * time.Second, Singleton: true, Run: now(notifier.ForwardAudit)},
		{Name: "metering-reconciler", Every: 5 * time.Minute, Singleton: true, Run: now(recon.RunOnce)},
	}
}
