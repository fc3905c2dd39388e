package metering_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
	"github.com/sirocco-cloud/sirocco/internal/metering"
	"github.com/sirocco-cloud/sirocco/internal/store"
	"github.com/sirocco-cloud/sirocco/internal/store/storetest"
)

// clock is the store's clock in a test: state changes are stamped with it.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// set moves the clock to hh:mm:ss on 10 March 2026 (UTC).
func (c *clock) set(hms string) time.Time {
	t, err := time.Parse(time.DateTime, "2026-03-10 "+hms)
	if err != nil {
		panic(err)
	}
	c.now = t
	return t
}

// fixture is a store with one region (de), zone and host, an organisation
// with a payg and a reservation VDC, a size and an image.
type fixture struct {
	t           *testing.T
	s           *store.Store
	clock       *clock
	org         string
	payg, resv  *store.VDC
	image, host string
}

// forEachEngine runs fn on a fresh fixture on SQLite and on PostgreSQL.
func forEachEngine(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, c := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "sirocco.db") }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresURL(t) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := &clock{}
			clk.set("09:00:00")
			s, err := store.Open(context.Background(), c.dsn(t), store.Options{Now: clk.Now})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			fn(t, newFixture(t, s, clk))
		})
	}
}

func newFixture(t *testing.T, s *store.Store, clk *clock) *fixture {
	f := &fixture{t: t, s: s, clock: clk, host: "h-de"}
	f.tx(func(ctx context.Context, tx *store.Tx) error {
		if err := tx.CreateRegion(ctx, &store.Region{Meta: store.Meta{ID: "de"}, Jurisdiction: "DE"}); err != nil {
			return err
		}
		if err := tx.CreateZone(ctx, &store.Zone{Meta: store.Meta{ID: "de-1a"}, RegionID: "de"}); err != nil {
			return err
		}
		if err := tx.CreateHost(ctx, &store.Host{Meta: store.Meta{ID: f.host}, ZoneID: "de-1a", State: "ready", VCPU: 64,
			MemoryMiB: 1 << 18, DiskGiB: 10000, CPUOvercommit: 1, MemoryOvercommit: 1}); err != nil {
			return err
		}
		if err := tx.CreateSize(ctx, &store.Size{Meta: store.Meta{ID: "small"}, VCPU: 2, MemoryMiB: 4096, DiskGiB: 20}); err != nil {
			return err
		}
		o := &store.Org{Name: "acme", State: api.OrgActive}
		if err := tx.CreateOrg(ctx, o); err != nil {
			return err
		}
		f.org = o.ID
		f.payg = &store.VDC{OrgID: o.ID, Name: "main", ZoneID: "de-1a", RegionID: "de", AllocationModel: api.AllocationPAYG,
			Quotas: store.Quotas{VCPU: 100, MemoryMiB: 1 << 20, DiskGiB: 10000, VMs: 100}}
		f.resv = &store.VDC{OrgID: o.ID, Name: "reserved", ZoneID: "de-1a", RegionID: "de", AllocationModel: api.AllocationReservation,
			Quotas: store.Quotas{VCPU: 8, MemoryMiB: 16384, DiskGiB: 500, VMs: 10}}
		for _, v := range []*store.VDC{f.payg, f.resv} {
			if err := tx.CreateVDC(ctx, v); err != nil {
				return err
			}
		}
		im := &store.Image{Name: "debian-12", Kind: "disk", State: "available"}
		if err := tx.CreateImage(ctx, im); err != nil {
			return err
		}
		f.image = im.ID
		return nil
	})
	return f
}

func (f *fixture) tx(fn func(ctx context.Context, tx *store.Tx) error) {
	f.t.Helper()
	ctx := context.Background()
	if err := f.s.Tx(ctx, func(tx *store.Tx) error { return fn(ctx, tx) }); err != nil {
		f.t.Fatal(err)
	}
}

// createVM stores a VM of size small in vdc and meters its disk, as the
// API does.
func (f *fixture) createVM(vdc *store.VDC, name string) *store.VM {
	f.t.Helper()
	v := &store.VM{OrgID: f.org, VDCID: vdc.ID, Name: name, Hostname: name, ImageID: f.image, SizeID: "small",
		VCPU: 2, MemoryMiB: 4096, DiskGiB: 20, HostID: f.host, Power: store.PowerRunning, StopTimeout: 60}
	f.tx(func(ctx context.Context, tx *store.Tx) error {
		if err := tx.CreateVM(ctx, v); err != nil {
			return err
		}
		return metering.VMCreated(ctx, tx, v)
	})
	return v
}

