package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/store"
	"github.com/sirocco-cloud/sirocco/internal/store/storetest"
)

// openStoresAt runs fn on a fresh SQLite and a fresh PostgreSQL store whose
// clock reads now().
func openStoresWithClock(t *testing.T, now func() time.Time, fn func(t *testing.T, s *store.Store)) {
	for _, c := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "sirocco.db") }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresURL(t) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := store.Open(context.Background(), c.dsn(t), store.Options{Now: now})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			fn(t, s)
		})
	}
}

func meterTx(t *testing.T, s *store.Store, fn func(ctx context.Context, tx *store.Tx) error) error {
	t.Helper()
	ctx := context.Background()
	return s.Tx(ctx, func(tx *store.Tx) error { return fn(ctx, tx) })
}

func meterAt(hhmmss string) time.Time {
	t, err := time.Parse(time.DateTime, "2026-03-10 "+hhmmss)
	if err != nil {
		panic(err)
	}
	return t
}

func computeSpan(org, vm string, start time.Time) *store.UsageSpan {
	return &store.UsageSpan{OrgID: org, VDCID: "vdc-1", RegionID: "de", Model: "payg", ResourceKind: "vm", ResourceID: vm,
		ResourceName: "web", Meter: "compute", VCPU: 2, MemoryMiB: 4096, PowerOnID: "p1", StartedAt: start, Source: "agent"}
}

