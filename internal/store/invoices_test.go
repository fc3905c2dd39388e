package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

func invoiceOrg(t *testing.T, s *Store, name string) *Org {
	t.Helper()
	o := &Org{Name: name, State: "active"}
	if err := s.Tx(context.Background(), func(tx *Tx) error { return tx.CreateOrg(context.Background(), o) }); err != nil {
		t.Fatal(err)
	}
	return o
}

func draftInvoice(orgID string, month time.Time) *Invoice {
	return &Invoice{OrgID: orgID, PeriodStart: month, PeriodEnd: month.AddDate(0, 1, 0), Currency: "AUD",
		Subtotal: "3.69", Credits: "1.00", Total: "2.69",
		Lines: []InvoiceLine{
			{Description: "web-1 vCPU", ResourceKind: "vm", ResourceID: "vm-1", Meter: "vcpu", Quantity: "55", Unit: "vCPU-hour",
				UnitPrice: "0.067", Amount: "3.69", RatedLineIDs: []string{"r1", "r2"}},
			{Description: "web-1 memory", ResourceKind: "vm", ResourceID: "vm-1", Meter: "memory", Quantity: "0", Unit: "GiB-hour",
				UnitPrice: "0.01", Amount: "0.00"},
		}}
}

func TestInvoiceLifecycle(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		o := invoiceOrg(t, s, "acme")
		nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		inv := draftInvoice(o.ID, nov)
		if err := s.Tx(ctx, func(tx *Tx) error { return tx.CreateInvoice(ctx, inv) }); err != nil {
			t.Fatal(err)
		}
		// A second invoice for the same month is refused: one per period.
		err := s.Tx(ctx, func(tx *Tx) error { return tx.CreateInvoice(ctx, draftInvoice(o.ID, nov)) })
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("second invoice for November: %v, want ErrConflict", err)
		}

		var got *Invoice
		err = s.View(ctx, func(tx *Tx) (err error) { got, err = tx.GetInvoice(ctx, o.ID, inv.ID); return err })
		if err != nil {
			t.Fatal(err)
		}
		if got.State != InvoiceDraft || got.Number != nil || got.Total != "2.69" || !got.PeriodStart.Equal(nov) {
			t.Fatalf("draft read back as %+v", got)
		}
		if len(got.Lines) != 2 || got.Lines[0].Amount != "3.69" || !slices.Equal(got.Lines[0].RatedLineIDs, []string{"r1", "r2"}) ||
			got.Lines[1].Position != 2 {
			t.Fatalf("lines read back as %+v", got.Lines)
		}
		// Another organisation cannot read it by ID.
		other := invoiceOrg(t, s, "other")
		err = s.View(ctx, func(tx *Tx) error { _, err := tx.GetInvoice(ctx, other.ID, inv.ID); return err })
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("invoice through another organisation: %v, want ErrNotFound", err)
		}

		// A draft's lines are rebuilt freely.
		inv.Lines = inv.Lines[:1]
		inv.Subtotal, inv.Credits, inv.Total = "3.69", "0", "3.69"
		if err := s.Tx(ctx, func(tx *Tx) error { return tx.ReplaceDraftLines(ctx, inv) }); err != nil {
			t.Fatal(err)
		}
		// Paying a draft is refused: it has no number yet.
		at := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
		if err := s.Tx(ctx, func(tx *Tx) error { return tx.MarkInvoicePaid(ctx, inv.ID, at) }); !errors.Is(err, ErrInvoiceState) {
			t.Fatalf("pay a draft: %v, want ErrInvoiceState", err)
		}

		var fin *Invoice
		if err := s.Tx(ctx, func(tx *Tx) (err error) { fin, err = tx.FinalizeInvoice(ctx, inv.ID); return err }); err != nil {
			t.Fatal(err)
		}
		if fin.State != InvoiceFinalized || fin.Number == nil || *fin.Number != 1 || fin.FinalizedAt == nil {
			t.Fatalf("finalized as %+v", fin)
		}
		// Finalized lines never change, and finalizing twice takes no second number.
		inv.Lines = nil
		if err := s.Tx(ctx, func(tx *Tx) error { return tx.ReplaceDraftLines(ctx, inv) }); !errors.Is(err, ErrInvoiceState) {
			t.Fatalf("replace lines of a finalized invoice: %v, want ErrInvoiceState", err)
		}
		if err := s.Tx(ctx, func(tx *Tx) error { _, err := tx.FinalizeInvoice(ctx, inv.ID); return err }); !errors.Is(err, ErrInvoiceState) {
			t.Fatalf("finalize twice: %v, want ErrInvoiceState", err)
		}
		if err := s.Tx(ctx, func(tx *Tx) error { return tx.MarkInvoicePaid(ctx, inv.ID, at) }); err != nil {
			t.Fatal(err)
		}
		if err := s.Tx(ctx, func(tx *Tx) error { return tx.VoidInvoice(ctx, inv.ID, at) }); !errors.Is(err, ErrInvoiceState) {
			t.Fatalf("void a paid invoice: %v, want ErrInvoiceState", err)
		}
		err = s.View(ctx, func(tx *Tx) (err error) { got, err = tx.GetInvoice(ctx, "", inv.ID); return err })
		if err != nil {
			t.Fatal(err)
		}
		if got.State != InvoicePaid || got.PaidAt == nil || !got.PaidAt.Equal(at) || len(got.Lines) != 1 || *got.Number != 1 {
			t.Fatalf("paid invoice read back as %+v", got)
		}

		// A second month: finalize then void; the number stays used.
		dec := draftInvoice(o.ID, nov.AddDate(0, 1, 0))
		err = s.Tx(ctx, func(tx *Tx) error {
			if err := tx.CreateInvoice(ctx, dec); err != nil {
				return err
			}
			if _, err := tx.FinalizeInvoice(ctx, dec.ID); err != nil {
				return err
			}
			return tx.VoidInvoice(ctx, dec.ID, at)
		})
		if err != nil {
			t.Fatal(err)
		}
		var list []Invoice
		err = s.View(ctx, func(tx *Tx) (err error) {
			list, _, err = tx.ListInvoices(ctx, InvoiceFilter{OrgID: o.ID}, Page{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].ID != inv.ID || list[1].State != InvoiceVoid || *list[1].Number != 2 {
			t.Fatalf("list %+v", list)
		}
	})
}

