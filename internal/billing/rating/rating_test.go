package rating

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }
func dp(s string) *decimal.Decimal {
	v := d(s)
	return &v
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func ptr(t time.Time) *time.Time { return &t }

func hour(s string) Window { t := at(s); return Window{Start: t, End: t.Add(time.Hour)} }

// testRates: round numbers so that hand computations stay readable.
func testRates() Rates {
	return Rates{
		VCPUHour: d("0.02"), MemoryGiBHour: d("0.01"),
		DiskGiBHour:     map[string]decimal.Decimal{"standard": d("0.0001"), "ssd": d("0.0003")},
		SnapshotGiBHour: d("0.00005"), PublicIPHour: d("0.005"), EgressGiB: d("0.01"),
		ReservationVCPUMonth: d("10"), ReservationMemoryGiBMonth: d("5"), AllocationGuaranteePercent: d("50"),
	}
}

func testPlans() []Plan {
	var out []Plan
	for _, m := range []string{ModelPayg, ModelAllocation, ModelReservation} {
		out = append(out, Plan{ID: "plan-" + m, Region: "r1", Model: m, Currency: "AUD", EffectiveFrom: at("2020-01-01T00:00:00Z"), Rates: testRates()})
	}
	return out
}

// vm is a payg compute span of one power-on.
func vm(id string, vcpu int, mib int64, start string, end string, powerOn string) Span {
	s := Span{ID: id + "@" + start, OrgID: "org1", VDCID: "vdc1", Region: "r1", Model: ModelPayg, ResourceKind: "vm",
		ResourceID: id, ResourceName: id, Meter: SpanCompute, VCPU: vcpu, MemoryMiB: mib, PowerOnID: powerOn, Start: at(start)}
	if end != "" {
		s.End = ptr(at(end))
	}
	return s
}

func disk(id string, gib int64, class, start, end string) Span {
	s := Span{ID: id + "@" + start, OrgID: "org1", VDCID: "vdc1", Region: "r1", Model: ModelPayg, ResourceKind: "disk",
		ResourceID: id, Meter: SpanDisk, SizeGiB: gib, Class: class, Start: at(start)}
	if end != "" {
		s.End = ptr(at(end))
	}
	return s
}

func rate(t *testing.T, spans []Span, plans []Plan, overrides []Override, w Window) []Line {
	t.Helper()
	lines, err := Rate(spans, plans, overrides, w)
	if err != nil {
		t.Fatalf("rate: %v", err)
	}
	return lines
}

// sum adds up the quantity and amount of the lines of resource and meter.
func sum(lines []Line, resource, meter string) (qty, amount decimal.Decimal) {
	qty, amount = decimal.Zero, decimal.Zero
	for _, l := range lines {
		if l.ResourceID == resource && l.Meter == meter {
			qty, amount = qty.Add(l.Quantity), amount.Add(l.Amount)
		}
	}
	return qty, amount
}

// seconds is a quantity in units-hours as unit-seconds, to 9 places: the
// quantities of partial hours carry 18 places.
func seconds(q decimal.Decimal) string { return q.Mul(decimal.NewFromInt(3600)).Round(9).String() }

func TestFullMonthIsExactHours(t *testing.T) {
	for _, c := range []struct {
		month string
		hours int64
	}{
		{"2027-02-01T00:00:00Z", 672}, {"2028-02-01T00:00:00Z", 696}, {"2027-04-01T00:00:00Z", 720}, {"2027-01-01T00:00:00Z", 744},
	} {
		t.Run(c.month[:7], func(t *testing.T) {
			start := at(c.month)
			end := start.AddDate(0, 1, 0)
			// Running since before the month and still running after it.
			spans := []Span{vm("vm1", 2, 4096, "2026-12-15T10:11:12Z", "", "p1")}
			q, a := decimal.Zero, decimal.Zero
			n := 0
			for h := start; h.Before(end); h = h.Add(time.Hour) {
				lines := rate(t, spans, testPlans(), nil, Window{h, h.Add(time.Hour)})
				hq, ha := sum(lines, "vm1", MeterVCPU)
				q, a = q.Add(hq), a.Add(ha)
				n++
			}
			if n != int(c.hours) || !q.Equal(decimal.NewFromInt(2*c.hours)) {
				t.Errorf("%d hourly windows gave %s vCPU-hours, want exactly %d", n, q, 2*c.hours)
			}
			if want := d("0.04").Mul(decimal.NewFromInt(c.hours)); !a.Equal(want) {
				t.Errorf("amount %s, want %s", a, want)
			}
			// Rating the month as one window gives the same.
			mq, _ := sum(rate(t, spans, testPlans(), nil, Window{start, end}), "vm1", MeterVCPU)
			if !mq.Equal(q) {
				t.Errorf("one window: %s, hourly: %s", mq, q)
			}
		})
	}
}

func TestMonthBoundarySplitsAtMidnight(t *testing.T) {
	// Running from 23:30 on the 31st to 00:30 on the 1st, rated in one
	// two-hour window: two lines, one per month, each half an hour.
	spans := []Span{vm("vm1", 1, 1024, "2027-01-31T23:30:00Z", "2027-02-01T00:30:00Z", "p1")}
	lines := rate(t, spans, testPlans(), nil, Window{at("2027-01-31T23:00:00Z"), at("2027-02-01T01:00:00Z")})
	var got []string
	for _, l := range lines {
		if l.Meter == MeterVCPU {
			got = append(got, l.Window.Start.Format("01-02T15:04")+"-"+l.Window.End.Format("01-02T15:04")+"="+l.Quantity.String())
		}
	}
	if want := "01-31T23:00-02-01T00:00=0.5 02-01T00:00-02-01T01:00=0.5"; strings.Join(got, " ") != want {
		t.Errorf("vcpu lines %v, want %s", got, want)
	}
}

func TestLeapDay(t *testing.T) {
	spans := []Span{vm("vm1", 1, 1024, "2028-02-29T00:00:00Z", "2028-03-01T00:00:00Z", "p1")}
	lines := rate(t, spans, testPlans(), nil, Window{at("2028-02-28T00:00:00Z"), at("2028-03-02T00:00:00Z")})
	q, _ := sum(lines, "vm1", MeterVCPU)
	if !q.Equal(decimal.NewFromInt(24)) {
		t.Errorf("Feb 29 2028: %s vCPU-hours, want 24", q)
	}
	for _, l := range lines {
		if l.Window.Start.Month() != time.February || l.Window.End.After(at("2028-03-01T00:00:00Z")) {
			t.Errorf("line outside February: %+v", l.Window)
		}
	}
	// A reservation over February 2028 is one month: 29 days, not 28.
	res := Span{ID: "r", OrgID: "org1", VDCID: "vdc2", Region: "r1", Model: ModelReservation, ResourceKind: "vdc", ResourceID: "vdc2",
		Meter: SpanReservation, VCPU: 1, Start: at("2028-02-01T00:00:00Z")}
	day, _ := sum(rate(t, []Span{res}, testPlans(), nil, Window{at("2028-02-29T00:00:00Z"), at("2028-03-01T00:00:00Z")}), "vdc2", MeterReservation)
	if Round(day.Mul(decimal.NewFromInt(29)), "AUD").String() != "1" {
		t.Errorf("a day of February 2028 is %s of the month, want 1/29", day)
	}
}

func TestComputeCharges(t *testing.T) {
	w := hour("2027-03-10T10:00:00Z")
	for _, c := range []struct {
		name     string
		spans    []Span
		w        Window
		vcpuSecs string // vCPU-seconds charged in w
		memGiBs  string // GiB-seconds charged in w
	}{
		{"full hour", []Span{vm("a", 2, 2048, "2027-03-10T09:00:00Z", "", "p1")}, w, "7200", "7200"},
		{"resize 2 to 4 vCPU at 10:20:30", []Span{
			vm("a", 2, 2048, "2027-03-10T09:00:00Z", "2027-03-10T10:20:30Z", "p1"),
			vm("a", 4, 4096, "2027-03-10T10:20:30Z", "", "p1"),
		}, w, "11940", "11940"}, // 2×1230 + 4×2370; 2×1230 + 4×2370 GiB-s
		{"20 s power-on bills 60 s", []Span{vm("a", 2, 1024, "2027-03-10T10:05:00Z", "2027-03-10T10:05:20Z", "p1")}, w, "120", "60"},
		{"minimum per power-on, not per span: resize in the first minute", []Span{
			vm("a", 1, 1024, "2027-03-10T10:05:00Z", "2027-03-10T10:05:10Z", "p1"),
			vm("a", 2, 1024, "2027-03-10T10:05:10Z", "2027-03-10T10:05:30Z", "p1"),
		}, w, "110", "60"}, // 1×10 + 2×20, topped up by 30 s at the last span's 2 vCPU
		{"two short power-ons each bill 60 s", []Span{
			vm("a", 1, 1024, "2027-03-10T10:05:00Z", "2027-03-10T10:05:20Z", "p1"),
			vm("a", 1, 1024, "2027-03-10T10:30:00Z", "2027-03-10T10:30:05Z", "p2"),
		}, w, "120", "120"},
		{"stop and start", []Span{
			vm("a", 1, 1024, "2027-03-10T09:00:00Z", "2027-03-10T10:15:00Z", "p1"),
			vm("a", 1, 1024, "2027-03-10T10:45:00Z", "", "p2"),
		}, w, "1800", "1800"},
		{"still running: no minimum yet", []Span{vm("a", 1, 1024, "2027-03-10T10:59:50Z", "", "p1")}, w, "10", "10"},
		{"short power-on across the hour: first window", []Span{vm("a", 1, 1024, "2027-03-10T10:59:50Z", "2027-03-10T11:00:10Z", "p1")}, w, "10", "10"},
		{"short power-on across the hour: window where it ends", []Span{vm("a", 1, 1024, "2027-03-10T10:59:50Z", "2027-03-10T11:00:10Z", "p1")},
			hour("2027-03-10T11:00:00Z"), "50", "50"},
		{"power-on continuing at the window end is not ended", []Span{
			vm("a", 1, 1024, "2027-03-10T10:59:50Z", "2027-03-10T11:00:00Z", "p1"),
			vm("a", 2, 1024, "2027-03-10T11:00:00Z", "", "p1"),
		}, w, "10", "10"},
	} {
		t.Run(c.name, func(t *testing.T) {
			lines := rate(t, c.spans, testPlans(), nil, c.w)
			q, a := sum(lines, "a", MeterVCPU)
			if seconds(q) != c.vcpuSecs {
				t.Errorf("vCPU-seconds %s, want %s", seconds(q), c.vcpuSecs)
			}
			if !a.Equal(q.Mul(d("0.02"))) {
				t.Errorf("vcpu amount %s, want %s × 0.02", a, q)
			}
			mq, _ := sum(lines, "a", MeterMemory)
			if seconds(mq) != c.memGiBs {
				t.Errorf("GiB-seconds %s, want %s", seconds(mq), c.memGiBs)
			}
		})
	}
}

func TestDiskAndIPBillWhileVMIsOff(t *testing.T) {
	w := hour("2027-03-10T10:00:00Z")
	ip := Span{ID: "ip", OrgID: "org1", Region: "r1", Model: ModelPayg, ResourceKind: "public_ip", ResourceID: "ip1",
		Meter: SpanPublicIP, Start: at("2027-03-10T10:30:00Z")} // allocated, attached to nothing
	snap := Span{ID: "s", OrgID: "org1", Region: "r1", Model: ModelPayg, ResourceKind: "snapshot", ResourceID: "snap1",
		Meter: SpanSnapshot, SizeGiB: 8, Start: at("2027-03-01T00:00:00Z")}
	spans := []Span{
		vm("a", 1, 1024, "2027-03-10T09:00:00Z", "2027-03-10T10:10:00Z", "p1"), // stopped at 10:10
		disk("root", 20, "", "2027-03-01T00:00:00Z", ""),
		disk("data", 100, "ssd", "2027-03-01T00:00:00Z", "2027-03-10T10:30:00Z"),
		ip, snap,
	}
	lines := rate(t, spans, testPlans(), nil, w)
	for _, c := range []struct {
		resource, meter, qty, amount string
	}{
		{"root", MeterDisk, "20", "0.002"},
		{"data", MeterDisk, "50", "0.015"},
		{"ip1", MeterPublicIP, "0.5", "0.0025"},
		{"snap1", MeterSnapshot, "8", "0.0004"},
	} {
		q, a := sum(lines, c.resource, c.meter)
		if q.String() != c.qty || a.String() != c.amount {
			t.Errorf("%s %s: %s for %s, want %s for %s", c.resource, c.meter, q, a, c.qty, c.amount)
		}
	}
}

func TestPriceChangeMidWindow(t *testing.T) {
	plans := testPlans()
	dear := testRates()
	dear.VCPUHour = d("0.04")
	plans = append(plans, Plan{ID: "dear", Region: "r1", Model: ModelPayg, Currency: "AUD", EffectiveFrom: at("2027-03-10T10:30:00Z"), Rates: dear})
	lines := rate(t, []Span{vm("a", 1, 1024, "2027-03-10T09:00:00Z", "", "p1")}, plans, nil, hour("2027-03-10T10:00:00Z"))
	var got []string
	for _, l := range lines {
		if l.Meter == MeterVCPU {
			got = append(got, l.Window.Start.Format("15:04")+" "+l.PlanID+" "+l.Quantity.String()+"×"+l.UnitPrice.String()+"="+l.Amount.String())
		}
	}
	if want := "10:00 plan-payg 0.5×0.02=0.01,10:30 dear 0.5×0.04=0.02"; strings.Join(got, ",") != want {
		t.Errorf("lines %v, want %s", got, want)
	}
	// The earlier hour is not rated at the new price: no retroactive change.
	_, a := sum(rate(t, []Span{vm("a", 1, 1024, "2027-03-10T09:00:00Z", "", "p1")}, plans, nil, hour("2027-03-10T09:00:00Z")), "a", MeterVCPU)
	if a.String() != "0.02" {
		t.Errorf("hour before the change: %s, want 0.02", a)
	}
}

func TestOverrideReplacesThenDiscounts(t *testing.T) {
	o := Override{OrgID: "org1", EffectiveFrom: at("2027-01-01T00:00:00Z"), DiscountPercent: d("10"),
		Rates: PartialRates{VCPUHour: dp("0.01"), DiskGiBHour: map[string]decimal.Decimal{"ssd": d("0.0002")}}}
	other := Override{OrgID: "org2", EffectiveFrom: at("2027-01-01T00:00:00Z"), DiscountPercent: d("50")}
	spans := []Span{vm("a", 4, 1024, "2027-03-10T09:00:00Z", "", "p1"), disk("d1", 10, "ssd", "2027-03-01T00:00:00Z", ""),
		disk("d2", 10, "standard", "2027-03-01T00:00:00Z", "")}
	lines := rate(t, spans, testPlans(), []Override{o, other}, hour("2027-03-10T10:00:00Z"))
	for _, c := range []struct{ resource, meter, price, amount string }{
		{"a", MeterVCPU, "0.009", "0.036"},     // replaced 0.01, then 10 % off
		{"a", MeterMemory, "0.009", "0.009"},   // the plan's 0.01, 10 % off
		{"d1", MeterDisk, "0.00018", "0.0018"}, // replaced ssd price
		{"d2", MeterDisk, "0.00009", "0.0009"}, // the plan's standard price
	} {
		for _, l := range lines {
			if l.ResourceID == c.resource && l.Meter == c.meter && (l.UnitPrice.String() != c.price || l.Amount.String() != c.amount) {
				t.Errorf("%s %s: %s at %s, want %s at %s", c.resource, c.meter, l.Amount, l.UnitPrice, c.amount, c.price)
			}
		}
	}
}

func TestReservationProratedOverTheRealMonth(t *testing.T) {
	// 4 vCPU and 8 GiB reserved: 4×10 + 8×5 = 80 a month.
	res := Span{ID: "r", OrgID: "org1", VDCID: "vdc2", Region: "r1", Model: ModelReservation, ResourceKind: "vdc", ResourceID: "vdc2",
		Meter: SpanReservation, VCPU: 4, MemoryMiB: 8192, Start: at("2027-01-15T00:00:00Z")}
	// VMs of a reservation VDC are covered by it.
	inside := vm("v", 4, 8192, "2027-01-15T00:00:00Z", "", "p1")
	inside.Model, inside.VDCID = ModelReservation, "vdc2"
	spans := []Span{res, inside}
	for _, c := range []struct {
		name   string
		w      Window
		amount string // rounded to the cent
	}{
		{"a day of February", Window{at("2027-02-10T00:00:00Z"), at("2027-02-11T00:00:00Z")}, "2.86"}, // 80/28
		{"a day of March", Window{at("2027-03-10T00:00:00Z"), at("2027-03-11T00:00:00Z")}, "2.58"},    // 80/31
		{"all of February", Window{at("2027-02-01T00:00:00Z"), at("2027-03-01T00:00:00Z")}, "80"},
		{"all of March", Window{at("2027-03-01T00:00:00Z"), at("2027-04-01T00:00:00Z")}, "80"},
	} {
		t.Run(c.name, func(t *testing.T) {
			lines := rate(t, spans, testPlans(), nil, c.w)
			_, a := sum(lines, "vdc2", MeterReservation)
			if Round(a, "AUD").String() != c.amount {
				t.Errorf("reservation %s, want %s", a, c.amount)
			}
			if q, _ := sum(lines, "v", MeterVCPU); !q.IsZero() {
				t.Errorf("a VM of a reservation VDC charged %s vCPU-hours", q)
			}
		})
	}
	// Hourly windows over February add up to exactly one month.
	total := decimal.Zero
	for h := at("2027-02-01T00:00:00Z"); h.Before(at("2027-03-01T00:00:00Z")); h = h.Add(time.Hour) {
		q, _ := sum(rate(t, spans, testPlans(), nil, Window{h, h.Add(time.Hour)}), "vdc2", MeterReservation)
		total = total.Add(q)
	}
	if !total.Equal(decimal.NewFromInt(1)) {
		t.Errorf("February's hours add up to %s months, want exactly 1", total)
	}
}

func TestAllocationGuaranteeAndBurst(t *testing.T) {
	// 8 vCPU and 16 GiB quotas, 50 % guaranteed: 4 vCPU and 8 GiB charged
	// every hour whether used or not, 4×0.02 + 8×0.01 = 0.16 an hour.
	alloc := Span{ID: "al", OrgID: "org1", VDCID: "vdc3", Region: "r1", Model: ModelAllocation, ResourceKind: "vdc", ResourceID: "vdc3",
		ResourceName: "burst", Meter: SpanAllocation, VCPU: 8, MemoryMiB: 16384, Start: at("2027-03-01T00:00:00Z")}
	v1 := vm("v1", 4, 2048, "2027-03-10T09:00:00Z", "", "p1")
	v2 := vm("v2", 2, 2048, "2027-03-10T10:30:00Z", "", "p2")
	v1.Model, v1.VDCID, v2.Model, v2.VDCID = ModelAllocation, "vdc3", ModelAllocation, "vdc3"
	for _, c := range []struct {
		name                string
		spans               []Span
		burstVCPU, burstMem string
	}{
		{"idle", []Span{alloc}, "0", "0"},
		{"within the guarantee", []Span{alloc, v1}, "0", "0"},
		{"above it", []Span{alloc, v1, v2}, "1", "0"}, // 4 + 2×0.5 = 5 vCPU-hours used, 4 guaranteed
	} {
		t.Run(c.name, func(t *testing.T) {
			lines := rate(t, c.spans, testPlans(), nil, hour("2027-03-10T10:00:00Z"))
			q, a := sum(lines, "vdc3", MeterAllocation)
			if q.String() != "1" || a.String() != "0.16" {
				t.Errorf("guarantee: %s hours for %s, want 1 for 0.16", q, a)
			}
			bq, ba := sum(lines, "vdc3", MeterVCPU)
			if bq.String() != c.burstVCPU || !ba.Equal(bq.Mul(d("0.02"))) {
				t.Errorf("burst: %s vCPU-hours for %s, want %s", bq, ba, c.burstVCPU)
			}
			if mq, _ := sum(lines, "vdc3", MeterMemory); mq.String() != c.burstMem {
				t.Errorf("memory burst %s, want %s", mq, c.burstMem)
			}
			for _, id := range []string{"v1", "v2"} {
				if q, _ := sum(lines, id, MeterVCPU); !q.IsZero() {
					t.Errorf("VM %s of an allocation VDC charged on its own: %s", id, q)
				}
			}
		})
	}
}

func TestRounding(t *testing.T) {
	// Kill Bill #1124: 55 hours at 0.067 is 3.685, which rounds half-up
	// to 3.69, not (as a float would) 3.68.
	plans := testPlans()
	plans[0].Rates.PublicIPHour = d("0.067")
	ip := Span{ID: "ip", OrgID: "org1", Region: "r1", Model: ModelPayg, ResourceKind: "public_ip", ResourceID: "ip1",
		Meter: SpanPublicIP, Start: at("2027-03-01T00:00:00Z"), End: ptr(at("2027-03-03T07:00:00Z"))}
	total := decimal.Zero
	for h := at("2027-03-01T00:00:00Z"); h.Before(at("2027-03-04T00:00:00Z")); h = h.Add(time.Hour) {
		for _, l := range rate(t, []Span{ip}, plans, nil, Window{h, h.Add(time.Hour)}) {
			total = total.Add(l.Amount)
		}
	}
	if total.String() != "3.685" || Round(total, "AUD").String() != "3.69" {
		t.Errorf("55 h × 0.067 = %s, rounded %s; want 3.685, 3.69", total, Round(total, "AUD"))
	}
	for _, c := range []struct{ in, currency, want string }{
		{"3.685", "USD", "3.69"}, {"3.684999", "USD", "3.68"}, {"-3.685", "EUR", "-3.69"},
		{"1234.5", "JPY", "1235"}, {"1234.49", "JPY", "1234"}, {"0.0005", "KWD", "0.001"},
	} {
		if got := Round(d(c.in), c.currency).String(); got != c.want {
			t.Errorf("Round(%s, %s) = %s, want %s", c.in, c.currency, got, c.want)
		}
	}
}

// TestAdditive is the property test: rating is additive over any split of
// a span and any split of the window, before rounding, to the last digit.
func TestAdditive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := at("2027-02-28T20:00:00Z") // near a month end, so some windows straddle it
	randTime := func(span time.Duration) time.Time {
		return base.Add(time.Duration(rng.Int64N(int64(span))) / time.Microsecond * time.Microsecond)
	}
	plans := testPlans()
	dear := testRates()
	dear.VCPUHour, dear.DiskGiBHour = d("0.031"), map[string]decimal.Decimal{"standard": d("0.00017")}
	plans = append(plans, Plan{ID: "dear", Region: "r1", Model: ModelPayg, Currency: "AUD", EffectiveFrom: at("2027-03-01T01:17:00Z"), Rates: dear})
	totals := func(spans []Span, windows []Window) map[string][2]decimal.Decimal {
		out := map[string][2]decimal.Decimal{}
		for _, w := range windows {
			for _, l := range rate(t, spans, plans, nil, w) {
				k := l.ResourceID + "/" + l.Meter
				v := out[k]
				if v[0].Exponent() == 0 && v[0].IsZero() {
					v = [2]decimal.Decimal{decimal.Zero, decimal.Zero}
				}
				out[k] = [2]decimal.Decimal{v[0].Add(l.Quantity), v[1].Add(l.Amount)}
			}
		}
		return out
	}
	for i := range 300 {
		a, b := randTime(8*time.Hour), randTime(8*time.Hour)
		if b.Before(a) {
			a, b = b, a
		}
		if i%5 == 0 { // short power-ons: the minimum must not double on a split
			b = a.Add(time.Duration(rng.Int64N(int64(90 * time.Second))))
		}
		kind := []string{SpanCompute, SpanDisk, SpanPublicIP, SpanReservation}[i%4]
		s := Span{ID: "s", OrgID: "org1", Region: "r1", Model: ModelPayg, ResourceKind: "x", ResourceID: "x", Meter: kind,
			VCPU: 1 + rng.IntN(16), MemoryMiB: 512 * (1 + rng.Int64N(64)), SizeGiB: 1 + rng.Int64N(500), PowerOnID: "p", Start: a, End: ptr(b)}
		if kind == SpanReservation {
			s.Model = ModelReservation
		}
		cut := a.Add(time.Duration(rng.Int64N(int64(b.Sub(a)) + 1)))
		left, right := s, s
		left.ID, left.End = "s1", ptr(cut)
		right.ID, right.Start = "s2", cut
		wStart := base.Add(-time.Hour)
		wEnd := base.Add(10 * time.Hour)
		wCut := randTime(8 * time.Hour)
		whole := totals([]Span{s}, []Window{{wStart, wEnd}})
		for name, got := range map[string]map[string][2]decimal.Decimal{
			"span split":   totals([]Span{left, right}, []Window{{wStart, wEnd}}),
			"window split": totals([]Span{s}, []Window{{wStart, wCut}, {wCut, wEnd}}),
			"both":         totals([]Span{left, right}, []Window{{wStart, wCut}, {wCut, wEnd}}),
		} {
			if len(got) != len(whole) {
				t.Fatalf("case %d %s: meters %v, whole %v", i, name, got, whole)
			}
			for k, v := range whole {
				if !got[k][0].Equal(v[0]) || !got[k][1].Equal(v[1]) {
					t.Fatalf("case %d (%s %s-%s cut %s, window cut %s) %s %s: %s for %s, whole %s for %s", i, kind,
						a.Format(time.RFC3339Nano), b.Format(time.RFC3339Nano), cut.Format(time.RFC3339Nano), wCut.Format(time.RFC3339Nano),
						name, k, got[k][0], got[k][1], v[0], v[1])
				}
			}
		}
	}
}

