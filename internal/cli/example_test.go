package cli_test

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
)

// TestDocsWorkedExample rates the worked example of docs/tenants/billing.md
// with the real rating engine, hour by hour as siroccod does, so the docs'
// figures to the cent are the engine's.
func TestDocsWorkedExample(t *testing.T) {
	at := func(day, h, m, s int) time.Time { return time.Date(2026, 11, day, h, m, s, 0, time.UTC) }
	ptr := func(t time.Time) *time.Time { return &t }
	vm := rating.Span{OrgID: "o", VDCID: "v", Region: "au-syd", Model: "payg", ResourceKind: "vm", ResourceID: "web",
		ResourceName: "web", Meter: rating.SpanCompute, VCPU: 1, MemoryMiB: 1024}
	first, second := vm, vm
	first.ID, first.PowerOnID, first.Start, first.End = "s1", "p1", at(3, 9, 0, 0), ptr(at(3, 9, 0, 20))
	second.ID, second.PowerOnID, second.Start, second.End = "s2", "p2", at(3, 10, 0, 0), ptr(at(6, 10, 0, 0))
	disk := rating.Span{ID: "s3", OrgID: "o", VDCID: "v", Region: "au-syd", Model: "payg", ResourceKind: "disk", ResourceID: "web",
		ResourceName: "web", Meter: rating.SpanDisk, SizeGiB: 10, Class: "standard", Start: at(3, 9, 0, 0), End: ptr(at(8, 9, 0, 0))}
	plan := rating.Plan{ID: "p", Region: "au-syd", Model: "payg", Currency: "AUD", EffectiveFrom: at(1, 0, 0, 0),
		Rates: rating.Rates{VCPUHour: decimal.RequireFromString("0.02"), MemoryGiBHour: decimal.RequireFromString("0.005"),
			DiskGiBHour: map[string]decimal.Decimal{"standard": decimal.RequireFromString("0.0002")}}}

	sums := map[string]decimal.Decimal{}
	for w := at(1, 0, 0, 0); w.Before(at(30, 0, 0, 0)); w = w.Add(time.Hour) {
		lines, err := rating.Rate([]rating.Span{first, second, disk}, []rating.Plan{plan}, nil, rating.Window{Start: w, End: w.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			sums[l.Meter] = sums[l.Meter].Add(l.Amount)
		}
	}
	total, exact := decimal.Zero, decimal.Zero
	for meter, want := range map[string]string{rating.MeterVCPU: "1.44", rating.MeterMemory: "0.36", rating.MeterDisk: "0.24"} {
		line := rating.Round(sums[meter], "AUD")
		if line.StringFixed(2) != want {
			t.Errorf("%s line %s (exact %s), the docs say %s", meter, line.StringFixed(2), sums[meter], want)
		}
		total, exact = total.Add(line), exact.Add(sums[meter])
	}
	if total.StringFixed(2) != "2.04" {
		t.Errorf("invoice total %s, the docs say 2.04", total.StringFixed(2))
	}
	if got := rating.Round(decimal.RequireFromString("50").Sub(exact), "AUD").StringFixed(2); got != "47.96" {
		t.Errorf("balance after %s of usage: %s, the docs say 47.96", exact, got)
	}
}
