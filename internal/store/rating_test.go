package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/store"
)

func ratedLine(org, resource, meter string, window time.Time, amount, hash string) store.RatedLine {
	return store.RatedLine{OrgID: org, VDCID: "vdc1", ResourceKind: "vm", ResourceID: resource, ResourceName: resource, Meter: meter,
		WindowStart: window, WindowEnd: window.Add(time.Hour), Quantity: "0.683333333333333333", Unit: "vcpu-hour",
		UnitPrice: "0.02", Amount: amount, Currency: "AUD", PlanID: "plan1", InputHash: hash, RunID: "run1"}
}

func listRated(t *testing.T, s *store.Store, f store.RatedLineFilter) []store.RatedLine {
	t.Helper()
	var out []store.RatedLine
	if err := s.View(context.Background(), func(tx *store.Tx) (err error) { out, err = tx.ListRatedLines(context.Background(), f); return err }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRatedLinesUniqueByInput(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		h10 := time.Date(2027, 3, 10, 10, 0, 0, 0, time.UTC)
		var inserted []bool
		err := s.Tx(ctx, func(tx *store.Tx) error {
			inserted = inserted[:0]
			for _, l := range []store.RatedLine{
				ratedLine("o1", "vm1", "vcpu", h10, "0.013666666666666667", "hash-a"),
				ratedLine("o1", "vm1", "vcpu", h10, "0.013666666666666667", "hash-a"), // a re-run: no-op
				ratedLine("o1", "vm1", "vcpu", h10, "0.001", "hash-b"),                // late data: a delta line
				ratedLine("o1", "vm1", "vcpu", h10.Add(time.Hour), "0.02", "hash-a"),  // next window
				ratedLine("o2", "vm1", "vcpu", h10, "0.02", "hash-a"),                 // another organisation
			} {
				ok, err := tx.InsertRatedLine(ctx, &l)
				if err != nil {
					return err
				}
				inserted = append(inserted, ok)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(inserted) != "[true false true true true]" {
			t.Errorf("inserted %v", inserted)
		}
		got := listRated(t, s, store.RatedLineFilter{OrgID: "o1", From: h10, To: h10.Add(time.Hour)})
		if len(got) != 2 || got[0].Amount != "0.013666666666666667" && got[1].Amount != "0.013666666666666667" {
			t.Fatalf("o1 10:00 lines: %+v", got)
		}
		l := got[0]
		if !l.WindowStart.Equal(h10) || !l.WindowEnd.Equal(h10.Add(time.Hour)) || l.Quantity != "0.683333333333333333" ||
			l.UnitPrice != "0.02" || l.Currency != "AUD" || l.PlanID != "plan1" || l.PostedTxn != "" || l.InvoiceID != "" ||
			l.CreatedAt.IsZero() || !store.IsID(l.ID) {
			t.Errorf("read back %+v", l)
		}
	})
}

func TestRatedLinesBatchAndFilters(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		h0 := time.Date(2027, 2, 28, 22, 0, 0, 0, time.UTC)
		var lines []store.RatedLine
		for i := range 450 { // more than one statement's batch
			lines = append(lines, ratedLine("o1", fmt.Sprintf("vm%03d", i%150), []string{"vcpu", "memory", "disk"}[i/150], h0.Add(time.Duration(i%3)*time.Hour),
				"0.01", fmt.Sprintf("h%d", i)))
		}
		for round, want := range []int{450, 0} {
			var n int
			if err := s.Tx(ctx, func(tx *store.Tx) (err error) { n, err = tx.InsertRatedLines(ctx, lines); return err }); err != nil {
				t.Fatal(err)
			}
			if n != want {
				t.Errorf("round %d inserted %d, want %d", round, n, want)
			}
		}
		all := listRated(t, s, store.RatedLineFilter{})
		if len(all) != 450 {
			t.Fatalf("%d lines", len(all))
		}
		for i := 1; i < len(all); i++ {
			a, b := all[i-1], all[i]
			if a.WindowStart.After(b.WindowStart) || a.WindowStart.Equal(b.WindowStart) && a.ResourceID > b.ResourceID {
				t.Fatalf("not by window then resource at %d: %v %s, %v %s", i, a.WindowStart, a.ResourceID, b.WindowStart, b.ResourceID)
			}
		}
		march := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
		for _, c := range []struct {
			name string
			f    store.RatedLineFilter
			want int
		}{
			{"February", store.RatedLineFilter{OrgID: "o1", To: march}, 300},
			{"March", store.RatedLineFilter{From: march}, 150},
			{"one VM", store.RatedLineFilter{ResourceID: "vm007"}, 3},
			{"one meter", store.RatedLineFilter{Meter: "disk", From: march}, 50},
			{"another organisation", store.RatedLineFilter{OrgID: "o2"}, 0},
		} {
			if got := listRated(t, s, c.f); len(got) != c.want {
				t.Errorf("%s: %d lines, want %d", c.name, len(got), c.want)
			}
		}

		// Posting: each line is charged by one ledger transaction only.
		ids := []string{all[0].ID, all[1].ID, all[1].ID}
		mark := func(fn func(tx *store.Tx) error) error { return s.Tx(ctx, fn) }
		if err := mark(func(tx *store.Tx) error { return tx.MarkRatedLinesPosted(ctx, ids, "txn1") }); err != nil {
			t.Fatal(err)
		}
		if err := mark(func(tx *store.Tx) error { return tx.MarkRatedLinesPosted(ctx, ids, "txn1") }); err != nil {
			t.Errorf("marking again by the same transaction: %v", err)
		}
		err := mark(func(tx *store.Tx) error { return tx.MarkRatedLinesPosted(ctx, []string{all[1].ID, all[2].ID}, "txn2") })
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("charging a line twice: %v, want ErrConflict", err)
		}
		err = mark(func(tx *store.Tx) error {
			return tx.MarkRatedLinesPosted(ctx, []string{all[3].ID, store.NewID()}, "txn3")
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("a missing line: %v, want ErrConflict", err)
		}
		if got := listRated(t, s, store.RatedLineFilter{Unposted: true}); len(got) != 448 {
			t.Errorf("%d unposted, want 448 (a refused mark changes nothing)", len(got))
		}
		if got := listRated(t, s, store.RatedLineFilter{ResourceID: all[0].ResourceID, Meter: all[0].Meter}); got[0].PostedTxn != "txn1" {
			t.Errorf("posted line reads %+v", got[0])
		}

		// Invoicing, and freeing when a draft is rebuilt.
		if err := mark(func(tx *store.Tx) error { return tx.MarkRatedLinesInvoiced(ctx, ids, "inv1") }); err != nil {
			t.Fatal(err)
		}
		if err := mark(func(tx *store.Tx) error { return tx.MarkRatedLinesInvoiced(ctx, ids, "inv2") }); !errors.Is(err, store.ErrConflict) {
			t.Errorf("a line on two invoices: %v, want ErrConflict", err)
		}
		if got := listRated(t, s, store.RatedLineFilter{Uninvoiced: true}); len(got) != 448 {
			t.Errorf("%d uninvoiced, want 448", len(got))
		}
		if err := mark(func(tx *store.Tx) error { return tx.MarkRatedLinesInvoiced(ctx, ids, "") }); err != nil {
			t.Fatal(err)
		}
		if got := listRated(t, s, store.RatedLineFilter{Uninvoiced: true}); len(got) != 450 {
			t.Errorf("%d uninvoiced after freeing, want 450", len(got))
		}
	})
}

func TestRatingWatermark(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		read := func() (until, earliest time.Time) {
			t.Helper()
			err := s.View(ctx, func(tx *store.Tx) (err error) {
				if until, err = tx.RatedUntil(ctx); err != nil {
					return err
				}
				earliest, err = tx.EarliestSpanStart(ctx)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return until, earliest
		}
		if until, earliest := read(); !until.IsZero() || !earliest.IsZero() {
			t.Errorf("fresh store: rated until %v, earliest span %v", until, earliest)
		}
		start := time.Date(2027, 3, 10, 10, 20, 30, 123456000, time.UTC)
		for _, h := range []time.Time{start.Truncate(time.Hour), start.Truncate(time.Hour).Add(time.Hour)} {
			err := s.Tx(ctx, func(tx *store.Tx) error {
				return tx.SetRatedUntil(ctx, h)
			})
			if err != nil {
				t.Fatal(err)
			}
			if until, _ := read(); !until.Equal(h) {
				t.Errorf("rated until %v, want %v", until, h)
			}
		}
		err := s.Tx(ctx, func(tx *store.Tx) error {
			for i, at := range []time.Time{start.Add(time.Hour), start} {
				sp := &store.UsageSpan{OrgID: "o1", RegionID: "r1", Model: "payg", ResourceKind: "vm", ResourceID: fmt.Sprint("vm", i),
					Meter: "compute", VCPU: 1, StartedAt: at, Source: "api"}
				if err := tx.OpenSpan(ctx, sp); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, earliest := read(); !earliest.Equal(start) {
			t.Errorf("earliest span %v, want %v", earliest, start)
		}
	})
}