func TestDeterministicInputHash(t *testing.T) {
	w := hour("2027-03-10T10:00:00Z")
	spans := []Span{
		vm("a", 2, 2048, "2027-03-10T09:00:00Z", "2027-03-10T10:20:30Z", "p1"),
		vm("a", 4, 4096, "2027-03-10T10:20:30Z", "", "p1"),
		disk("d", 20, "", "2027-03-01T00:00:00Z", ""),
		vm("b", 1, 512, "2027-03-10T10:05:00Z", "2027-03-10T10:05:20Z", "p9"),
	}
	first := rate(t, spans, testPlans(), nil, w)
	reversed := []Span{spans[3], spans[2], spans[1], spans[0]}
	again := rate(t, reversed, testPlans(), nil, w)
	if len(first) != len(again) {
		t.Fatalf("%d lines, then %d", len(first), len(again))
	}
	seen := map[string]bool{}
	for i := range first {
		x, y := first[i], again[i]
		if x.InputHash != y.InputHash || !x.Amount.Equal(y.Amount) || x.ResourceID != y.ResourceID || x.Meter != y.Meter {
			t.Errorf("line %d differs: %+v then %+v", i, x, y)
		}
		if seen[x.InputHash] {
			t.Errorf("two lines share input hash %s", x.InputHash)
		}
		seen[x.InputHash] = true
	}
	// Late data: a longer disk changes that line's hash only.
	late := append([]Span(nil), spans...)
	late[2].SizeGiB = 30
	changed := rate(t, late, testPlans(), nil, w)
	for i := range first {
		if same := first[i].InputHash == changed[i].InputHash; same == (first[i].ResourceID == "d") {
			t.Errorf("line %s %s: hash unchanged %v after the disk grew", first[i].ResourceID, first[i].Meter, same)
		}
	}
}

