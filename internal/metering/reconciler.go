package metering

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Reconciler compares what exists (VMs, their state and disks, data disks, snapshots,
// reservation and allocation VDCs) with the open spans and repairs drift:
// a billable resource with no open span gets one from now, an open span of
// something gone or no longer billable is closed at now, and a span whose
// attributes (size, VDC) differ from the resource is closed and reopened.
// Usage lost before a repair stays lost, but never silently: every repair
// is logged and audited with its reason.
//
// It touches only the meters it knows (compute, disk, snapshot,
// reservation, allocation); spans of other meters (public IPs) are left to
// their owners.
type Reconciler struct {
	Store *store.Store
	Log   *slog.Logger
}

// spanKey names the one span a resource may have open on a meter.
type spanKey struct{ resourceID, meter string }

// RunOnce reconciles once, stamping repairs at now. It reads everything in
// one snapshot, then repairs each drifting resource in its own
// transaction after reading it again, so a state change committed in
// between is respected rather than undone.
func (r *Reconciler) RunOnce(ctx context.Context, now time.Time) error {
	now = now.UTC()
	var suspects []spanKey
	err := r.Store.View(ctx, func(tx *store.Tx) error {
		inv, err := tx.MeteringInventory(ctx)
		if err != nil {
			return err
		}
		disks, err := tx.MeteredDisks(ctx)
		if err != nil {
			return err
		}
		open, err := tx.ListSpans(ctx, store.SpanFilter{OpenOnly: true})
		if err != nil {
			return err
		}
		want := expected(inv)
		for i := range disks {
			// Data disks share the disk meter with root disks; their IDs
			// are their own, so the keys never collide.
			if vdc := vdcByID(inv.VDCs, disks[i].VDCID); vdc != nil {
				if s := diskSpan(&disks[i], vdc); s != nil {
					want[spanKey{s.ResourceID, s.Meter}] = s
				}
			}
		}
		suspects = drift(want, open)
		return nil
	})
	if err != nil {
		return fmt.Errorf("reconcile usage spans: %w", err)
	}
	var errs []error
	for _, k := range suspects {
		var done string
		err := r.Store.Tx(ctx, func(tx *store.Tx) (err error) {
			done, err = repair(ctx, tx, k, now)
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("repair %s span of %s: %w", k.meter, k.resourceID, err))
			continue
		}
		if done != "" && r.Log != nil {
			// A repair means some change was not metered: worth a look.
			r.Log.WarnContext(ctx, "usage span repaired", "resource", k.resourceID, "meter", k.meter, "repair", done)
		}
	}
	return errors.Join(errs...)
}

// expected is every span that should be open, by key.
func expected(inv *store.MeteredInventory) map[spanKey]*store.UsageSpan {
	out := map[spanKey]*store.UsageSpan{}
	vdcs := make(map[string]*store.VDC, len(inv.VDCs))
	for i := range inv.VDCs {
		v := &inv.VDCs[i]
		vdcs[v.ID] = v
		if s := vdcSpan(v); s != nil {
			out[spanKey{s.ResourceID, s.Meter}] = s
		}
	}
	vms := make(map[string]*store.VM, len(inv.VMs))
	for i := range inv.VMs {
		vm := &inv.VMs[i]
		vms[vm.ID] = vm
		vdc := vdcs[vm.VDCID]
		if vdc == nil {
			continue
		}
		w := vmSpansIn(vm, vdc)
		for _, s := range []*store.UsageSpan{w.compute, w.disk} {
			if s != nil {
				out[spanKey{s.ResourceID, s.Meter}] = s
			}
		}
	}
	for i := range inv.Snapshots {
		sn := &inv.Snapshots[i]
		vm := vms[sn.VMID]
		if vm == nil || vdcs[vm.VDCID] == nil {
			continue
		}
		if s := snapshotSpanIn(vm, sn, vdcs[vm.VDCID]); s != nil {
			out[spanKey{s.ResourceID, s.Meter}] = s
		}
	}
	return out
}

func vdcByID(vdcs []store.VDC, id string) *store.VDC {
	for i := range vdcs {
		if vdcs[i].ID == id {
			return &vdcs[i]
		}
	}
	return nil
}

// reconciled are the meters the reconciler owns.
var reconciled = []string{rating.SpanCompute, rating.SpanDisk, rating.SpanSnapshot, rating.SpanReservation, rating.SpanAllocation}

// drift lists, in a stable order, the keys whose open span does not match
// what is expected.
func drift(want map[spanKey]*store.UsageSpan, open []store.UsageSpan) []spanKey {
	var out []spanKey
	seen := map[spanKey]bool{}
	for i := range open {
		s := &open[i]
		if !slices.Contains(reconciled, s.Meter) {
			continue
		}
		k := spanKey{s.ResourceID, s.Meter}
		seen[k] = true
		if w := want[k]; w == nil || !same(s, w) {
			out = append(out, k)
		}
	}
	for k := range want {
		if !seen[k] {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b spanKey) int {
		return cmp.Or(cmp.Compare(a.resourceID, b.resourceID), cmp.Compare(a.meter, b.meter))
	})
	return out
}

// repair reads resource k again and makes its open span match it, with an
// audit event saying what and why, which it returns ("" if nothing was
// wrong after all).
func repair(ctx context.Context, tx *store.Tx, k spanKey, now time.Time) (string, error) {
	want, err := current(ctx, tx, k)
	if err != nil {
		return "", err
	}
	before, err := tx.OpenSpanOf(ctx, k.resourceID, k.meter)
	if errors.Is(err, store.ErrNotFound) {
		before, err = nil, nil
	}
	if err != nil {
		return "", err
	}
	var why string
	switch {
	case want == nil && before == nil:
		return "", nil
	case want == nil:
		why = fmt.Sprintf("%s span open since %s, but the %s is gone or no longer billable", k.meter, before.StartedAt.Format(time.RFC3339), before.ResourceKind)
	case before == nil:
		why = fmt.Sprintf("billable %s %s had no open %s span", want.ResourceKind, want.ResourceName, k.meter)
	case !same(before, want):
		why = fmt.Sprintf("open %s span (%s) does not match the %s (%s)", k.meter, describe(before), want.ResourceKind, describe(want))
	default:
		return "", nil
	}
	did, err := syncSpan(ctx, tx, now, want, k.resourceID, k.meter, SourceReconciler, why)
	if err != nil || did == repairNone {
		return "", err
	}
	org, kind := "", ""
	if want != nil {
		org, kind = want.OrgID, want.ResourceKind
	} else {
		org, kind = before.OrgID, before.ResourceKind
	}
	detail := did + ": " + why
	return detail, tx.InsertAudit(ctx, &store.AuditEvent{
		Time: now, ActorType: "system", OrgID: org, Action: "metering.repair", ResourceKind: kind, ResourceID: k.resourceID,
		Outcome: "success", Detail: detail,
	})
}

func describe(s *store.UsageSpan) string {
	switch s.Meter {
	case rating.SpanCompute, rating.SpanReservation, rating.SpanAllocation:
		return fmt.Sprintf("%d vCPU, %d MiB in VDC %s", s.VCPU, s.MemoryMiB, s.VDCID)
	}
	return fmt.Sprintf("%d GiB %s in VDC %s", s.SizeGiB, s.Class, s.VDCID)
}

// current is the span resource k should have open now, read afresh; nil if
// none (the resource is gone or not billable on that meter).
func current(ctx context.Context, tx *store.Tx, k spanKey) (*store.UsageSpan, error) {
	gone := func(err error) (*store.UsageSpan, error) {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	switch k.meter {
	case rating.SpanCompute, rating.SpanDisk:
		vm, err := tx.GetVMByID(ctx, k.resourceID)
		if errors.Is(err, store.ErrNotFound) && k.meter == rating.SpanDisk {
			return currentDataDisk(ctx, tx, k.resourceID)
		}
		if err != nil {
			return gone(err)
		}
		vdc, err := tx.GetVDCByID(ctx, vm.VDCID)
		if err != nil {
			return gone(err)
		}
		w := vmSpansIn(vm, vdc)
		if k.meter == rating.SpanCompute {
			return w.compute, nil
		}
		return w.disk, nil
	case rating.SpanSnapshot:
		sn, err := tx.GetSnapshotByID(ctx, k.resourceID)
		if err != nil {
			return gone(err)
		}
		vm, err := tx.GetVMByID(ctx, sn.VMID)
		if err != nil {
			return gone(err)
		}
		vdc, err := tx.GetVDCByID(ctx, vm.VDCID)
		if err != nil {
			return gone(err)
		}
		return snapshotSpanIn(vm, sn, vdc), nil
	case rating.SpanReservation, rating.SpanAllocation:
		vdc, err := tx.GetVDCByID(ctx, k.resourceID)
		if err != nil {
			return gone(err)
		}
		if s := vdcSpan(vdc); s != nil && s.Meter == k.meter {
			return s, nil
		}
		return nil, nil
	}
	return nil, fmt.Errorf("meter %q is not reconciled", k.meter)
}

// currentDataDisk is the span data disk id should have open, nil if it is
// gone or being deleted.
func currentDataDisk(ctx context.Context, tx *store.Tx, id string) (*store.UsageSpan, error) {
	k, err := tx.GetDiskByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	vdc, err := tx.GetVDCByID(ctx, k.VDCID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return diskSpan(k, vdc), nil
}
