package invoice

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/internal/store"
	"github.com/sirocco-cloud/sirocco/internal/store/storetest"
)

var (
	oct = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	nov = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	dec = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
)

// fixture is a store with organisations, rated lines and a ledger posting
// them as the post loop would.
type fixture struct {
	t  *testing.T
	s  *store.Store
	iv *Invoicer
}

func engines(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, e := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "sirocco.db") }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresURL(t) }},
	} {
		t.Run(e.name, func(t *testing.T) {
			s, err := store.Open(context.Background(), e.dsn(t), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			err = s.Tx(context.Background(), func(tx *store.Tx) error {
				return tx.PutProvider(context.Background(), &store.Provider{Name: "Sirocco Cloud", Currency: "AUD", TrialAmount: "50", TrialDays: 30})
			})
			if err != nil {
				t.Fatal(err)
			}
			fn(t, &fixture{t: t, s: s, iv: &Invoicer{Store: s, Now: func() time.Time { return dec.Add(2 * time.Hour) }}})
		})
	}
}

func (f *fixture) org(name, display string) *store.Org {
	f.t.Helper()
	o := &store.Org{Name: name, DisplayName: display, State: "active"}
	if err := f.s.Tx(context.Background(), func(tx *store.Tx) error { return tx.CreateOrg(context.Background(), o) }); err != nil {
		f.t.Fatal(err)
	}
	return o
}

// line is a rated line of one hour window.
type line struct {
	res, meter       string
	window           time.Time
	qty, price, amnt string
}