func TestRateErrors(t *testing.T) {
	w := hour("2027-03-10T10:00:00Z")
	s := vm("a", 1, 1024, "2027-03-10T09:00:00Z", "", "p1")
	if _, err := Rate([]Span{s}, nil, nil, w); !errors.Is(err, ErrNoPlan) {
		t.Errorf("no plan: %v, want ErrNoPlan", err)
	}
	late := testPlans()
	late[0].EffectiveFrom = at("2027-03-10T10:30:00Z")
	if _, err := Rate([]Span{s}, late, nil, w); !errors.Is(err, ErrNoPlan) {
		t.Errorf("plan from mid-window: %v, want ErrNoPlan", err)
	}
	bad := s
	bad.End = ptr(at("2027-03-10T08:00:00Z"))
	if _, err := Rate([]Span{bad}, testPlans(), nil, w); err == nil {
		t.Error("span ending before it starts: no error")
	}
	odd := s
	odd.Meter = "gpu"
	if _, err := Rate([]Span{odd}, testPlans(), nil, w); err == nil {
		t.Error("unknown meter: no error")
	}
	if _, err := Rate(nil, testPlans(), nil, Window{w.End, w.Start}); err == nil {
		t.Error("backwards window: no error")
	}
	if lines, err := Rate(nil, nil, nil, w); err != nil || len(lines) != 0 {
		t.Errorf("no spans: %v, %v", lines, err)
	}
}