// observe records a host's report of state for vm and meters it, as the
// agent sync does.
func (f *fixture) observe(vm *store.VM, state string) *store.VM {
	f.t.Helper()
	var after *store.VM
	f.tx(func(ctx context.Context, tx *store.Tx) error {
		before, err := tx.GetVMByID(ctx, vm.ID)
		if err != nil {
			return err
		}
		if after, err = tx.ObserveVM(ctx, f.host, store.ObservedVM{ID: vm.ID, State: state, Generation: before.Generation}); err != nil {
			return err
		}
		return metering.VMObserved(ctx, tx, before, after)
	})
	return after
}

func (f *fixture) spans(resourceID, meter string) []store.UsageSpan {
	f.t.Helper()
	var all []store.UsageSpan
	err := f.s.View(context.Background(), func(tx *store.Tx) (err error) {
		all, err = tx.ListSpans(context.Background(), store.SpanFilter{})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []store.UsageSpan
	for _, s := range all {
		if s.ResourceID == resourceID && s.Meter == meter {
			out = append(out, s)
		}
	}
	return out
}

// interval renders spans as "start-end" (hh:mm:ss, end "open"), for
// comparison with what a user would work out by hand.
func interval(spans []store.UsageSpan) string {
	var b []string
	for _, s := range spans {
		end := "open"
		if s.EndedAt != nil {
			end = s.EndedAt.Format(time.TimeOnly)
		}
		b = append(b, s.StartedAt.Format(time.TimeOnly)+"-"+end)
	}
	return strings.Join(b, " ")
}

func TestComputeBilledWhileRunning(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		vm := f.createVM(f.payg, "web")
		f.clock.set("09:00:30")
		f.observe(vm, api.VMStarting)
		f.clock.set("09:01:00")
		f.observe(vm, api.VMRunning)
		f.clock.set("09:05:00")
		f.observe(vm, api.VMRunning) // a repeated report changes nothing
		f.clock.set("09:20:30")
		f.observe(vm, api.VMStopping)
		f.clock.set("09:21:00")
		f.observe(vm, api.VMStopped)
		f.clock.set("10:00:00")
		f.observe(vm, api.VMRunning)
		f.clock.set("10:00:20")
		f.observe(vm, api.VMError)

		compute := f.spans(vm.ID, rating.SpanCompute)
		if got, want := interval(compute), "09:01:00-09:20:30 10:00:00-10:00:20"; got != want {
			t.Fatalf("compute spans %s, want %s", got, want)
		}
		first := compute[0]
		if first.VCPU != 2 || first.MemoryMiB != 4096 || first.RegionID != "de" || first.Model != api.AllocationPAYG ||
			first.VDCID != f.payg.ID || first.OrgID != f.org || first.ResourceKind != "vm" || first.ResourceName != "web" || first.Source != "agent" {
			t.Fatalf("compute span %+v", first)
		}
		// Each power-on is its own: the 20 s one is charged its 60 s
		// minimum apart from the first.
		if compute[0].PowerOnID == "" || compute[0].PowerOnID == compute[1].PowerOnID {
			t.Fatalf("power-on IDs %q and %q, want two different ones", compute[0].PowerOnID, compute[1].PowerOnID)
		}
		// The root disk is billed from creation, on or off.
		disk := f.spans(vm.ID, rating.SpanDisk)
		if got := interval(disk); got != "09:00:00-open" || disk[0].SizeGiB != 20 || disk[0].Class != "standard" || disk[0].ResourceKind != "disk" {
			t.Fatalf("disk spans %s %+v, want one open from creation, 20 GiB standard", got, disk)
		}
	})
}