func TestSpansOneOpenPerResourceAndMeter(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		if err := meterTx(t, s, func(ctx context.Context, tx *store.Tx) error {
			return tx.OpenSpan(ctx, computeSpan("o1", "vm-1", meterAt("10:00:00")))
		}); err != nil {
			t.Fatal(err)
		}
		// A second open span on the same resource and meter would bill the
		// VM twice: the database refuses it.
		err := meterTx(t, s, func(ctx context.Context, tx *store.Tx) error {
			return tx.OpenSpan(ctx, computeSpan("o1", "vm-1", meterAt("10:05:00")))
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second open span: %v, want ErrConflict", err)
		}
		// Another meter of the same resource is its own span.
		disk := computeSpan("o1", "vm-1", meterAt("10:00:00"))
		disk.Meter, disk.ResourceKind, disk.SizeGiB, disk.Class = "disk", "disk", 20, "standard"
		if err := meterTx(t, s, func(ctx context.Context, tx *store.Tx) error { return tx.OpenSpan(ctx, disk) }); err != nil {
			t.Fatalf("disk span beside the compute span: %v", err)
		}

		var closed *store.UsageSpan
		err = meterTx(t, s, func(ctx context.Context, tx *store.Tx) (err error) {
			closed, err = tx.CloseSpan(ctx, "vm-1", "compute", meterAt("10:20:30"))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if closed.EndedAt == nil || !closed.EndedAt.Equal(meterAt("10:20:30")) || !closed.StartedAt.Equal(meterAt("10:00:00")) ||
			closed.VCPU != 2 || closed.MemoryMiB != 4096 || closed.PowerOnID != "p1" || closed.Source != "agent" {
			t.Fatalf("closed span %+v", closed)
		}
		err = meterTx(t, s, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.CloseSpan(ctx, "vm-1", "compute", meterAt("10:30:00"))
			return err
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("closing again: %v, want ErrNotFound", err)
		}
		// After the close a new span may open (a resize: same power-on).
		next := computeSpan("o1", "vm-1", meterAt("10:20:30"))
		next.VCPU = 4
		if err := meterTx(t, s, func(ctx context.Context, tx *store.Tx) error { return tx.OpenSpan(ctx, next) }); err != nil {
			t.Fatalf("reopen: %v", err)
		}
		open := view(t, s, func(ctx context.Context, tx *store.Tx) (*store.UsageSpan, error) {
			return tx.OpenSpanOf(ctx, "vm-1", "compute")
		})
		if open.ID != next.ID || open.VCPU != 4 || open.EndedAt != nil {
			t.Fatalf("open span %+v, want the 4 vCPU one", open)
		}
		// A close stamped before the start (another replica's clock a
		// little behind) ends the span empty, never negative.
		err = meterTx(t, s, func(ctx context.Context, tx *store.Tx) (err error) {
			closed, err = tx.CloseSpan(ctx, "vm-1", "compute", meterAt("10:20:29"))
			return err
		})
		if err != nil || !closed.EndedAt.Equal(meterAt("10:20:30")) {
			t.Fatalf("close before start: %v, ended %v, want at its start 10:20:30", err, closed.EndedAt)
		}
		all := view(t, s, func(ctx context.Context, tx *store.Tx) ([]store.UsageSpan, error) {
			return tx.ListSpans(ctx, store.SpanFilter{})
		})
		if len(all) != 3 {
			t.Fatalf("%d spans, want 3: %+v", len(all), all)
		}
	})
}

func TestListSpansOverlappingWindow(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		end := func(hms string) *time.Time { e := meterAt(hms); return &e }
		spans := []struct {
			name  string
			org   string
			start time.Time
			end   *time.Time
		}{
			{"ended before", "o1", meterAt("08:00:00"), end("09:00:00")},
			{"ended at window start", "o1", meterAt("09:00:00"), end("10:00:00")},
			{"crosses window start", "o1", meterAt("09:30:00"), end("10:15:00")},
			{"inside", "o1", meterAt("10:15:00"), end("10:45:00")},
			{"open from inside", "o1", meterAt("10:45:00"), nil},
			{"open from before", "o1", meterAt("07:00:00"), nil},
			{"starts at window end", "o1", meterAt("11:00:00"), nil},
			{"other organisation", "o2", meterAt("10:10:00"), nil},
		}
		ids := map[string]string{}
		for i, sp := range spans {
			err := meterTx(t, s, func(ctx context.Context, tx *store.Tx) error {
				u := computeSpan(sp.org, "vm-"+sp.name, sp.start)
				if err := tx.OpenSpan(ctx, u); err != nil {
					return err
				}
				ids[u.ID] = sp.name
				if sp.end != nil {
					_, err := tx.CloseSpan(ctx, u.ResourceID, u.Meter, *sp.end)
					return err
				}
				return nil
			})
			if err != nil {
				t.Fatalf("span %d: %v", i, err)
			}
		}
		names := func(f store.SpanFilter) []string {
			got := view(t, s, func(ctx context.Context, tx *store.Tx) ([]store.UsageSpan, error) { return tx.ListSpans(ctx, f) })
			var out []string
			for _, g := range got {
				out = append(out, ids[g.ID])
			}
			return out
		}
		for _, c := range []struct {
			name string
			f    store.SpanFilter
			want []string
		}{
			{"window", store.SpanFilter{From: meterAt("10:00:00"), To: meterAt("11:00:00")},
				[]string{"open from before", "crosses window start", "other organisation", "inside", "open from inside"}},
			{"window of one organisation", store.SpanFilter{OrgID: "o1", From: meterAt("10:00:00"), To: meterAt("11:00:00")},
				[]string{"open from before", "crosses window start", "inside", "open from inside"}},
			{"open only", store.SpanFilter{OpenOnly: true},
				[]string{"open from before", "other organisation", "open from inside", "starts at window end"}},
			{"open of one organisation", store.SpanFilter{OrgID: "o1", OpenOnly: true},
				[]string{"open from before", "open from inside", "starts at window end"}},
		} {
			if got := names(c.f); !sameStrings(got, c.want) {
				t.Errorf("%s: %q, want %q", c.name, got, c.want)
			}
		}
	})
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRecordEgressDeltas(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		steps := []struct {
			name    string
			vm      string
			at      string
			counter int64
			want    int64
			err     error
		}{
			{"first reading counts from zero", "vm-1", "10:00:00", 1000, 1000, nil},
			{"increase", "vm-1", "10:01:00", 4000, 3000, nil},
			{"same reading sent again", "vm-1", "10:01:00", 4000, 0, nil},
			{"same time, another counter", "vm-1", "10:01:00", 5000, 0, store.ErrConflict},
			{"older than the latest", "vm-1", "10:00:30", 4500, 0, store.ErrConflict},
			{"counter reset by a restart", "vm-1", "10:02:00", 700, 700, nil},
			{"after the reset", "vm-1", "10:03:00", 900, 200, nil},
			{"unchanged", "vm-1", "10:04:00", 900, 0, nil},
			{"another VM is its own counter", "vm-2", "10:01:30", 50, 50, nil},
		}
		var total int64
		for _, st := range steps {
			var got int64
			err := meterTx(t, s, func(ctx context.Context, tx *store.Tx) (err error) {
				got, err = tx.RecordEgress(ctx, st.vm, "o1", meterAt(st.at), st.counter)
				return err
			})
			if !errors.Is(err, st.err) || (err == nil) != (st.err == nil) {
				t.Fatalf("%s: error %v, want %v", st.name, err, st.err)
			}
			if got != st.want {
				t.Fatalf("%s: delta %d, want %d", st.name, got, st.want)
			}
			total += got
		}
		samples := view(t, s, func(ctx context.Context, tx *store.Tx) ([]store.EgressSample, error) {
			return tx.ListEgress(ctx, "o1", meterAt("10:00:00"), meterAt("11:00:00"))
		})
		var sum int64
		for _, e := range samples {
			sum += e.Delta
		}
		if len(samples) != 6 || sum != total || sum != 1000+3000+700+200+50 {
			t.Fatalf("%d samples summing to %d bytes, want 6 summing to %d: %+v", len(samples), sum, total, samples)
		}
		if late := view(t, s, func(ctx context.Context, tx *store.Tx) ([]store.EgressSample, error) {
			return tx.ListEgress(ctx, "o1", meterAt("10:02:00"), meterAt("10:03:00"))
		}); len(late) != 1 || late[0].Delta != 700 || late[0].Counter != 700 {
			t.Fatalf("samples in [10:02, 10:03): %+v, want the reset one", late)
		}
	})
}