func TestQuote(t *testing.T) {
	for _, c := range []struct {
		name              string
		vcpu              int
		mib, disk         int64
		class             string
		ips               int
		perHour, perMonth string
	}{
		// 2×0.02 + 4×0.01 + 20×0.0001 + 0.005
		{"vm", 2, 4096, 20, "", 1, "0.087", "63.51"},
		{"ssd disk", 0, 0, 100, "ssd", 0, "0.03", "21.9"},
		{"unknown class at the standard price", 0, 0, 100, "gold", 0, "0.01", "7.3"},
		{"ip", 0, 0, 0, "", 1, "0.005", "3.65"},
	} {
		h, m := Quote(testRates(), c.vcpu, c.mib, c.disk, c.class, c.ips)
		if h.String() != c.perHour || m.String() != c.perMonth {
			t.Errorf("%s: %s/h %s/month, want %s, %s", c.name, h, m, c.perHour, c.perMonth)
		}
	}
}

func TestParseRates(t *testing.T) {
	r, err := ParseRates([]byte(`{"vcpu_hour":"0.011","memory_gib_hour":"0.0055","disk_gib_hour":{"standard":"0.000137"},"allocation_guarantee_percent":"50"}`))
	if err != nil || r.VCPUHour.String() != "0.011" || r.Disk("").String() != "0.000137" {
		t.Fatalf("parse: %+v, %v", r, err)
	}
	for _, bad := range []string{
		`{"vcpu_hour":"-0.01"}`, `{"disk_gib_hour":{"ssd":"-1"}}`, `{"allocation_guarantee_percent":"101"}`,
		`{"vcpu_hours":"0.01"}`, `{"vcpu_hour":"abc"}`, `not json`,
	} {
		if _, err := ParseRates([]byte(bad)); err == nil {
			t.Errorf("ParseRates(%s): no error", bad)
		}
	}
	if p, err := ParsePartialRates([]byte(`{"vcpu_hour":"0.01"}`)); err != nil || p.VCPUHour == nil || p.MemoryGiBHour != nil {
		t.Errorf("partial: %+v, %v", p, err)
	}
	if _, err := ParsePartialRates([]byte(`{"public_ip_hour":"-1"}`)); err == nil {
		t.Error("negative partial rate: no error")
	}
}

func TestAccrued(t *testing.T) {
	spans := []Span{
		vm("a", 2, 2048, "2027-03-10T09:00:00Z", "", "p1"),                     // open: priced up to now
		vm("b", 1, 1024, "2027-03-10T10:05:00Z", "2027-03-10T10:05:20Z", "p2"), // closed, short: 60 s
		disk("d", 100, "", "2027-03-01T00:00:00Z", ""),
	}
	got, err := Accrued(spans, testPlans(), nil, at("2027-03-10T10:00:00Z"), at("2027-03-10T10:30:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	// a: 0.5 h × (2×0.02 + 2×0.01) = 0.03; b: 60 s × (0.02 + 0.01)/3600 = 0.0005; d: 0.5 × 100 × 0.0001 = 0.005
	if Round(got, "AUD").String() != "0.04" || got.Round(9).String() != "0.0355" {
		t.Errorf("accrued %s, want 0.0355", got)
	}
	if z, err := Accrued(spans, testPlans(), nil, at("2027-03-10T10:30:00Z"), at("2027-03-10T10:30:00Z")); err != nil || !z.IsZero() {
		t.Errorf("nothing unrated: %s, %v", z, err)
	}
}