func TestResizeStartsNewSpanNotNewPowerOn(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		vm := f.createVM(f.payg, "db")
		f.clock.set("10:00:00")
		vm = f.observe(vm, api.VMRunning)
		f.clock.set("10:20:30")
		resize := func() {
			f.tx(func(ctx context.Context, tx *store.Tx) error {
				v, err := tx.GetVMByID(ctx, vm.ID)
				if err != nil {
					return err
				}
				v.VCPU, v.MemoryMiB, v.DiskGiB = 4, 8192, 40
				if err := tx.UpdateVM(ctx, v, true); err != nil {
					return err
				}
				return metering.VMResized(ctx, tx, v)
			})
		}
		resize()
		f.clock.set("10:25:00")
		resize() // the same size again: nothing to change
		compute := f.spans(vm.ID, rating.SpanCompute)
		if got, want := interval(compute), "10:00:00-10:20:30 10:20:30-open"; got != want {
			t.Fatalf("compute spans %s, want %s", got, want)
		}
		if compute[0].VCPU != 2 || compute[1].VCPU != 4 || compute[1].MemoryMiB != 8192 {
			t.Fatalf("sizes %d then %d vCPU, want 2 then 4", compute[0].VCPU, compute[1].VCPU)
		}
		if compute[0].PowerOnID != compute[1].PowerOnID {
			t.Fatalf("a resize started a new power-on (%q, %q): it would be charged a second minimum", compute[0].PowerOnID, compute[1].PowerOnID)
		}
		disk := f.spans(vm.ID, rating.SpanDisk)
		if got, want := interval(disk), "09:00:00-10:20:30 10:20:30-open"; got != want || disk[1].SizeGiB != 40 {
			t.Fatalf("disk spans %s (%+v), want %s at 40 GiB", got, disk, want)
		}
	})
}

func TestDeletedVMStopsEveryCharge(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		vm := f.createVM(f.payg, "web")
		f.clock.set("10:00:00")
		vm = f.observe(vm, api.VMRunning)
		sn := &store.Snapshot{VMID: vm.ID, OrgID: f.org, Name: "pre-upgrade"}
		other := &store.Snapshot{VMID: vm.ID, OrgID: f.org, Name: "old"}
		f.tx(func(ctx context.Context, tx *store.Tx) error {
			for _, s := range []*store.Snapshot{sn, other} {
				if err := tx.CreateSnapshot(ctx, s); err != nil {
					return err
				}
			}
			return nil
		})
		f.clock.set("10:05:00")
		f.tx(func(ctx context.Context, tx *store.Tx) error {
			for _, s := range []*store.Snapshot{sn, other} {
				s.State = store.SnapshotReady
				if err := tx.UpdateSnapshot(ctx, s); err != nil {
					return err
				}
				if err := metering.SnapshotReady(ctx, tx, vm, s); err != nil {
					return err
				}
			}
			return nil
		})
		f.clock.set("10:30:00")
		f.tx(func(ctx context.Context, tx *store.Tx) error {
			if err := metering.SnapshotDeleted(ctx, tx, other); err != nil {
				return err
			}
			return tx.DeleteSnapshot(ctx, other.ID)
		})
		snap := f.spans(sn.ID, rating.SpanSnapshot)
		if len(snap) != 1 || snap[0].SizeGiB != 20 || snap[0].ResourceKind != "snapshot" || snap[0].ResourceName != "web/pre-upgrade" {
			t.Fatalf("snapshot spans %+v, want one of 20 GiB (the disk's size)", snap)
		}
		if got := interval(f.spans(other.ID, rating.SpanSnapshot)); got != "10:05:00-10:30:00" {
			t.Fatalf("deleted snapshot billed %s, want 10:05:00-10:30:00", got)
		}
		f.clock.set("11:00:00")
		f.tx(func(ctx context.Context, tx *store.Tx) error {
			v, err := tx.GetVMByID(ctx, vm.ID)
			if err != nil {
				return err
			}
			if err := metering.VMDeleted(ctx, tx, v); err != nil {
				return err
			}
			return tx.DeleteVM(ctx, v.ID)
		})
		for _, c := range []struct{ id, meter, want string }{
			{vm.ID, rating.SpanCompute, "10:00:00-11:00:00"},
			{vm.ID, rating.SpanDisk, "09:00:00-11:00:00"},
			{sn.ID, rating.SpanSnapshot, "10:05:00-11:00:00"},
		} {
			if got := interval(f.spans(c.id, c.meter)); got != c.want {
				t.Errorf("%s after delete: %s, want %s", c.meter, got, c.want)
			}
		}
	})
}