// rate stores lines and posts them in one ledger transaction that burns
// credit of the given amount ("0": none) from a grant, the rest owed.
func (f *fixture) rate(orgID, credit string, lines ...line) []string {
	f.t.Helper()
	ctx := context.Background()
	var ids []string
	err := f.s.Tx(ctx, func(tx *store.Tx) error {
		total := decimal.Zero
		for _, l := range lines {
			rl := &store.RatedLine{ID: store.NewID(), OrgID: orgID, ResourceKind: "vm", ResourceID: l.res, ResourceName: "name-" + l.res,
				Meter: l.meter, WindowStart: l.window, WindowEnd: l.window.Add(time.Hour), Quantity: l.qty, Unit: "vcpu-hour",
				UnitPrice: l.price, Amount: l.amnt, Currency: "AUD", PlanID: "plan", InputHash: store.NewID(), RunID: "run"}
			if _, err := tx.InsertRatedLine(ctx, rl); err != nil {
				return err
			}
			ids = append(ids, rl.ID)
			total = total.Add(decimal.RequireFromString(l.amnt))
		}
		c := decimal.RequireFromString(credit)
		entries := []store.LedgerEntry{{Account: store.AccountRevenue, Amount: total.Neg().String(), Currency: "AUD"}}
		if c.IsPositive() {
			entries = append(entries, store.LedgerEntry{Account: store.GrantAccount("g-" + orgID), Amount: c.String(), Currency: "AUD"})
		}
		entries = append(entries, store.LedgerEntry{Account: store.ReceivableAccount(orgID), Amount: total.Sub(c).String(), Currency: "AUD"})
		txn, _, err := tx.PostLedgerTxn(ctx, &store.LedgerTxn{OrgID: orgID, Kind: "usage", IdempotencyKey: "usage:" + ids[0], Entries: entries})
		if err != nil {
			return err
		}
		return tx.MarkRatedLinesPosted(ctx, ids, txn)
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return ids
}

func amounts(inv *store.Invoice) []string {
	var out []string
	for _, l := range inv.Lines {
		out = append(out, l.ResourceID+"/"+l.Meter+"="+l.Amount)
	}
	return out
}

func TestDraftMonthBoundaryRoundingAndCredits(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		o := f.org("acme", "")
		f.rate(o.ID, "1.004",
			line{"vm-0", "vcpu", nov.Add(-time.Hour), "1", "0.05", "0.05"}, // October's last hour: not November's
			// 0.067 × 55 = 3.685, rounded once for the month: 3.69 (not 55 × 0.07).
			line{"vm-1", "vcpu", nov, "27.5", "0.067", "1.8425"},
			line{"vm-1", "vcpu", dec.Add(-time.Hour), "27.5", "0.067", "1.8425"}, // November's last hour
			line{"vm-1", "memory", nov, "1", "0.0049", "0.0049"},
			line{"vm-1", "memory", nov.Add(time.Hour), "1", "0.0049", "0.0049"},
			line{"vm-2", "vcpu", dec, "1", "0.05", "0.05"}, // December's first hour
		)
		octInv, err := f.iv.Draft(ctx, o.ID, oct)
		if err != nil {
			t.Fatal(err)
		}
		if got := amounts(octInv); !slices.Equal(got, []string{"vm-0/vcpu=0.05"}) {
			t.Fatalf("October lines %v", got)
		}
		inv, err := f.iv.Draft(ctx, o.ID, nov.Add(15*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if !inv.PeriodStart.Equal(nov) || !inv.PeriodEnd.Equal(dec) || inv.State != store.InvoiceDraft || inv.Number != nil {
			t.Fatalf("draft %+v", inv)
		}
		if got, want := amounts(inv), []string{"vm-1/vcpu=3.69", "vm-1/memory=0.01"}; !slices.Equal(got, want) {
			t.Fatalf("lines %v, want %v", got, want)
		}
		if inv.Lines[0].Quantity != "55" || inv.Lines[0].UnitPrice != "0.067" || len(inv.Lines[0].RatedLineIDs) != 2 {
			t.Fatalf("vCPU line %+v", inv.Lines[0])
		}
		// Subtotal is the sum of rounded lines; credit used (1.004) rounds to 1.00.
		if inv.Subtotal != "3.70" || inv.Credits != "1.00" || inv.Total != "2.70" {
			t.Fatalf("subtotal %s credits %s total %s, want 3.70 1.00 2.70", inv.Subtotal, inv.Credits, inv.Total)
		}
		var left []store.RatedLine
		err = f.s.View(ctx, func(tx *store.Tx) (err error) {
			left, err = tx.ListRatedLines(ctx, store.RatedLineFilter{OrgID: o.ID, From: nov, To: dec, Uninvoiced: true})
			return err
		})
		if err != nil || len(left) != 0 {
			t.Fatalf("November lines left uninvoiced: %v %v", left, err)
		}
		// Drafting again rebuilds the same draft.
		again, err := f.iv.Draft(ctx, o.ID, nov)
		if err != nil || again.ID != inv.ID || !slices.Equal(amounts(again), amounts(inv)) {
			t.Fatalf("redraft %+v %v", again, err)
		}
	})
}

func TestDraftRefusesUnpostedLines(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		o := f.org("acme", "")
		err := f.s.Tx(ctx, func(tx *store.Tx) error {
			_, err := tx.InsertRatedLine(ctx, &store.RatedLine{ID: store.NewID(), OrgID: o.ID, ResourceKind: "vm", ResourceID: "vm-1",
				Meter: "vcpu", WindowStart: nov, WindowEnd: nov.Add(time.Hour), Quantity: "1", Unit: "vcpu-hour", UnitPrice: "0.05",
				Amount: "0.05", Currency: "AUD", PlanID: "p", InputHash: "h", RunID: "r"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.iv.Draft(ctx, o.ID, nov); !errors.Is(err, ErrUnposted) {
			t.Fatalf("draft with unposted lines: %v, want ErrUnposted", err)
		}
	})
}

// TestRunOnceGaplessAndIdempotent runs the monthly job from two replicas at
// once and again later: each organisation gets one invoice, numbers 1..n.
func TestRunOnceGaplessAndIdempotent(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		var orgs []*store.Org
		for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
			o := f.org(n, "")
			orgs = append(orgs, o)
			f.rate(o.ID, "0", line{"vm-" + n, "vcpu", nov.Add(48 * time.Hour), "2", "0.05", "0.10"})
		}
		// Before the month is over by an hour, nothing is invoiced.
		if err := f.iv.RunOnce(ctx, dec.Add(30*time.Minute)); err != nil {
			t.Fatal(err)
		}
		list := func() []store.Invoice {
			var l []store.Invoice
			err := f.s.View(ctx, func(tx *store.Tx) (err error) {
				l, _, err = tx.ListInvoices(ctx, store.InvoiceFilter{}, store.Page{})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		if l := list(); len(l) != 0 {
			t.Fatalf("invoices before the lateness passed: %d", len(l))
		}
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for range 2 {
			wg.Go(func() { errs <- f.iv.RunOnce(ctx, dec.Add(time.Hour)) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil && !errors.Is(err, store.ErrConflict) {
				t.Fatal(err)
			}
		}
		if err := f.iv.RunOnce(ctx, dec.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		l := list()
		var numbers []int64
		for _, inv := range l {
			if inv.State != store.InvoiceFinalized || inv.Number == nil || inv.Total != "0.10" {
				t.Fatalf("invoice %+v", inv)
			}
			numbers = append(numbers, *inv.Number)
		}
		slices.Sort(numbers)
		if !slices.Equal(numbers, []int64{1, 2, 3, 4, 5, 6}) {
			t.Fatalf("numbers %v, want 1..6 once each", numbers)
		}

		// Late usage of November after it was finalized goes on December's
		// invoice as an adjustment; November's invoice does not change.
		f.rate(orgs[0].ID, "0", line{"vm-a", "vcpu", nov.Add(72 * time.Hour), "1", "0.05", "0.05"})
		janNow := dec.AddDate(0, 1, 0).Add(time.Hour)
		if err := f.iv.RunOnce(ctx, janNow); err != nil {
			t.Fatal(err)
		}
		var novInv, decInv *store.Invoice
		err := f.s.View(ctx, func(tx *store.Tx) (err error) {
			if novInv, err = tx.GetInvoiceForPeriod(ctx, orgs[0].ID, nov); err != nil {
				return err
			}
			decInv, err = tx.GetInvoiceForPeriod(ctx, orgs[0].ID, dec)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if novInv.Total != "0.10" || decInv.Total != "0.05" || *decInv.Number != 7 ||
			!strings.HasPrefix(decInv.Lines[0].Description, "Adjustment for earlier periods") {
			t.Fatalf("november %+v, december %+v", novInv, decInv)
		}
	})
}

func TestCreditNotePayAndVoid(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		o := f.org("acme", "")
		f.rate(o.ID, "0", line{"vm-1", "vcpu", nov, "100", "0.05", "5.00"})
		p := f.org("other", "")
		f.rate(p.ID, "0", line{"vm-2", "vcpu", nov, "20", "0.05", "1.00"})
		invs, err := f.iv.RunMonth(ctx, nov)
		if err != nil {
			t.Fatal(err)
		}
		inv := invs[0]
		if inv.OrgID != o.ID {
			inv = invs[1]
		}
		for _, amount := range []string{"0", "-1", "5.01", "0.001"} {
			if _, err := f.iv.CreditNote(ctx, inv.ID, decimal.RequireFromString(amount), "no"); !errors.Is(err, ErrNotCreditable) {
				t.Fatalf("credit %s: %v, want ErrNotCreditable", amount, err)
			}
		}
		note, err := f.iv.CreditNote(ctx, inv.ID, decimal.RequireFromString("2"), "outage on 3 Nov")
		if err != nil {
			t.Fatal(err)
		}
		if note.Kind != store.InvoiceKindCreditNote || note.Corrects != inv.ID || note.Total != "2.00" || *note.Number != 3 ||
			note.State != store.InvoiceFinalized {
			t.Fatalf("credit note %+v", note)
		}
		if _, err := f.iv.CreditNote(ctx, inv.ID, decimal.RequireFromString("3.01"), "too much"); !errors.Is(err, ErrNotCreditable) {
			t.Fatalf("credit beyond what remains: %v", err)
		}
		// The invoice itself never changes.
		var got *store.Invoice
		err = f.s.View(ctx, func(tx *store.Tx) (err error) { got, err = tx.GetInvoice(ctx, o.ID, inv.ID); return err })
		if err != nil || got.Total != "5.00" || got.Version != inv.Version {
			t.Fatalf("invoice after credit note %+v %v", got, err)
		}
		paid, err := f.iv.Pay(ctx, inv.ID)
		if err != nil || paid.State != store.InvoicePaid {
			t.Fatalf("pay %+v %v", paid, err)
		}
		// Owed 5.00, credited 2.00, paid 3.00: nothing left owed.
		var owed string
		err = f.s.View(ctx, func(tx *store.Tx) (err error) {
			owed, err = tx.AccountBalance(ctx, store.ReceivableAccount(o.ID))
			return err
		})
		if err != nil || !decimal.RequireFromString(owed).IsZero() {
			t.Fatalf("receivable after payment %s %v", owed, err)
		}
		if _, err := f.iv.Void(ctx, inv.ID); !errors.Is(err, store.ErrInvoiceState) {
			t.Fatalf("void a paid invoice: %v", err)
		}
		other := invs[0]
		if other.OrgID != p.ID {
			other = invs[1]
		}
		voided, err := f.iv.Void(ctx, other.ID)
		if err != nil || voided.State != store.InvoiceVoid || voided.Number == nil {
			t.Fatalf("void %+v %v", voided, err)
		}
	})
}

func TestPDFShowsTotalsAndUnicodeName(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		o := f.org("zoe", "Zoë Ωmega 東京")
		f.rate(o.ID, "1.004", line{"vm-1", "vcpu", nov, "55", "0.067", "3.685"})
		invs, err := f.iv.RunMonth(ctx, nov)
		if err != nil {
			t.Fatal(err)
		}
		pdf, err := f.iv.PDF(ctx, o.ID, invs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("pdftotext", "-layout", "-", "-")
		cmd.Stdin = bytes.NewReader(pdf)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("pdftotext: %v", err)
		}
		text := string(out)
		for _, want := range []string{"Sirocco Cloud", "Invoice 1", "Zoë Ωmega 東京", "2026-11-01 to 2026-11-30", "name-vm-1",
			"3.69", "-1.00", "2.69", "AUD"} {
			if !strings.Contains(text, want) {
				t.Errorf("PDF text lacks %q:\n%s", want, text)
			}
		}
		// A name in Chinese alone is drawn with the embedded CJK font
		// (DejaVu has no glyphs for it).
		cjk := f.org("tokyo", "東京商事")
		f.rate(cjk.ID, "0", line{"vm-9", "vcpu", nov, "1", "1", "1.00"})
		if _, err := f.iv.RunMonth(ctx, nov); err != nil {
			t.Fatal(err)
		}
		var tokyo []store.Invoice
		f.s.View(ctx, func(tx *store.Tx) (err error) {
			tokyo, _, err = tx.ListInvoices(ctx, store.InvoiceFilter{OrgID: cjk.ID}, store.Page{})
			return err
		})
		cjkPDF, err := f.iv.PDF(ctx, cjk.ID, tokyo[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		fonts := exec.Command("pdffonts", "-")
		fonts.Stdin = bytes.NewReader(cjkPDF)
		list, err := fonts.Output()
		if err != nil {
			t.Fatalf("pdffonts: %v", err)
		}
		if !strings.Contains(string(list), "utf8invoice-cjk ") {
			t.Errorf("the PDF of 東京商事 does not use the CJK font:\n%s", list)
		}
		fonts = exec.Command("pdffonts", "-")
		fonts.Stdin = bytes.NewReader(pdf)
		if list, err = fonts.Output(); err != nil || strings.Contains(string(list), "invoice-cjk") {
			t.Errorf("the PDF of a Latin and Greek name carries the CJK font (%v):\n%s", err, list)
		}
		// The fonts are subset: only the glyphs used are in the file.
		if len(pdf) > 200<<10 {
			t.Errorf("the PDF is %d KiB", len(pdf)>>10)
		}
		// Another organisation's ID does not reach it.
		if _, err := f.iv.PDF(ctx, f.org("other", "").ID, invs[0].ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("PDF through another organisation: %v", err)
		}
	})
}

func readCSV(t *testing.T, b []byte) []map[string]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

// TestExportsAgree checks the invoice CSV against the usage export to the
// cent, and the FOCUS export's header and values.
func TestExportsAgree(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		o := f.org("acme", "Acme Pty")
		var ls []line
		for h := range 30 {
			ls = append(ls, line{"vm-1", "vcpu", nov.Add(time.Duration(h) * 7 * time.Hour), "2", "0.0335", "0.067"},
				line{"vm-2", "memory", nov.Add(time.Duration(h) * 5 * time.Hour), "0.5", "0.0111", "0.00555"})
		}
		f.rate(o.ID, "0", ls...)
		invs, err := f.iv.RunMonth(ctx, nov)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := f.iv.RatedLines(ctx, o.ID, nov, dec)
		if err != nil {
			t.Fatal(err)
		}
		sums := map[string]decimal.Decimal{}
		for _, r := range readCSV(t, UsageCSV(lines)) {
			k := r["resource_id"] + "/" + r["meter"]
			sums[k] = sums[k].Add(decimal.RequireFromString(r["amount"]))
		}
		var inv *store.Invoice
		err = f.s.View(ctx, func(tx *store.Tx) (err error) { inv, err = tx.GetInvoice(ctx, o.ID, invs[0].ID); return err })
		if err != nil {
			t.Fatal(err)
		}
		rows := readCSV(t, InvoiceCSV(inv))
		total := decimal.Zero
		for _, r := range rows {
			if r["position"] == "" {
				if r["description"] == "Total" && !decimal.RequireFromString(r["amount"]).Equal(total) {
					t.Fatalf("CSV total %s, lines sum to %s", r["amount"], total)
				}
				continue
			}
			want := round(sums[r["resource_id"]+"/"+r["meter"]], "AUD").StringFixed(2)
			if r["amount"] != want {
				t.Fatalf("invoice CSV %s/%s = %s, usage export sums to %s", r["resource_id"], r["meter"], r["amount"], want)
			}
			total = total.Add(decimal.RequireFromString(r["amount"]))
		}
		if !total.Equal(decimal.RequireFromString("2.18")) { // 30 × 0.067 = 2.01; 30 × 0.00555 = 0.1665 → 0.17
			t.Fatalf("lines total %s, want 2.18", total)
		}

		focus, err := f.iv.FocusCSV(ctx, o.ID, nov, dec)
		if err != nil {
			t.Fatal(err)
		}
		head, _ := csv.NewReader(bytes.NewReader(focus)).Read()
		if !slices.Equal(head, FocusColumns()) || !slices.Contains(head, "BilledCost") || !slices.Contains(head, "SubAccountName") {
			t.Fatalf("FOCUS header %v", head)
		}
		frows := readCSV(t, focus)
		if len(frows) != 60 {
			t.Fatalf("FOCUS rows %d, want 60", len(frows))
		}
		billed := decimal.Zero
		for _, r := range frows {
			billed = billed.Add(decimal.RequireFromString(r["BilledCost"]))
		}
		r := frows[0]
		if r["ChargeCategory"] != "Usage" || r["BillingCurrency"] != "AUD" || r["BillingPeriodStart"] != "2026-11-01T00:00:00Z" ||
			r["BillingPeriodEnd"] != "2026-12-01T00:00:00Z" || r["SubAccountId"] != o.ID || r["SubAccountName"] != "Acme Pty" ||
			r["ProviderName"] != "Sirocco Cloud" || r["ServiceName"] != "Compute" || r["ChargePeriodStart"] != "2026-11-01T00:00:00Z" {
			t.Fatalf("FOCUS row %v", r)
		}
		if !billed.Equal(decimal.RequireFromString("2.1765")) {
			t.Fatalf("FOCUS billed cost %s, want the exact 2.1765", billed)
		}
	})
}

func TestSummarize(t *testing.T) {
	lines := []store.RatedLine{
		{ResourceID: "vm-1", ResourceKind: "vm", Meter: "vcpu", WindowStart: nov, Quantity: "27.5", Amount: "1.8425", Currency: "AUD"},
		{ResourceID: "vm-1", ResourceKind: "vm", Meter: "vcpu", WindowStart: nov.Add(25 * time.Hour), Quantity: "27.5", Amount: "1.8425", Currency: "AUD"},
		{ResourceID: "disk-1", ResourceKind: "disk", Meter: "disk", WindowStart: nov, Quantity: "10", Amount: "0.004", Currency: "AUD"},
	}
	tests := []struct {
		by   string
		want []string
	}{
		{GroupResource, []string{"disk-1 disk 0.004 0", "vm-1 vcpu 3.685 3.69"}},
		{GroupDay, []string{"2026-11-01 vcpu 1.8425 1.84", "2026-11-01 disk 0.004 0", "2026-11-02 vcpu 1.8425 1.84"}},
	}
	for _, tt := range tests {
		rows, err := Summarize(lines, tt.by)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r.Key+" "+r.Meter+" "+r.Amount.String()+" "+r.Rounded.String())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("by %s: %v, want %v", tt.by, got, tt.want)
		}
	}
	if _, err := Summarize(lines, "week"); err == nil {
		t.Fatal("grouping by week accepted")
	}
}

// OnFinalized hears of every invoice and credit note finalized, numbered,
// and a failure in it undoes the finalization.
func TestOnFinalized(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		o := f.org("acme", "")
		f.rate(o.ID, "0", line{"vm-1", "vcpu", nov, "100", "0.05", "5.00"})
		var heard []int64
		f.iv.OnFinalized = func(_ context.Context, _ *store.Tx, inv *store.Invoice) error {
			if inv.Number == nil || inv.State != store.InvoiceFinalized {
				t.Errorf("heard of an unnumbered or unfinalized invoice: %+v", inv)
				return nil
			}
			heard = append(heard, *inv.Number)
			return nil
		}
		invs, err := f.iv.RunMonth(ctx, nov)
		if err != nil || len(invs) != 1 {
			t.Fatalf("run: %v %d", err, len(invs))
		}
		if _, err := f.iv.CreditNote(ctx, invs[0].ID, decimal.RequireFromString("1"), "goodwill"); err != nil {
			t.Fatal(err)
		}
		if len(heard) != 2 || heard[0] != 1 || heard[1] != 2 {
			t.Fatalf("heard %v, want [1 2]", heard)
		}
		boom := errors.New("queue down")
		f.iv.OnFinalized = func(context.Context, *store.Tx, *store.Invoice) error { return boom }
		if _, err := f.iv.CreditNote(ctx, invs[0].ID, decimal.RequireFromString("1"), "again"); !errors.Is(err, boom) {
			t.Fatalf("credit note with a failing hook: %v", err)
		}
		notes, _, err := listNotes(f, invs[0].ID)
		if err != nil || len(notes) != 1 {
			t.Fatalf("credit notes after a failed finalize: %d, %v", len(notes), err)
		}
	})
}

func listNotes(f *fixture, invoiceID string) ([]store.Invoice, string, error) {
	var out []store.Invoice
	var next string
	err := f.s.View(context.Background(), func(tx *store.Tx) (err error) {
		out, next, err = tx.ListInvoices(context.Background(), store.InvoiceFilter{Corrects: invoiceID}, store.Page{})
		return err
	})
	return out, next, err
}
