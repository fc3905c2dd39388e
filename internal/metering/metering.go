// Package metering turns state changes into usage spans: each function here
// runs inside the transaction of the change it meters, stamped with the
// transaction's clock, so a change and its span commit or roll back
// together. The Reconciler repairs whatever drift is left (a bug, a change
// made without metering) with an audited reason.
package metering

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Sources of spans (store.UsageSpan.Source).
const (
	SourceAPI        = "api"        // a change the API made
	SourceAgent      = "agent"      // a state a host reported
	SourceReconciler = "reconciler" // a repair
)

// Resource kinds of spans.
const (
	KindVM       = "vm"
	KindDisk     = "disk"
	KindSnapshot = "snapshot"
	KindVDC      = "vdc"
)

// DiskClass is the class of root disks: the only one so far.
const DiskClass = "standard"

// VMObserved meters a host's report about a VM: a compute span opens when
// the VM becomes running and closes when it leaves running (stopped, error,
// or gone: after nil). Each power-on gets a new PowerOnID, which the 60 s
// minimum applies to. Call it in the transaction that stores the report,
// with the VM as it was (before; nil for a new VM) and as it is now.
func VMObserved(ctx context.Context, tx *store.Tx, before, after *store.VM) error {
	was, is := running(before), running(after)
	switch {
	case !was && is:
		return ensureOpen(ctx, tx, after, SourceAgent)
	case was && !is:
		return closeIfOpen(ctx, tx, before.ID, rating.SpanCompute)
	}
	return nil
}

func running(v *store.VM) bool { return v != nil && v.State == api.VMRunning }

// ensureOpen opens a compute span for vm unless one is open: a repeated
// report, or one after the reconciler opened the span, changes nothing.
func ensureOpen(ctx context.Context, tx *store.Tx, vm *store.VM, source string) error {
	want, err := vmSpans(ctx, tx, vm)
	if err != nil {
		return err
	}
	_, err = syncSpan(ctx, tx, tx.Now(), want.compute, vm.ID, rating.SpanCompute, source, "")
	return err
}

// VMResized meters a change of a VM's size: its compute span (if running:
// same power-on, so no new minimum) and its disk span close and reopen at
// the new size. Call it after the VM's fields hold the new size. Spans
// already at that size are left alone, so calling it twice is harmless.
func VMResized(ctx context.Context, tx *store.Tx, vm *store.VM) error {
	want, err := vmSpans(ctx, tx, vm)
	if err != nil {
		return err
	}
	if running(vm) {
		if _, err := syncSpan(ctx, tx, tx.Now(), want.compute, vm.ID, rating.SpanCompute, SourceAPI, "resized"); err != nil {
			return err
		}
	}
	_, err = syncSpan(ctx, tx, tx.Now(), want.disk, vm.ID, rating.SpanDisk, SourceAPI, "resized")
	return err
}

// VMCreated opens the span of a new VM's root disk (resource ID = the VM's
// ID, class standard), billed from creation, VM on or off.
func VMCreated(ctx context.Context, tx *store.Tx, vm *store.VM) error {
	want, err := vmSpans(ctx, tx, vm)
	if err != nil {
		return err
	}
	_, err = syncSpan(ctx, tx, tx.Now(), want.disk, vm.ID, rating.SpanDisk, SourceAPI, "")
	return err
}

// VMDeleted closes every span of a VM whose row goes: compute (if still
// open), root disk and the spans of its snapshots. Call it before
// tx.DeleteVM, which takes the snapshots with it.
func VMDeleted(ctx context.Context, tx *store.Tx, vm *store.VM) error {
	for _, meter := range []string{rating.SpanCompute, rating.SpanDisk} {
		if err := closeIfOpen(ctx, tx, vm.ID, meter); err != nil {
			return err
		}
	}
	snaps, err := tx.ListSnapshots(ctx, vm.ID)
	if err != nil {
		return err
	}
	for _, sn := range snaps {
		if err := closeIfOpen(ctx, tx, sn.ID, rating.SpanSnapshot); err != nil {
			return err
		}
	}
	return nil
}

// SnapshotReady opens the span of a snapshot its host has taken. Its size
// is the VM's disk size: an upper bound (the snapshot holds at most the
// whole disk; hosts do not report the real size yet).
func SnapshotReady(ctx context.Context, tx *store.Tx, vm *store.VM, sn *store.Snapshot) error {
	want, err := snapshotSpan(ctx, tx, vm, sn)
	if err != nil {
		return err
	}
	_, err = syncSpan(ctx, tx, tx.Now(), want, sn.ID, rating.SpanSnapshot, SourceAgent, "")
	return err
}

// SnapshotDeleted closes a snapshot's span when its row goes.
func SnapshotDeleted(ctx context.Context, tx *store.Tx, sn *store.Snapshot) error {
	return closeIfOpen(ctx, tx, sn.ID, rating.SpanSnapshot)
}

