package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/billing/invoice"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// BenchmarkInvoiceRun10kOrgs is the month-end invoice run for 10,000
// organisations on the embedded store (DESIGN goal: <= 60 s). Each has one
// VM's vCPU, memory and disk usage for October, posted to the ledger, as
// three rated lines (hourly lines would give the same invoice lines and
// take far longer to seed); the run drafts, rounds, applies credit and
// finalizes every invoice with gapless numbers.
func BenchmarkInvoiceRun10kOrgs(b *testing.B) {
	const orgs = 10_000
	ctx := context.Background()
	month := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		b.StopTimer()
		st, err := store.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		err = st.Tx(ctx, func(tx *store.Tx) error {
			var ids []string
			for i := range orgs {
				o := &store.Org{Name: fmt.Sprintf("org%05d", i), State: api.OrgActive}
				if err := tx.CreateOrg(ctx, o); err != nil {
					return err
				}
				for _, m := range []struct{ meter, qty, price, amount string }{
					{"vcpu", "744", "0.02", "14.88"}, {"memory", "744", "0.005", "3.72"}, {"disk", "7440", "0.0002", "1.488"},
				} {
					l := &store.RatedLine{ID: store.NewID(), OrgID: o.ID, ResourceKind: "vm", ResourceID: "vm-" + o.ID, Meter: m.meter,
						WindowStart: month, WindowEnd: month.AddDate(0, 1, 0), Quantity: m.qty, Unit: "hour", UnitPrice: m.price,
						Amount: m.amount, Currency: "AUD", PlanID: "plan", InputHash: m.meter, RunID: "bench"}
					if _, err := tx.InsertRatedLine(ctx, l); err != nil {
						return err
					}
					ids = append(ids, l.ID)
				}
			}
			return tx.MarkRatedLinesPosted(ctx, ids, "bench-posting")
		})
		if err != nil {
			b.Fatal(err)
		}
		iv := &invoice.Invoicer{Store: st, Now: func() time.Time { return month.AddDate(0, 1, 0).Add(2 * time.Hour) }}
		b.StartTimer()
		invs, err := iv.RunMonth(ctx, month)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if len(invs) != orgs {
			b.Fatalf("%d invoices, want %d", len(invs), orgs)
		}
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(orgs)*float64(b.N)/b.Elapsed().Seconds(), "invoices/s")
}
