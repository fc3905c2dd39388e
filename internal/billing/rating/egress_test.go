package rating

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestRateEgress(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2026, 11, 26, 10, m, 0, 0, time.UTC) }
	d := decimal.RequireFromString
	plans := []Plan{{ID: "p", Region: "au-syd", Model: ModelPayg, Currency: "AUD", EffectiveFrom: at(0).Add(-time.Hour),
		Rates: Rates{EgressGiB: d("0.09")}}}
	w := Window{Start: at(0), End: at(0).Add(time.Hour)}
	r := func(vm string, m int, bytes int64, region string) Egress {
		return Egress{OrgID: "o", VDCID: "v", Region: region, Model: ModelPayg, ResourceID: vm, ResourceName: vm, At: at(m), Bytes: bytes}
	}
	readings := []Egress{
		r("vm-1", 5, 1<<30, "au-syd"), r("vm-1", 35, 512<<20, "au-syd"), r("vm-2", 10, 1, "au-syd"),
		r("vm-1", 0, 7, "nz-akl"), // a region nobody priced: free
		{OrgID: "o", Region: "au-syd", Model: ModelPayg, ResourceID: "vm-1", At: w.End, Bytes: 1 << 30}, // the next window's
	}
	lines := RateEgress(readings, plans, nil, w)
	if len(lines) != 2 || lines[0].ResourceID != "vm-1" || lines[1].ResourceID != "vm-2" {
		t.Fatalf("lines %+v", lines)
	}
	if !lines[0].Quantity.Equal(d("1.5")) || !lines[0].Amount.Equal(d("0.135")) || lines[0].Unit != UnitGiB || lines[0].Meter != MeterEgress {
		t.Errorf("vm-1: %s %s = %s", lines[0].Quantity, lines[0].Unit, lines[0].Amount)
	}
	// One byte is exactly 2^-30 GiB: nothing is rounded away.
	if want := d("0.000000000931322574615478515625"); !lines[1].Quantity.Equal(want) {
		t.Errorf("one byte is %s GiB, want %s", lines[1].Quantity, want)
	}
	// Re-rating the same readings gives the same lines; a discount applies.
	if again := RateEgress(readings, plans, nil, w); again[0].InputHash != lines[0].InputHash {
		t.Error("same readings, another input hash")
	}
	ov := []Override{{OrgID: "o", EffectiveFrom: at(0).Add(-time.Hour), DiscountPercent: d("10")}}
	if l := RateEgress(readings, plans, ov, w); !l[0].Amount.Equal(d("0.1215")) {
		t.Errorf("with 10%% off: %s", l[0].Amount)
	}
	// Splitting the window splits the readings, never the sum.
	a := RateEgress(readings, plans, nil, Window{Start: w.Start, End: at(20)})
	b := RateEgress(readings, plans, nil, Window{Start: at(20), End: w.End})
	sum := decimal.Zero
	for _, l := range append(a, b...) {
		sum = sum.Add(l.Amount)
	}
	total := lines[0].Amount.Add(lines[1].Amount)
	if !sum.Equal(total) {
		t.Errorf("split windows charge %s, the whole window %s", sum, total)
	}
}