// VDCCreated opens the span of a reservation or allocation VDC (meter =
// its model; vCPU and memory = its quotas). Pay-as-you-go VDCs cost
// nothing of themselves and have none.
func VDCCreated(ctx context.Context, tx *store.Tx, vdc *store.VDC) error {
	_, err := syncSpan(ctx, tx, tx.Now(), vdcSpan(vdc), vdc.ID, vdcMeter(vdc), SourceAPI, "")
	return err
}

// VDCUpdated closes and reopens a VDC's span when its quotas (what it
// reserves or guarantees) changed; otherwise it changes nothing.
func VDCUpdated(ctx context.Context, tx *store.Tx, vdc *store.VDC) error {
	_, err := syncSpan(ctx, tx, tx.Now(), vdcSpan(vdc), vdc.ID, vdcMeter(vdc), SourceAPI, "quotas changed")
	return err
}

// VDCDeleted closes a VDC's span when its row goes.
func VDCDeleted(ctx context.Context, tx *store.Tx, vdc *store.VDC) error {
	if m := vdcMeter(vdc); m != "" {
		return closeIfOpen(ctx, tx, vdc.ID, m)
	}
	return nil
}

// vmWant is what spans a VM should have open: compute nil unless running.
type vmWant struct {
	compute, disk *store.UsageSpan
}

// vmSpans builds the spans a VM should have open now, with the region and
// allocation model of its VDC.
func vmSpans(ctx context.Context, tx *store.Tx, vm *store.VM) (vmWant, error) {
	vdc, err := tx.GetVDCByID(ctx, vm.VDCID)
	if err != nil {
		return vmWant{}, fmt.Errorf("meter vm %s: %w", vm.ID, err)
	}
	return vmSpansIn(vm, vdc), nil
}

func vmSpansIn(vm *store.VM, vdc *store.VDC) vmWant {
	base := store.UsageSpan{OrgID: vm.OrgID, VDCID: vm.VDCID, RegionID: vdc.RegionID, Model: vdc.AllocationModel, ResourceID: vm.ID}
	disk := base
	disk.ResourceKind, disk.ResourceName, disk.Meter, disk.SizeGiB, disk.Class = KindDisk, vm.Name+" root disk", rating.SpanDisk, vm.DiskGiB, DiskClass
	w := vmWant{disk: &disk}
	if running(vm) {
		c := base
		c.ResourceKind, c.ResourceName, c.Meter, c.VCPU, c.MemoryMiB = KindVM, vm.Name, rating.SpanCompute, vm.VCPU, vm.MemoryMiB
		w.compute = &c
	}
	return w
}

func snapshotSpan(ctx context.Context, tx *store.Tx, vm *store.VM, sn *store.Snapshot) (*store.UsageSpan, error) {
	vdc, err := tx.GetVDCByID(ctx, vm.VDCID)
	if err != nil {
		return nil, fmt.Errorf("meter snapshot %s: %w", sn.ID, err)
	}
	return snapshotSpanIn(vm, sn, vdc), nil
}

// snapshotSpanIn is a snapshot's span while it is billed: from ready until
// its row goes (deleting included: the host still holds it).
func snapshotSpanIn(vm *store.VM, sn *store.Snapshot, vdc *store.VDC) *store.UsageSpan {
	if sn.State != store.SnapshotReady && sn.State != store.SnapshotDeleting {
		return nil
	}
	return &store.UsageSpan{OrgID: vm.OrgID, VDCID: vm.VDCID, RegionID: vdc.RegionID, Model: vdc.AllocationModel,
		ResourceKind: KindSnapshot, ResourceID: sn.ID, ResourceName: vm.Name + "/" + sn.Name, Meter: rating.SpanSnapshot,
		SizeGiB: vm.DiskGiB}
}

func vdcMeter(vdc *store.VDC) string {
	switch vdc.AllocationModel {
	case api.AllocationReservation:
		return rating.SpanReservation
	case api.AllocationAllocation:
		return rating.SpanAllocation
	}
	return ""
}

func vdcSpan(vdc *store.VDC) *store.UsageSpan {
	m := vdcMeter(vdc)
	if m == "" {
		return nil
	}
	return &store.UsageSpan{OrgID: vdc.OrgID, VDCID: vdc.ID, RegionID: vdc.RegionID, Model: vdc.AllocationModel,
		ResourceKind: KindVDC, ResourceID: vdc.ID, ResourceName: vdc.Name, Meter: m, VCPU: vdc.Quotas.VCPU, MemoryMiB: vdc.Quotas.MemoryMiB}
}

// What syncSpan did.
const (
	repairNone   = ""
	repairOpened = "opened"
	repairClosed = "closed"
	repairReopen = "reopened"
)