func TestMeteringInventory(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		f := newComputeFixture(t, s)
		a, b := f.vm(f.acme, f.acmeDE, "h-de", "a"), f.vm(f.other, f.otherDE, "h-de", "b")
		createVMs(t, s, a, b)
		sn := &store.Snapshot{VMID: a.ID, OrgID: f.acme, Name: "before-upgrade", State: store.SnapshotReady}
		if err := meterTx(t, s, func(ctx context.Context, tx *store.Tx) error { return tx.CreateSnapshot(ctx, sn) }); err != nil {
			t.Fatal(err)
		}
		inv := view(t, s, func(ctx context.Context, tx *store.Tx) (*store.MeteredInventory, error) {
			return tx.MeteringInventory(ctx)
		})
		if len(inv.VMs) != 2 || inv.VMs[0].ID != a.ID || inv.VMs[0].RegionID != "de" || inv.VMs[1].OrgID != f.other {
			t.Fatalf("VMs %+v, want a and b of both organisations", inv.VMs)
		}
		if len(inv.Snapshots) != 1 || inv.Snapshots[0].ID != sn.ID {
			t.Fatalf("snapshots %+v", inv.Snapshots)
		}
		if len(inv.VDCs) != 3 {
			t.Fatalf("%d VDCs, want the 3 of both organisations", len(inv.VDCs))
		}
		got := view(t, s, func(ctx context.Context, tx *store.Tx) (*store.Snapshot, error) {
			return tx.GetSnapshotByID(ctx, sn.ID)
		})
		if got.VMID != a.ID || got.Name != "before-upgrade" {
			t.Fatalf("snapshot by ID %+v", got)
		}
		vdc := view(t, s, func(ctx context.Context, tx *store.Tx) (*store.VDC, error) { return tx.GetVDCByID(ctx, f.acmeAU) })
		if vdc.RegionID != "au" || vdc.OrgID != f.acme {
			t.Fatalf("VDC by ID %+v", vdc)
		}
	})
}