func TestReservationVDCBilledForItsQuotas(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		f.clock.set("09:30:00")
		alloc := &store.VDC{OrgID: f.org, Name: "burst", ZoneID: "de-1a", AllocationModel: api.AllocationAllocation,
			Quotas: store.Quotas{VCPU: 4, MemoryMiB: 8192}}
		f.tx(func(ctx context.Context, tx *store.Tx) error {
			for _, v := range []*store.VDC{f.payg, f.resv} {
				if err := metering.VDCCreated(ctx, tx, v); err != nil {
					return err
				}
			}
			if err := tx.CreateVDC(ctx, alloc); err != nil {
				return err
			}
			alloc.RegionID = "de"
			return metering.VDCCreated(ctx, tx, alloc)
		})
		update := func(vdc *store.VDC, change func(v *store.VDC)) {
			f.tx(func(ctx context.Context, tx *store.Tx) error {
				v, err := tx.GetVDC(ctx, f.org, vdc.ID)
				if err != nil {
					return err
				}
				change(v)
				if err := tx.UpdateVDC(ctx, v); err != nil {
					return err
				}
				return metering.VDCUpdated(ctx, tx, v)
			})
		}
		f.clock.set("10:00:00")
		update(f.resv, func(v *store.VDC) { v.Description = "only words change" })
		f.clock.set("10:15:00")
		update(f.resv, func(v *store.VDC) { v.Quotas.VCPU = 16 })
		f.clock.set("11:00:00")
		f.tx(func(ctx context.Context, tx *store.Tx) error {
			if err := metering.VDCDeleted(ctx, tx, f.payg); err != nil {
				return err
			}
			return metering.VDCDeleted(ctx, tx, f.resv)
		})
		resv := f.spans(f.resv.ID, rating.SpanReservation)
		if got, want := interval(resv), "09:30:00-10:15:00 10:15:00-11:00:00"; got != want {
			t.Fatalf("reservation spans %s, want %s", got, want)
		}
		if resv[0].VCPU != 8 || resv[1].VCPU != 16 || resv[1].MemoryMiB != 16384 || resv[0].ResourceKind != "vdc" || resv[0].Model != "reservation" {
			t.Fatalf("reservation spans %+v, want 8 then 16 vCPU of 16384 MiB", resv)
		}
		if got := interval(f.spans(alloc.ID, rating.SpanAllocation)); got != "09:30:00-open" {
			t.Fatalf("allocation VDC spans %s", got)
		}
		for _, m := range []string{rating.SpanReservation, rating.SpanAllocation} {
			if got := f.spans(f.payg.ID, m); len(got) != 0 {
				t.Fatalf("a payg VDC has %s spans %+v; it costs nothing of itself", m, got)
			}
		}
	})
}