// syncSpan makes the open span of resource on meter match want (nil: none
// open) at now: it opens, closes, or closes and reopens
// (keeping the power-on, so a resize starts no new minimum) when the
// attributes differ. It reports what it did.
func syncSpan(ctx context.Context, tx *store.Tx, now time.Time, want *store.UsageSpan, resourceID, meter, source, reason string) (string, error) {
	if meter == "" {
		return repairNone, nil
	}
	open, err := tx.OpenSpanOf(ctx, resourceID, meter)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if err != nil {
		open = nil
	}
	switch {
	case want == nil && open == nil:
		return repairNone, nil
	case want == nil:
		_, err := tx.CloseSpan(ctx, resourceID, meter, now)
		return repairClosed, err
	case open != nil && same(open, want):
		return repairNone, nil
	}
	did := repairOpened
	s := *want
	s.StartedAt, s.Source, s.Reason = now, source, reason
	if open != nil {
		if _, err := tx.CloseSpan(ctx, resourceID, meter, now); err != nil {
			return "", err
		}
		s.PowerOnID, did = open.PowerOnID, repairReopen
	}
	if s.Meter == rating.SpanCompute && s.PowerOnID == "" {
		s.PowerOnID = store.NewID()
	}
	return did, tx.OpenSpan(ctx, &s)
}

// same reports whether an open span bills what want describes.
func same(open, want *store.UsageSpan) bool {
	return open.OrgID == want.OrgID && open.VDCID == want.VDCID && open.RegionID == want.RegionID && open.Model == want.Model &&
		open.ResourceKind == want.ResourceKind && open.VCPU == want.VCPU && open.MemoryMiB == want.MemoryMiB &&
		open.SizeGiB == want.SizeGiB && open.Class == want.Class
}

// closeIfOpen closes the open span of resource on meter at the
// transaction's time, if there is one.
func closeIfOpen(ctx context.Context, tx *store.Tx, resourceID, meter string) error {
	_, err := tx.CloseSpan(ctx, resourceID, meter, tx.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// KindPublicIP is the resource kind of a public address's spans.
const KindPublicIP = "public_ip"

// PublicIPAllocated opens a public address's span: it is charged from
// allocation to release, attached or not. The price is its VDC's region and
// model (an address kept without a VDC is priced as pay-as-you-go in its
// region).
func PublicIPAllocated(ctx context.Context, tx *store.Tx, ip *store.PublicIP) error {
	s := &store.UsageSpan{OrgID: ip.OrgID, VDCID: ip.VDCID, RegionID: ip.RegionID, Model: api.AllocationPAYG,
		ResourceKind: KindPublicIP, ResourceID: ip.ID, ResourceName: ip.Address, Meter: rating.SpanPublicIP}
	if ip.VDCID != "" {
		vdc, err := tx.GetVDCByID(ctx, ip.VDCID)
		if err != nil {
			return err
		}
		s.Model = vdc.AllocationModel
	}
	_, err := syncSpan(ctx, tx, tx.Now(), s, ip.ID, rating.SpanPublicIP, SourceAPI, "")
	return err
}

// PublicIPReleased closes a public address's span.
func PublicIPReleased(ctx context.Context, tx *store.Tx, ip *store.PublicIP) error {
	return closeIfOpen(ctx, tx, ip.ID, rating.SpanPublicIP)
}

// diskSpan is the span a data disk should have open: one while it exists
// and is not being deleted, billed like a root disk (meter disk, class
// standard) at its size, in its VDC's region and model.
func diskSpan(k *store.Disk, vdc *store.VDC) *store.UsageSpan {
	if k.State == store.DiskDeleting {
		return nil
	}
	return &store.UsageSpan{OrgID: k.OrgID, VDCID: k.VDCID, RegionID: vdc.RegionID, Model: vdc.AllocationModel,
		ResourceKind: KindDisk, ResourceID: k.ID, ResourceName: k.Name, Meter: rating.SpanDisk, SizeGiB: k.SizeGiB, Class: DiskClass}
}

// syncDisk makes a data disk's open span match it.
func syncDisk(ctx context.Context, tx *store.Tx, k *store.Disk, reason string) error {
	vdc, err := tx.GetVDCByID(ctx, k.VDCID)
	if err != nil {
		return fmt.Errorf("meter disk %s: %w", k.ID, err)
	}
	_, err = syncSpan(ctx, tx, tx.Now(), diskSpan(k, vdc), k.ID, rating.SpanDisk, SourceAPI, reason)
	return err
}

// DiskCreated opens a new data disk's span: it is charged per GiB from
// creation to deletion, attached or not, VM on or off.
func DiskCreated(ctx context.Context, tx *store.Tx, k *store.Disk) error {
	return syncDisk(ctx, tx, k, "")
}

// DiskResized closes a data disk's span and opens one at its new size.
// Call it after k holds the new size.
func DiskResized(ctx context.Context, tx *store.Tx, k *store.Disk) error {
	return syncDisk(ctx, tx, k, "resized")
}

// DiskDeleted closes a data disk's span when it is deleted (its file may
// stay on the host a little longer; the tenant no longer has it).
func DiskDeleted(ctx context.Context, tx *store.Tx, k *store.Disk) error {
	return closeIfOpen(ctx, tx, k.ID, rating.SpanDisk)
}
