package rater

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
	"github.com/sirocco-cloud/sirocco/internal/store"
	"github.com/sirocco-cloud/sirocco/internal/store/storetest"
)

// engines runs fn on a fresh SQLite and a fresh PostgreSQL store with a
// region and its payg plan: 0.02 per vCPU-hour, 0.01 per GiB-hour of
// memory, 0.0001 per GiB-hour of disk.
func engines(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	for _, c := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "sirocco.db") }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresURL(t) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := store.Open(ctx, c.dsn(t), store.Options{})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			err = s.Tx(ctx, func(tx *store.Tx) error {
				if err := tx.CreateRegion(ctx, &store.Region{Meta: store.Meta{ID: "r1"}, Jurisdiction: "AU"}); err != nil {
					return err
				}
				return tx.CreatePricePlan(ctx, &store.PricePlan{Meta: store.Meta{ID: "plan1"}, RegionID: "r1", Model: "payg",
					EffectiveFrom: at("2027-01-01T00:00"), Currency: "AUD",
					Rates: `{"vcpu_hour":"0.02","memory_gib_hour":"0.01","disk_gib_hour":{"standard":"0.0001"}}`})
			})
			if err != nil {
				t.Fatal(err)
			}
			fn(t, s)
		})
	}
}

func at(s string) time.Time {
	if len(s) == len("2006-01-02T15:04") {
		s += ":00"
	}
	t, err := time.Parse("2006-01-02T15:04:05", s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func tx(t *testing.T, s *store.Store, fn func(ctx context.Context, tx *store.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := s.Tx(ctx, func(tx *store.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

func openVM(id string, vcpu int, start time.Time) *store.UsageSpan {
	return &store.UsageSpan{OrgID: "o1", VDCID: "vdc1", RegionID: "r1", Model: "payg", ResourceKind: "vm", ResourceID: id,
		ResourceName: id, Meter: rating.SpanCompute, VCPU: vcpu, MemoryMiB: 1024, PowerOnID: id + "-on", StartedAt: start, Source: "api"}
}

// snapshot is the stored lines without IDs, run IDs and creation times:
// what a re-run must reproduce byte for byte.
func snapshot(t *testing.T, s *store.Store) []string {
	t.Helper()
	var out []string
	tx(t, s, func(ctx context.Context, tx *store.Tx) error {
		lines, err := tx.ListRatedLines(ctx, store.RatedLineFilter{})
		for _, l := range lines {
			out = append(out, fmt.Sprintf("%s %s %s %s %s-%s %s %s×%s=%s %s %s", l.OrgID, l.ResourceKind, l.ResourceID, l.Meter,
				l.WindowStart.Format("15:04"), l.WindowEnd.Format("15:04"), l.Unit, l.Quantity, l.UnitPrice, l.Amount, l.Currency, l.InputHash))
		}
		return err
	})
	slices.Sort(out)
	return out
}

// owed sums the stored amounts of resource's meter in the hour from start.
func owed(t *testing.T, s *store.Store, resource, meter string, start time.Time) string {
	t.Helper()
	sum := decimal.Zero
	tx(t, s, func(ctx context.Context, tx *store.Tx) error {
		lines, err := tx.ListRatedLines(ctx, store.RatedLineFilter{From: start, To: start.Add(time.Hour), ResourceID: resource, Meter: meter})
		for _, l := range lines {
			sum = sum.Add(decimal.RequireFromString(l.Amount))
		}
		return err
	})
	return sum.String()
}

func watermark(t *testing.T, s *store.Store) time.Time {
	var until time.Time
	tx(t, s, func(ctx context.Context, tx *store.Tx) (err error) { until, err = tx.RatedUntil(ctx); return err })
	return until
}

func TestRunRatesClosedHoursOnce(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		r := &Rater{Store: s}
		if err := r.RunOnce(ctx, at("2027-03-10T12:05")); err != nil || !watermark(t, s).IsZero() {
			t.Fatalf("no usage: %v, watermark %v", err, watermark(t, s))
		}
		tx(t, s, func(ctx context.Context, tx *store.Tx) error {
			if err := tx.OpenSpan(ctx, openVM("vm1", 2, at("2027-03-10T10:20:30"))); err != nil {
				return err
			}
			return tx.OpenSpan(ctx, &store.UsageSpan{OrgID: "o1", VDCID: "vdc1", RegionID: "r1", Model: "payg", ResourceKind: "disk",
				ResourceID: "disk1", Meter: rating.SpanDisk, SizeGiB: 100, StartedAt: at("2027-03-10T10:20:30"), Source: "api"})
		})
		if err := r.RunOnce(ctx, at("2027-03-10T12:05")); err != nil {
			t.Fatal(err)
		}
		if w := watermark(t, s); !w.Equal(at("2027-03-10T12:00")) {
			t.Errorf("watermark %v, want 12:00 (the open 12:00 window is not rated)", w)
		}
		first := snapshot(t, s)
		if len(first) != 6 { // vcpu, memory and disk at 10:00 and 11:00
			t.Fatalf("lines:\n%s", strings.Join(first, "\n"))
		}
		// 2 vCPU × 2370 s at 0.02 per hour: 0.02633…; 1 GiB × 2370 s at 0.01.
		for _, c := range []struct{ resource, meter, hour, rounded string }{
			{"vm1", rating.MeterVCPU, "10:00", "0.03"}, {"vm1", rating.MeterVCPU, "11:00", "0.04"},
			{"vm1", rating.MeterMemory, "10:00", "0.01"}, {"disk1", rating.MeterDisk, "11:00", "0.01"},
		} {
			got := decimal.RequireFromString(owed(t, s, c.resource, c.meter, at("2027-03-10T"+c.hour)))
			if rating.Round(got, "AUD").String() != c.rounded {
				t.Errorf("%s %s at %s: %s, want %s rounded", c.resource, c.meter, c.hour, got, c.rounded)
			}
		}
		// Re-runs, in the same minute and later within the lateness, store
		// nothing new.
		for _, now := range []string{"2027-03-10T12:05", "2027-03-10T12:59", "2027-03-10T13:01"} {
			if err := r.RunOnce(ctx, at(now)); err != nil {
				t.Fatal(err)
			}
		}
		again := snapshot(t, s)
		if len(again) != 9 {
			t.Errorf("after re-runs: %d lines, want the 6 and 3 of 12:00:\n%s", len(again), strings.Join(again, "\n"))
		}
		for _, l := range first {
			if !slices.Contains(again, l) {
				t.Errorf("line changed by a re-run: %s", l)
			}
		}
	})
}

func TestLateDataGivesDeltaLines(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		r := &Rater{Store: s}
		tx(t, s, func(ctx context.Context, tx *store.Tx) error {
			return tx.OpenSpan(ctx, openVM("vm1", 2, at("2027-03-10T10:00")))
		})
		if err := r.RunOnce(ctx, at("2027-03-10T12:00:30")); err != nil {
			t.Fatal(err)
		}
		if got := owed(t, s, "vm1", rating.MeterVCPU, at("2027-03-10T11:00")); got != "0.04" {
			t.Fatalf("11:00 before late data: %s", got)
		}
		// The power-off at 11:30 arrives late (an agent's report after a
		// partition): the 11:00 window is re-rated with a delta line.
		tx(t, s, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.CloseSpan(ctx, "vm1", rating.SpanCompute, at("2027-03-10T11:30"))
			return err
		})
		if err := r.RunOnce(ctx, at("2027-03-10T12:01")); err != nil {
			t.Fatal(err)
		}
		if got := owed(t, s, "vm1", rating.MeterVCPU, at("2027-03-10T11:00")); got != "0.02" {
			t.Errorf("11:00 after late data: %s, want 0.02", got)
		}
		var deltas []store.RatedLine
		tx(t, s, func(ctx context.Context, tx *store.Tx) (err error) {
			deltas, err = tx.ListRatedLines(ctx, store.RatedLineFilter{From: at("2027-03-10T11:00"), To: at("2027-03-10T12:00"), Meter: rating.MeterVCPU})
			return err
		})
		if len(deltas) != 2 || deltas[1].Quantity != "-1" && deltas[0].Quantity != "-1" {
			t.Errorf("11:00 vcpu lines: %+v", deltas)
		}
		if got := owed(t, s, "vm1", rating.MeterVCPU, at("2027-03-10T10:00")); got != "0.04" {
			t.Errorf("10:00 untouched: %s", got)
		}
		// A price plan added late for the window (a correction) re-prices
		// it: the old lines are reversed and the new ones stored.
		tx(t, s, func(ctx context.Context, tx *store.Tx) error {
			return tx.CreatePricePlan(ctx, &store.PricePlan{Meta: store.Meta{ID: "plan2"}, RegionID: "r1", Model: "payg",
				EffectiveFrom: at("2027-03-10T11:00"), Currency: "AUD", Rates: `{"vcpu_hour":"0.03","memory_gib_hour":"0.01"}`})
		})
		if err := r.RunOnce(ctx, at("2027-03-10T12:02")); err != nil {
			t.Fatal(err)
		}
		if got := owed(t, s, "vm1", rating.MeterVCPU, at("2027-03-10T11:00")); got != "0.03" {
			t.Errorf("11:00 re-priced: %s, want 0.03", got)
		}
		before := snapshot(t, s)
		if err := r.RunOnce(ctx, at("2027-03-10T12:03")); err != nil {
			t.Fatal(err)
		}
		if after := snapshot(t, s); !slices.Equal(before, after) {
			t.Errorf("re-run after the corrections changed lines:\n%s\nthen\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
		}
	})
}

func TestCrashBeforeCommitLeavesNothing(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		tx(t, s, func(ctx context.Context, tx *store.Tx) error {
			return tx.OpenSpan(ctx, openVM("vm1", 2, at("2027-03-10T10:20:30")))
		})
		boom := errors.New("killed")
		crashing := &Rater{Store: s, crash: func(w rating.Window) error {
			if w.Start.Equal(at("2027-03-10T11:00")) {
				return boom
			}
			return nil
		}}
		// The crash in the 11:00 window: 10:00 is committed, 11:00 is not.
		if err := crashing.RunOnce(ctx, at("2027-03-10T12:05")); !errors.Is(err, boom) {
			t.Fatalf("run: %v, want the crash", err)
		}
		if w := watermark(t, s); !w.Equal(at("2027-03-10T11:00")) {
			t.Errorf("watermark after the crash %v, want 11:00", w)
		}
		if got := owed(t, s, "vm1", rating.MeterVCPU, at("2027-03-10T11:00")); got != "0" {
			t.Errorf("11:00 lines survived the crash: %s", got)
		}
		// The re-run after the crash gives the lines of a run that never
		// crashed.
		if err := (&Rater{Store: s}).RunOnce(ctx, at("2027-03-10T12:05")); err != nil {
			t.Fatal(err)
		}
		recovered := snapshot(t, s)

		fresh, err := store.Open(ctx, filepath.Join(t.TempDir(), "clean.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer fresh.Close()
		tx(t, fresh, func(ctx context.Context, tx *store.Tx) error {
			if err := tx.CreateRegion(ctx, &store.Region{Meta: store.Meta{ID: "r1"}, Jurisdiction: "AU"}); err != nil {
				return err
			}
			if err := tx.CreatePricePlan(ctx, &store.PricePlan{Meta: store.Meta{ID: "plan1"}, RegionID: "r1", Model: "payg",
				EffectiveFrom: at("2027-01-01T00:00"), Currency: "AUD",
				Rates: `{"vcpu_hour":"0.02","memory_gib_hour":"0.01","disk_gib_hour":{"standard":"0.0001"}}`}); err != nil {
				return err
			}
			return tx.OpenSpan(ctx, openVM("vm1", 2, at("2027-03-10T10:20:30")))
		})
		if err := (&Rater{Store: fresh}).RunOnce(ctx, at("2027-03-10T12:05")); err != nil {
			t.Fatal(err)
		}
		clean := snapshot(t, fresh)
		if !slices.Equal(recovered, clean) {
			t.Errorf("after a crash and re-run:\n%s\nwithout the crash:\n%s", strings.Join(recovered, "\n"), strings.Join(clean, "\n"))
		}
	})
}