// TestInvoiceNumbersGapless finalizes many drafts at once, as several
// control-plane replicas would: every number from 1 to n is used once.
func TestInvoiceNumbersGapless(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const n = 12
		var ids []string
		for i := range n {
			o := invoiceOrg(t, s, fmt.Sprintf("org-%d", i))
			inv := draftInvoice(o.ID, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
			if err := s.Tx(ctx, func(tx *Tx) error { return tx.CreateInvoice(ctx, inv) }); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, inv.ID)
		}
		// One finalize fails and rolls back: its number must not be lost.
		boom := errors.New("crash after numbering")
		err := s.Tx(ctx, func(tx *Tx) error {
			if _, err := tx.FinalizeInvoice(ctx, ids[0]); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for _, id := range ids {
			wg.Go(func() {
				errs <- s.Tx(ctx, func(tx *Tx) error { _, err := tx.FinalizeInvoice(ctx, id); return err })
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var list []Invoice
		err = s.View(ctx, func(tx *Tx) (err error) { list, _, err = tx.ListInvoices(ctx, InvoiceFilter{}, Page{}); return err })
		if err != nil {
			t.Fatal(err)
		}
		var numbers []int64
		for _, inv := range list {
			numbers = append(numbers, *inv.Number)
		}
		slices.Sort(numbers)
		for i, got := range numbers {
			if got != int64(i+1) {
				t.Fatalf("numbers %v: want 1..%d without gaps", numbers, n)
			}
		}
	})
}

func TestOrgsWithRatedLines(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		insert := func(org string, window time.Time) {
			t.Helper()
			err := s.Tx(ctx, func(tx *Tx) error {
				_, err := tx.exec(ctx, `INSERT INTO rated_lines (id, org_id, resource_kind, resource_id, meter, window_start, window_end,
					quantity, unit, unit_price, amount, currency, plan_id, input_hash, run_id, created_at)
					VALUES ($1, $2, 'vm', 'vm-1', 'vcpu', $3, $4, '1', 'vCPU-hour', '0.05', '0.05', 'AUD', 'p', 'h', 'run', $3)`,
					NewID(), org, ts(window), ts(window.Add(time.Hour)))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		insert("org-b", nov)
		insert("org-a", nov.Add(-time.Hour)) // October's last hour
		insert("org-c", nov.AddDate(0, 1, 0).Add(-time.Hour))
		insert("org-c", nov.AddDate(0, 1, 0).Add(-2*time.Hour))
		insert("org-d", nov.AddDate(0, 1, 0)) // December's first hour
		var got []string
		err := s.View(ctx, func(tx *Tx) (err error) { got, err = tx.OrgsWithRatedLines(ctx, nov, nov.AddDate(0, 1, 0)); return err })
		if err != nil {
			t.Fatal(err)
		}
		// org-a's uninvoiced October line is billed as an adjustment in November.
		if !slices.Equal(got, []string{"org-a", "org-b", "org-c"}) {
			t.Fatalf("November's organisations %v, want [org-a org-b org-c]", got)
		}
	})
}
