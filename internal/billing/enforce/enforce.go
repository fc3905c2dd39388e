// Package enforce runs each organisation's billing state machine: active ->
// warn (50, 80 and 100 % of the credit used, each announced once) -> grace
// (available balance at or below zero: no new resources) -> suspended (after
// the provider's grace hours: VMs powered off) -> closed (after the
// retention days). A top-up (available above zero) brings grace and
// suspended back to active. The provider can pin a state. Every transition
// is idempotent and written to the audit log in the transaction that makes
// it.
package enforce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/billing/ledger"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Thresholds are the percentages of credit used that are announced.
var thresholds = [...]int{50, 80, 100}

// Event kinds passed to OnEvent.
const (
	EventCreditWarning = "credit.warning" // detail: "80% of credit used: 9.95 AUD left"
	EventStateChanged  = "org.state"      // detail: "grace -> suspended: ..."
)

// Provider overrides (org_billing.override).
const (
	OverrideNone      = ""
	OverrideActive    = api.OrgActive
	OverrideSuspended = api.OrgSuspended
)

// Enforcer runs the state machine. Store and Ledger are required.
type Enforcer struct {
	Store  *store.Store
	Ledger *ledger.Ledger
	Log    *slog.Logger
	// OnEvent hears of warnings and transitions after they commit (for
	// budgets, webhooks and mail); may be nil.
	OnEvent func(orgID, kind, detail string)
}

type event struct{ kind, detail string }