func TestReconcilerRepairsDrift(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		metered := f.createVM(f.payg, "metered")
		f.clock.set("09:10:00")
		metered = f.observe(metered, api.VMRunning)

		// Changes made without metering: a VM started and one stopped
		// behind its back, a VM and a disk resized, and a span left for a
		// VM that is gone.
		var lost, stopped, gone, grown *store.VM
		var snap *store.Snapshot
		f.tx(func(ctx context.Context, tx *store.Tx) error {
			mk := func(name string) *store.VM {
				return &store.VM{OrgID: f.org, VDCID: f.payg.ID, Name: name, Hostname: name, ImageID: f.image, SizeID: "small",
					VCPU: 2, MemoryMiB: 4096, DiskGiB: 20, HostID: f.host, Power: store.PowerRunning}
			}
			lost, stopped, gone, grown = mk("lost"), mk("stopped"), mk("gone"), mk("grown")
			for _, v := range []*store.VM{lost, stopped, gone, grown} {
				if err := tx.CreateVM(ctx, v); err != nil {
					return err
				}
			}
			for _, v := range []*store.VM{stopped, gone, grown} {
				if err := metering.VMCreated(ctx, tx, v); err != nil {
					return err
				}
				if _, err := tx.ObserveVM(ctx, f.host, store.ObservedVM{ID: v.ID, State: api.VMRunning}); err != nil {
					return err
				}
				v.State = api.VMRunning
				if err := metering.VMObserved(ctx, tx, nil, v); err != nil {
					return err
				}
			}
			if _, err := tx.ObserveVM(ctx, f.host, store.ObservedVM{ID: lost.ID, State: api.VMRunning}); err != nil {
				return err
			}
			if _, err := tx.ObserveVM(ctx, f.host, store.ObservedVM{ID: stopped.ID, State: api.VMStopped}); err != nil {
				return err
			}
			grown.DiskGiB = 50
			if err := tx.UpdateVM(ctx, grown, false); err != nil {
				return err
			}
			if err := tx.DeleteVM(ctx, gone.ID); err != nil {
				return err
			}
			snap = &store.Snapshot{VMID: metered.ID, OrgID: f.org, Name: "nightly", State: store.SnapshotReady}
			if err := tx.CreateSnapshot(ctx, snap); err != nil {
				return err
			}
			// A public IP's span belongs to networking, not to this
			// reconciler.
			return tx.OpenSpan(ctx, &store.UsageSpan{OrgID: f.org, RegionID: "de", Model: "payg", ResourceKind: "public_ip",
				ResourceID: "ip-1", Meter: rating.SpanPublicIP, StartedAt: f.clock.now, Source: "api"})
		})

		// The reservation VDC was created without its span too.
		now := f.clock.set("10:00:00")
		r := &metering.Reconciler{Store: f.s}
		if err := r.RunOnce(context.Background(), now); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name, id, meter, want string
		}{
			{"running VM without a span", lost.ID, rating.SpanCompute, "10:00:00-open"},
			{"its disk", lost.ID, rating.SpanDisk, "10:00:00-open"},
			{"VM stopped unmetered", stopped.ID, rating.SpanCompute, "09:10:00-10:00:00"},
			{"VM gone", gone.ID, rating.SpanCompute, "09:10:00-10:00:00"},
			{"disk of VM gone", gone.ID, rating.SpanDisk, "09:10:00-10:00:00"},
			{"disk grown unmetered", grown.ID, rating.SpanDisk, "09:10:00-10:00:00 10:00:00-open"},
			{"metered VM untouched", metered.ID, rating.SpanCompute, "09:10:00-open"},
			{"metered disk untouched", metered.ID, rating.SpanDisk, "09:00:00-open"},
			{"reservation VDC without a span", f.resv.ID, rating.SpanReservation, "10:00:00-open"},
			{"snapshot ready unmetered", snap.ID, rating.SpanSnapshot, "10:00:00-open"},
			{"public IP left alone", "ip-1", rating.SpanPublicIP, "09:10:00-open"},
		} {
			if got := interval(f.spans(c.id, c.meter)); got != c.want {
				t.Errorf("%s: %s spans %s, want %s", c.name, c.meter, got, c.want)
			}
		}
		if s := f.spans(lost.ID, rating.SpanCompute); len(s) != 1 || s[0].Source != "reconciler" || s[0].Reason == "" || s[0].PowerOnID == "" {
			t.Errorf("repaired span %+v, want source reconciler with a reason", s)
		}
		if s := f.spans(grown.ID, rating.SpanDisk); len(s) != 2 || s[1].SizeGiB != 50 {
			t.Errorf("grown disk spans %+v, want the new one at 50 GiB", s)
		}

		audits := func() []store.AuditEvent {
			var ev []store.AuditEvent
			err := f.s.View(context.Background(), func(tx *store.Tx) (err error) {
				ev, _, err = tx.ListAudit(context.Background(), store.AuditFilter{Action: "metering.repair"}, store.Page{})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return ev
		}
		ev := audits()
		if len(ev) != 8 {
			t.Fatalf("%d repairs audited, want 8: %+v", len(ev), ev)
		}
		for _, e := range ev {
			if e.ActorType != "system" || e.OrgID != f.org || e.Detail == "" || !e.Time.Equal(now) {
				t.Errorf("audit event %+v, want a system event of the organisation saying why", e)
			}
		}

		// A second pass finds nothing to repair.
		f.clock.set("10:01:00")
		if err := r.RunOnce(context.Background(), f.clock.now); err != nil {
			t.Fatal(err)
		}
		if n := len(audits()); n != 8 {
			t.Fatalf("second pass audited %d repairs in all, want still 8", n)
		}
	})
}

func TestVMObservedNeverOpensTwice(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		vm := f.createVM(f.payg, "web")
		f.clock.set("10:00:00")
		vm = f.observe(vm, api.VMRunning)
		// The same transition metered again (a retried transaction, a
		// second replica) keeps the one span.
		f.clock.set("10:00:05")
		f.tx(func(ctx context.Context, tx *store.Tx) error {
			return metering.VMObserved(ctx, tx, &store.VM{Meta: store.Meta{ID: vm.ID}, State: api.VMStopped}, vm)
		})
		if got := interval(f.spans(vm.ID, rating.SpanCompute)); got != "10:00:00-open" {
			t.Fatalf("compute spans %s, want the one from 10:00:00", got)
		}
		err := f.s.View(context.Background(), func(tx *store.Tx) error {
			_, err := tx.OpenSpanOf(context.Background(), vm.ID, rating.SpanCompute)
			return err
		})
		if errors.Is(err, store.ErrNotFound) {
			t.Fatal("no open span")
		}
	})
}
