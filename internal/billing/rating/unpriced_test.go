package rating

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// Usage before any plan of its region and model, or of a region never
// priced, is free; rating the rest goes on.
func TestPricedDropsUnpricedUsage(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 11, 26, h, 0, 0, 0, time.UTC) }
	end := func(h int) *time.Time { e := at(h); return &e }
	plans := []Plan{{ID: "p", Region: "au-syd", Model: ModelPayg, Currency: "AUD", EffectiveFrom: at(10),
		Rates: Rates{VCPUHour: decimal.RequireFromString("1")}}}
	spans := []Span{
		{ID: "before", OrgID: "o", Region: "au-syd", Model: ModelPayg, ResourceID: "a", Meter: SpanCompute, VCPU: 1, PowerOnID: "a", Start: at(8), End: end(9)},
		{ID: "across", OrgID: "o", Region: "au-syd", Model: ModelPayg, ResourceID: "b", Meter: SpanCompute, VCPU: 1, PowerOnID: "b", Start: at(9), End: end(12)},
		{ID: "elsewhere", OrgID: "o", Region: "nz-akl", Model: ModelPayg, ResourceID: "c", Meter: SpanCompute, VCPU: 1, PowerOnID: "c", Start: at(9)},
	}
	got := Priced(spans, plans)
	if len(got) != 1 || got[0].ID != "across" || !got[0].Start.Equal(at(10)) {
		t.Fatalf("priced spans %+v", got)
	}
	lines, err := Rate(got, plans, nil, Window{Start: at(8), End: at(12)})
	if err != nil {
		t.Fatal(err)
	}
	total := decimal.Zero
	for _, l := range lines {
		total = total.Add(l.Amount)
	}
	if !total.Equal(decimal.RequireFromString("2")) {
		t.Fatalf("charged %s, want 2 (two priced vCPU-hours)", total)
	}
}