// RunOnce is the body of the enforcement loop: every organisation with a
// grant, usage or an enforcement state is brought to the state its balance
// (or the provider's override) calls for. One organisation's failure does
// not stop the others.
func (e *Enforcer) RunOnce(ctx context.Context, now time.Time) error {
	var ids []string
	err := e.Store.View(ctx, func(tx *store.Tx) error {
		var err error
		ids, err = tx.BillingOrgIDs(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("enforce: %w", err)
	}
	var errs []error
	for _, id := range ids {
		if err := e.RunOrg(ctx, id, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RunOrg enforces one organisation now; the credits API calls it right
// after a top-up so that service comes back at once.
func (e *Enforcer) RunOrg(ctx context.Context, orgID string, now time.Time) error {
	var events []event
	err := e.Store.Tx(ctx, func(tx *store.Tx) error {
		events = nil // the transaction may run again on PostgreSQL
		var err error
		events, err = e.enforce(ctx, tx, orgID, now.UTC())
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil // the organisation is gone
	}
	if err != nil {
		return fmt.Errorf("enforce organisation %s: %w", orgID, err)
	}
	for _, ev := range events {
		if e.Log != nil {
			e.Log.InfoContext(ctx, "billing enforcement", "org", orgID, "event", ev.kind, "detail", ev.detail)
		}
		if e.OnEvent != nil {
			e.OnEvent(orgID, ev.kind, ev.detail)
		}
	}
	return nil
}

func (e *Enforcer) enforce(ctx context.Context, tx *store.Tx, orgID string, now time.Time) ([]event, error) {
	o, err := tx.GetOrg(ctx, orgID)
	if err != nil {
		return nil, err
	}
	b, err := tx.GetOrgBilling(ctx, orgID)
	if err != nil {
		return nil, err
	}
	bal, err := e.Ledger.Balance(ctx, tx, orgID, now)
	if err != nil {
		return nil, err
	}
	prov, err := tx.GetProvider(ctx)
	if err != nil {
		return nil, err
	}
	graceHours, retentionDays := prov.GraceHours, prov.RetentionDays
	before := *b
	before.Warned = slices.Clone(b.Warned)
	var events []event
	audit := func(action, detail string) error {
		return tx.InsertAudit(ctx, &store.AuditEvent{ActorType: "system", OrgID: orgID, Action: action,
			ResourceKind: "org", ResourceID: orgID, Outcome: "success", Detail: detail})
	}

	// Warnings: each threshold once while the credit stays; one the used
	// share falls back under (a top-up) is forgotten, so it fires again.
	if bal.Granted.IsPositive() {
		for _, th := range thresholds {
			reached := bal.Reached(th)
			fired := slices.Contains(b.Warned, th)
			switch {
			case reached && !fired:
				b.Warned = append(b.Warned, th)
				detail := fmt.Sprintf("%d%% of credit used: %s %s available", th, bal.Display, bal.Currency)
				if err := audit("org.credit_warning", detail); err != nil {
					return nil, err
				}
				events = append(events, event{EventCreditWarning, detail})
			case !reached && fired:
				b.Warned = slices.DeleteFunc(b.Warned, func(w int) bool { return w == th })
			}
		}
		slices.Sort(b.Warned)
	}

	// Enforce only organisations that have credit or usage: a new one
	// with neither is at zero without owing anything.
	charged := len(bal.Grants) > 0 || !bal.Owed.IsZero() || !bal.Accrued.IsZero()
	state := o.State
	why := ""
	switch b.Override {
	case OverrideActive:
		state, why = api.OrgActive, "provider override"
		b.GraceSince, b.SuspendedSince = nil, nil
	case OverrideSuspended:
		state, why = api.OrgSuspended, "provider override"
		b.GraceSince = nil
		if b.SuspendedSince == nil {
			b.SuspendedSince = &now
		}
	default:
		// Several steps may be due at once (grace hours of zero, a loop
		// that did not run for a while); each starts its clock now.
		for range 4 {
			next := step(state, b, bal, charged, now, graceHours, retentionDays)
			if next == state {
				break
			}
			why = fmt.Sprintf("available %s %s", bal.Display, bal.Currency)
			state = next
		}
	}
	if state == api.OrgSuspended {
		if err := e.stopVMs(ctx, tx, orgID); err != nil {
			return nil, err
		}
	}
	if state != o.State {
		detail := fmt.Sprintf("%s -> %s: %s", o.State, state, why)
		o.State = state
		if err := tx.UpdateOrg(ctx, o); err != nil {
			return nil, err
		}
		if err := audit("org.billing_state", detail); err != nil {
			return nil, err
		}
		events = append(events, event{EventStateChanged, detail})
	}
	if !sameBilling(&before, b) {
		if err := tx.PutOrgBilling(ctx, b); err != nil {
			return nil, err
		}
	}
	return events, nil
}

// step is one move of the automatic state machine; it updates b's clocks.
func step(state string, b *store.OrgBilling, bal ledger.Balance, charged bool, now time.Time, graceHours, retentionDays int) string {
	if state == api.OrgClosed {
		return state // only the provider reopens a closed organisation
	}
	if !charged || bal.Available.IsPositive() {
		b.GraceSince, b.SuspendedSince = nil, nil
		if len(b.Warned) > 0 {
			return api.OrgWarn
		}
		return api.OrgActive
	}
	switch state {
	case api.OrgActive, api.OrgWarn:
		b.GraceSince = &now
		return api.OrgGrace
	case api.OrgGrace:
		if b.GraceSince == nil {
			b.GraceSince = &now
		}
		if !now.Before(b.GraceSince.Add(time.Duration(graceHours) * time.Hour)) {
			b.SuspendedSince = &now
			return api.OrgSuspended
		}
	case api.OrgSuspended:
		if b.SuspendedSince == nil {
			b.SuspendedSince = &now
		}
		if !now.Before(b.SuspendedSince.Add(time.Duration(retentionDays) * 24 * time.Hour)) {
			return api.OrgClosed
		}
	}
	return state
}

// stopVMs sets every running VM of a suspended organisation to stopped, so
// hosts power them off, and detaches its public addresses (kept allocated,
// and billed, for the tenant to attach again). Disks are kept. The tenant
// starts its VMs again after a top-up.
func (e *Enforcer) stopVMs(ctx context.Context, tx *store.Tx, orgID string) error {
	hosts, err := tx.DetachOrgPublicIPs(ctx, orgID)
	if err != nil {
		return err
	}
	for _, h := range hosts {
		if err := tx.BumpHostGeneration(ctx, h); err != nil {
			return err
		}
	}
	if len(hosts) > 0 {
		if err := tx.InsertAudit(ctx, &store.AuditEvent{ActorType: "system", OrgID: orgID, Action: "public-ip.detach",
			ResourceKind: "org", ResourceID: orgID, Outcome: "success", Detail: "organisation suspended: public IPs detached"}); err != nil {
			return err
		}
	}
	page := store.Page{Limit: store.MaxLimit}
	for {
		vms, next, err := tx.ListVMs(ctx, store.VMFilter{OrgID: orgID}, page)
		if err != nil {
			return err
		}
		for i := range vms {
			v := &vms[i]
			if v.Power != store.PowerRunning {
				continue
			}
			v.Power = store.PowerStopped
			if err := tx.UpdateVM(ctx, v, true); err != nil {
				return err
			}
			if err := tx.InsertAudit(ctx, &store.AuditEvent{ActorType: "system", OrgID: orgID, Action: "vm.stop",
				ResourceKind: "vm", ResourceID: v.ID, Outcome: "success", Detail: v.Name + ": organisation suspended"}); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		page.Cursor = next
	}
}

func sameBilling(a, b *store.OrgBilling) bool {
	eq := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	return slices.Equal(a.Warned, b.Warned) && eq(a.GraceSince, b.GraceSince) && eq(a.SuspendedSince, b.SuspendedSince) &&
		a.Override == b.Override
}
