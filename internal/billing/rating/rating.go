package rating

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// Scale is the number of decimal places of a line's quantity. A quantity in
// hours is seconds / 3600, which is not a finite decimal (3600 has the
// factor 9), so it cannot be exact. Rating rounds each instant's position in
// its hour (in its month, for reservations) half-up to Scale places, and a
// quantity is the difference of two such positions. So quantities are exact
// for whole hours, off by less than 10^-18 otherwise, and exactly additive:
// rating a span split anywhere, or a window split anywhere, gives lines
// that sum to the same quantity and amount, to the last digit.
const Scale = 18

// ErrNoPlan is usage of a region and model with no price plan in force.
// Rating refuses to price it at zero.
var ErrNoPlan = errors.New("no price plan in force")

// Allocation models of a span's VDC.
const (
	ModelPayg        = "payg"
	ModelAllocation  = "allocation"
	ModelReservation = "reservation"
)

// SpanRange is the range of spans Rate needs to rate w: all spans
// overlapping [from, to). It reaches MinimumPowerOn before w, so that a short
// power-on ending in w is seen whole, and just past w's end, so that a span
// continuing a power-on at w.End shows the power-on did not end in w.
func SpanRange(w Window) (from, to time.Time) {
	return w.Start.Add(-MinimumPowerOn), w.End.Add(time.Microsecond)
}

// Rate prices the spans' usage in window w. Lines are per organisation,
// resource, meter and price: a line's Window is the part of w with one plan
// and override (all of w unless a plan or override starts inside it, or a
// month does), so Amount = Quantity × UnitPrice exactly. Lines come sorted by
// window start, organisation, resource, meter and price (a disk's class,
// a reservation's or allocation's size).
//
// Pass every span overlapping SpanRange(w). Compute (payg): vcpu and memory
// lines per VM, with the 60 s minimum per power-on topped up in the window
// where the power-on ends, at its last span's size and price. Compute in an
// allocation VDC: the VDC's guaranteed share is an allocation line per hour,
// and its VMs' use above the share, summed over the window, vcpu and memory
// lines of the VDC. Compute in a reservation VDC is covered by the
// reservation line, the VDC's monthly price prorated per second over the
// calendar month. Disks, snapshots and public IPs are charged in every model.
// An organisation's override replaces the plan's rates, then its discount
// comes off every line's unit price.
func Rate(spans []Span, plans []Plan, overrides []Override, w Window) ([]Line, error) {
	w = Window{Start: w.Start.UTC(), End: w.End.UTC()}
	if !w.Start.Before(w.End) {
		return nil, fmt.Errorf("rate window %s-%s: empty", w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339))
	}
	r := newRun(spans, plans, overrides, w)
	order := make([]int, len(spans))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		x, y := &spans[a], &spans[b]
		if c := cmp.Compare(x.ResourceID, y.ResourceID); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Meter, y.Meter); c != 0 {
			return c
		}
		if c := x.Start.Compare(y.Start); c != 0 {
			return c
		}
		return cmp.Compare(x.ID, y.ID)
	})
	for _, i := range order {
		if err := r.span(&spans[i]); err != nil {
			return nil, err
		}
	}
	if err := r.minimums(); err != nil {
		return nil, err
	}
	return r.lines(), nil
}

// run is one call of Rate.
type run struct {
	w         Window
	plans     map[[2]string][]Plan // by region and model, by effective date
	overrides map[string][]Override
	segs      map[segKey][]*segment
	accs      map[lineKey]*acc
	order     []*acc
	aggs      map[aggKey]*agg
	aggOrder  []*agg
	powerOns  map[[2]string]*powerOn
	poOrder   []*powerOn
	scratch   []byte
}

func newRun(spans []Span, plans []Plan, overrides []Override, w Window) *run {
	r := &run{
		w:         w,
		plans:     map[[2]string][]Plan{},
		overrides: map[string][]Override{},
		segs:      map[segKey][]*segment{},
		accs:      make(map[lineKey]*acc, 2*len(spans)),
		aggs:      map[aggKey]*agg{},
		powerOns:  make(map[[2]string]*powerOn, len(spans)),
	}
	for _, p := range plans {
		k := [2]string{p.Region, normModel(p.Model)}
		r.plans[k] = append(r.plans[k], p)
	}
	for _, ps := range r.plans {
		slices.SortStableFunc(ps, func(a, b Plan) int { return a.EffectiveFrom.Compare(b.EffectiveFrom) })
	}
	for _, o := range overrides {
		r.overrides[o.OrgID] = append(r.overrides[o.OrgID], o)
	}
	for _, os := range r.overrides {
		slices.SortStableFunc(os, func(a, b Override) int { return a.EffectiveFrom.Compare(b.EffectiveFrom) })
	}
	return r
}

func normModel(m string) string {
	if m == "" {
		return ModelPayg
	}
	return m
}

// segment is a part of the window with one plan and override, inside one
// calendar month.
type segment struct {
	Window
	plan     *Plan
	override *Override // nil: none in force
	rates    Rates     // the plan's, with the override's replacements
	factor   decimal.Decimal
	// Unit prices after the discount, by meter (disks by class).
	vcpu, memory, snapshot, ip decimal.Decimal
	disk                       map[string]decimal.Decimal
	tag                        []byte // plan and override, for input hashes
}

type segKey struct{ region, model, org string }

// segments cuts the window for spans of region, model and org at month
// starts, plan changes and override changes.
func (r *run) segments(region, model, org string) ([]*segment, error) {
	k := segKey{region, model, org}
	if s, ok := r.segs[k]; ok {
		return s, nil
	}
	plans := r.plans[[2]string{region, model}]
	overrides := r.overrides[org]
	cuts := []time.Time{r.w.Start, r.w.End}
	y, m, _ := r.w.Start.Date()
	for t := time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC); t.Before(r.w.End); t = t.AddDate(0, 1, 0) {
		cuts = append(cuts, t)
	}
	for _, p := range plans {
		if p.EffectiveFrom.After(r.w.Start) && p.EffectiveFrom.Before(r.w.End) {
			cuts = append(cuts, p.EffectiveFrom.UTC())
		}
	}
	for _, o := range overrides {
		if o.EffectiveFrom.After(r.w.Start) && o.EffectiveFrom.Before(r.w.End) {
			cuts = append(cuts, o.EffectiveFrom.UTC())
		}
	}
	slices.SortFunc(cuts, time.Time.Compare)
	cuts = slices.CompactFunc(cuts, time.Time.Equal)
	var out []*segment
	for i := 0; i+1 < len(cuts); i++ {
		start := cuts[i]
		var plan *Plan
		for j := range plans {
			if !plans[j].EffectiveFrom.After(start) {
				plan = &plans[j]
			}
		}
		if plan == nil {
			// Unpriced: usage here is an error (callers drop it first with
			// Priced), but the segment itself may well hold none.
			out = append(out, &segment{Window: Window{Start: start, End: cuts[i+1]}})
			continue
		}
		s := &segment{Window: Window{Start: start, End: cuts[i+1]}, plan: plan, rates: plan.Rates, factor: decimal.NewFromInt(1)}
		for j := range overrides {
			if !overrides[j].EffectiveFrom.After(start) {
				s.override = &overrides[j]
			}
		}
		s.tag = appendStr(s.tag, plan.ID)
		s.tag = appendStr(s.tag, plan.Currency)
		s.tag = binary.AppendVarint(s.tag, plan.EffectiveFrom.UnixNano())
		if s.override != nil {
			if err := ValidateDiscount(s.override.DiscountPercent); err != nil {
				return nil, fmt.Errorf("override of organisation %s: %w", org, err)
			}
			s.rates = s.override.Apply(s.rates)
			s.factor = s.override.Factor()
			s.tag = binary.AppendVarint(s.tag, s.override.EffectiveFrom.UnixNano())
			s.tag = appendStr(s.tag, s.override.DiscountPercent.String())
		}
		s.vcpu = s.rates.VCPUHour.Mul(s.factor)
		s.memory = s.rates.MemoryGiBHour.Mul(s.factor)
		s.snapshot = s.rates.SnapshotGiBHour.Mul(s.factor)
		s.ip = s.rates.PublicIPHour.Mul(s.factor)
		s.disk = map[string]decimal.Decimal{}
		out = append(out, s)
	}
	r.segs[k] = out
	return out, nil
}

func (s *segment) diskPrice(class string) decimal.Decimal {
	if p, ok := s.disk[class]; ok {
		return p
	}
	p := s.rates.Disk(class).Mul(s.factor)
	s.disk[class] = p
	return p
}

// lineKey identifies a line: a resource's meter in a segment at one price
// (variant names the price: a disk's class, a reservation's size).
type lineKey struct {
	org, resource, meter, variant string
	seg                           *segment
}

// acc accumulates a line.
type acc struct {
	key   lineKey
	line  Line
	qty   decimal.Decimal
	input []byte // the contributions, for the input hash
}

func (r *run) acc(s *Span, seg *segment, kind, resource, name, meter, variant, unit string, price decimal.Decimal) *acc {
	k := lineKey{org: s.OrgID, resource: resource, meter: meter, variant: variant, seg: seg}
	a, ok := r.accs[k]
	if !ok {
		a = &acc{key: k, qty: decimal.Zero, line: Line{
			OrgID: s.OrgID, VDCID: s.VDCID, ResourceKind: kind, ResourceID: resource, ResourceName: name, Meter: meter,
			Window: seg.Window, Unit: unit, UnitPrice: price, Currency: seg.plan.Currency, PlanID: seg.plan.ID,
		}}
		r.accs[k] = a
		r.order = append(r.order, a)
	}
	if name != "" {
		a.line.ResourceName = name
	}
	return a
}

func (a *acc) add(q decimal.Decimal, contribution []byte) {
	a.qty = a.qty.Add(q)
	a.input = append(a.input, contribution...)
}

// agg accumulates an allocation VDC's compute and guarantee in a segment.
type agg struct {
	org, vdc, name string
	seg            *segment
	usedV, usedM   decimal.Decimal // vCPU-hours, GiB-hours used
	guarV, guarM   decimal.Decimal // vCPU-hours, GiB-hours guaranteed
	input          []byte
}

type aggKey struct {
	org, vdc string
	seg      *segment
}

func (r *run) agg(org, vdc string, seg *segment) *agg {
	k := aggKey{org, vdc, seg}
	g, ok := r.aggs[k]
	if !ok {
		g = &agg{org: org, vdc: vdc, seg: seg, usedV: decimal.Zero, usedM: decimal.Zero, guarV: decimal.Zero, guarM: decimal.Zero}
		r.aggs[k] = g
		r.aggOrder = append(r.aggOrder, g)
	}
	return g
}

// powerOn tracks one power-on's compute spans, for the 60 s minimum.
type powerOn struct {
	total time.Duration
	open  bool
	last  *Span
}

// span rates one span into the accumulators.
func (r *run) span(s *Span) error {
	if s.End != nil && s.End.Before(s.Start) {
		return fmt.Errorf("span %s of %s: ends %s before it starts %s", s.ID, s.ResourceID,
			s.End.Format(time.RFC3339Nano), s.Start.Format(time.RFC3339Nano))
	}
	model := normModel(s.Model)
	if s.Meter == SpanCompute {
		if model == ModelReservation {
			return nil // the reservation line covers it
		}
		r.trackPowerOn(s)
	}
	a, b := maxTime(s.Start.UTC(), r.w.Start), r.w.End
	if s.End != nil && s.End.Before(b) {
		b = s.End.UTC()
	}
	if !a.Before(b) {
		return nil
	}
	segs, err := r.segments(s.Region, model, s.OrgID)
	if err != nil {
		return err
	}
	for _, seg := range segs {
		pa, pb := maxTime(a, seg.Start), minTime(b, seg.End)
		if !pa.Before(pb) {
			continue
		}
		if seg.plan == nil {
			return fmt.Errorf("rate region %s model %s at %s: %w", s.Region, model, pa.Format(time.RFC3339), ErrNoPlan)
		}
		r.scratch = contribution(r.scratch[:0], s, pa, pb)
		in := r.scratch
		switch s.Meter {
		case SpanCompute:
			hours := hoursBetween(pa, pb)
			switch model {
			case ModelPayg:
				r.acc(s, seg, s.ResourceKind, s.ResourceID, s.ResourceName, MeterVCPU, "", UnitVCPUHour, seg.vcpu).
					add(hours.Mul(decimal.NewFromInt(int64(s.VCPU))), in)
				r.acc(s, seg, s.ResourceKind, s.ResourceID, s.ResourceName, MeterMemory, "", UnitGiBHour, seg.memory).
					add(hours.Mul(mibToGiB(s.MemoryMiB)), in)
			case ModelAllocation:
				g := r.agg(s.OrgID, s.VDCID, seg)
				g.usedV = g.usedV.Add(hours.Mul(decimal.NewFromInt(int64(s.VCPU))))
				g.usedM = g.usedM.Add(hours.Mul(mibToGiB(s.MemoryMiB)))
				g.input = append(g.input, in...)
			}
		case SpanDisk:
			class := s.Class
			if class == "" {
				class = DefaultDiskClass
			}
			r.acc(s, seg, s.ResourceKind, s.ResourceID, s.ResourceName, MeterDisk, class, UnitGiBHour, seg.diskPrice(class)).
				add(hoursBetween(pa, pb).Mul(decimal.NewFromInt(s.SizeGiB)), in)
		case SpanSnapshot:
			r.acc(s, seg, s.ResourceKind, s.ResourceID, s.ResourceName, MeterSnapshot, "", UnitGiBHour, seg.snapshot).
				add(hoursBetween(pa, pb).Mul(decimal.NewFromInt(s.SizeGiB)), in)
		case SpanPublicIP:
			r.acc(s, seg, s.ResourceKind, s.ResourceID, s.ResourceName, MeterPublicIP, "", UnitHour, seg.ip).
				add(hoursBetween(pa, pb), in)
		case SpanReservation:
			price := seg.rates.ReservationVCPUMonth.Mul(decimal.NewFromInt(int64(s.VCPU))).
				Add(seg.rates.ReservationMemoryGiBMonth.Mul(mibToGiB(s.MemoryMiB))).Mul(seg.factor)
			variant := strconv.Itoa(s.VCPU) + "/" + strconv.FormatInt(s.MemoryMiB, 10)
			r.acc(s, seg, s.ResourceKind, s.ResourceID, s.ResourceName, MeterReservation, variant, UnitMonth, price).
				add(monthsBetween(pa, pb), in)
		case SpanAllocation:
			share := seg.rates.AllocationGuaranteePercent.Mul(hundredth())
			gv := decimal.NewFromInt(int64(s.VCPU)).Mul(share)
			gm := mibToGiB(s.MemoryMiB).Mul(share)
			price := gv.Mul(seg.rates.VCPUHour).Add(gm.Mul(seg.rates.MemoryGiBHour)).Mul(seg.factor)
			variant := strconv.Itoa(s.VCPU) + "/" + strconv.FormatInt(s.MemoryMiB, 10)
			hours := hoursBetween(pa, pb)
			r.acc(s, seg, s.ResourceKind, s.ResourceID, s.ResourceName, MeterAllocation, variant, UnitHour, price).add(hours, in)
			vdc := s.VDCID
			if vdc == "" {
				vdc = s.ResourceID
			}
			g := r.agg(s.OrgID, vdc, seg)
			g.guarV = g.guarV.Add(hours.Mul(gv))
			g.guarM = g.guarM.Add(hours.Mul(gm))
			g.input = append(g.input, in...)
			if s.ResourceName != "" {
				g.name = s.ResourceName
			}
		default:
			return fmt.Errorf("span %s of %s: unknown meter %q", s.ID, s.ResourceID, s.Meter)
		}
	}
	return nil
}

func (r *run) trackPowerOn(s *Span) {
	id := s.PowerOnID
	if id == "" {
		id = "span:" + s.ID
	}
	k := [2]string{s.ResourceID, id}
	p, ok := r.powerOns[k]
	if !ok {
		p = &powerOn{}
		r.powerOns[k] = p
		r.poOrder = append(r.poOrder, p)
	}
	if s.End == nil {
		p.open = true
	} else {
		p.total += s.End.Sub(s.Start)
	}
	if p.last == nil || !s.Start.Before(p.last.Start) {
		p.last = s
	}
}

// minimums tops up power-ons shorter than MinimumPowerOn that end in the
// window, at the size and price of their last span.
func (r *run) minimums() error {
	for _, p := range r.poOrder {
		if p.open || p.total >= MinimumPowerOn || p.last.End == nil {
			continue
		}
		end := p.last.End.UTC()
		if !end.After(r.w.Start) || end.After(r.w.End) {
			continue // ends in another window, which charges the minimum
		}
		s := p.last
		model := normModel(s.Model)
		segs, err := r.segments(s.Region, model, s.OrgID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(segs, func(g *segment) bool { return g.Start.Before(end) && !end.After(g.End) })
		seg := segs[i]
		if seg.plan == nil {
			continue // ended before any plan: free
		}
		short := MinimumPowerOn - p.total
		hours := durationHours(short)
		in := binary.AppendVarint([]byte("min"), int64(short))
		in = contribution(in, s, s.Start, end)
		switch model {
		case ModelPayg:
			r.acc(s, seg, s.ResourceKind, s.ResourceID, s.ResourceName, MeterVCPU, "", UnitVCPUHour, seg.vcpu).
				add(hours.Mul(decimal.NewFromInt(int64(s.VCPU))), in)
			r.acc(s, seg, s.ResourceKind, s.ResourceID, s.ResourceName, MeterMemory, "", UnitGiBHour, seg.memory).
				add(hours.Mul(mibToGiB(s.MemoryMiB)), in)
		case ModelAllocation:
			g := r.agg(s.OrgID, s.VDCID, seg)
			g.usedV = g.usedV.Add(hours.Mul(decimal.NewFromInt(int64(s.VCPU))))
			g.usedM = g.usedM.Add(hours.Mul(mibToGiB(s.MemoryMiB)))
			g.input = append(g.input, in...)
		}
	}
	return nil
}

// lines turns the accumulators into sorted lines with their input hashes.
func (r *run) lines() []Line {
	// An allocation VDC's use above its guarantee, per segment.
	for _, g := range r.aggOrder {
		for _, m := range []struct {
			meter, unit string
			used, guar  decimal.Decimal
			price       decimal.Decimal
		}{
			{MeterVCPU, UnitVCPUHour, g.usedV, g.guarV, g.seg.vcpu},
			{MeterMemory, UnitGiBHour, g.usedM, g.guarM, g.seg.memory},
		} {
			burst := m.used.Sub(m.guar)
			if !burst.IsPositive() {
				continue
			}
			s := &Span{OrgID: g.org, VDCID: g.vdc}
			r.acc(s, g.seg, "vdc", g.vdc, g.name, m.meter, "burst", m.unit, m.price).add(burst, g.input)
		}
	}
	// Sorting the accumulators, not the lines: no decimal comparison, and
	// pointers to swap.
	slices.SortFunc(r.order, func(x, y *acc) int {
		if c := x.line.Window.Start.Compare(y.line.Window.Start); c != 0 {
			return c
		}
		if c := cmp.Compare(x.key.org, y.key.org); c != 0 {
			return c
		}
		if c := cmp.Compare(x.key.resource, y.key.resource); c != 0 {
			return c
		}
		if c := cmp.Compare(x.key.meter, y.key.meter); c != 0 {
			return c
		}
		return cmp.Compare(x.key.variant, y.key.variant)
	})
	out := make([]Line, 0, len(r.order))
	var head []byte
	for _, a := range r.order {
		if a.qty.IsZero() {
			continue
		}
		l := a.line
		l.Quantity = a.qty
		l.Amount = a.qty.Mul(l.UnitPrice)
		head = appendStr(head[:0], "sirocco-rating-v1")
		for _, s := range []string{l.OrgID, l.ResourceKind, l.ResourceID, l.Meter, a.key.variant, l.Unit, l.UnitPrice.String()} {
			head = appendStr(head, s)
		}
		head = binary.AppendVarint(head, l.Window.Start.UnixNano())
		head = binary.AppendVarint(head, l.Window.End.UnixNano())
		head = binary.AppendVarint(head, r.w.Start.UnixNano())
		head = binary.AppendVarint(head, r.w.End.UnixNano())
		head = append(head, a.key.seg.tag...)
		head = append(head, a.input...)
		sum := sha256.Sum256(head)
		l.InputHash = hex.EncodeToString(sum[:])
		out = append(out, l)
	}
	return out
}

// contribution encodes what of span s in [a, b) a line depends on.
func contribution(out []byte, s *Span, a, b time.Time) []byte {
	out = appendStr(out, s.ResourceID)
	out = appendStr(out, s.Meter)
	out = binary.AppendVarint(out, a.UnixNano())
	out = binary.AppendVarint(out, b.UnixNano())
	out = binary.AppendVarint(out, int64(s.VCPU))
	out = binary.AppendVarint(out, s.MemoryMiB)
	out = binary.AppendVarint(out, s.SizeGiB)
	return appendStr(out, s.Class)
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// unit is 10^Scale: positions are integers in units of 10^-Scale.
const unit = 1_000_000_000_000_000_000

// hourPoint is t as whole hours since the Unix epoch and the part of its
// hour passed, in units of 10^-Scale, rounded half-up.
func hourPoint(t time.Time) (hours, frac int64) {
	ns := t.UnixNano()
	hours = ns / int64(time.Hour)
	rem := ns % int64(time.Hour)
	if rem < 0 {
		hours, rem = hours-1, rem+int64(time.Hour)
	}
	// rem/3.6e12 × 10^18 = rem × 10^7 / 36
	hi, lo := bits.Mul64(uint64(rem), 10_000_000)
	q, r := bits.Div64(hi, lo, 36)
	if 2*r >= 36 {
		q++
	}
	return hours, int64(q)
}

// hoursBetween is the hours from a to b, the difference of their positions.
func hoursBetween(a, b time.Time) decimal.Decimal {
	ha, fa := hourPoint(a)
	hb, fb := hourPoint(b)
	if n := hb - ha; n >= 0 && n < 9 {
		return decimal.New(n*unit+fb-fa, -Scale)
	}
	return decimal.New(hb-ha, 0).Add(decimal.New(fb-fa, -Scale))
}

// durationHours is d in hours rounded half-up to Scale places.
func durationHours(d time.Duration) decimal.Decimal {
	ns := int64(d)
	whole := ns / int64(time.Hour)
	rem := ns % int64(time.Hour)
	hi, lo := bits.Mul64(uint64(rem), 10_000_000)
	q, r := bits.Div64(hi, lo, 36)
	if 2*r >= 36 {
		q++
	}
	return decimal.New(whole, 0).Add(decimal.New(int64(q), -Scale))
}

// monthsBetween is the fraction of a calendar month from a to b, which lie
// in one month (b may be the next month's start): the difference of their
// positions in the month, each rounded half-up to Scale places.
func monthsBetween(a, b time.Time) decimal.Decimal {
	y, m, _ := a.Date()
	start := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	next := start.AddDate(0, 1, 0)
	length := uint64(next.Sub(start))
	pos := func(t time.Time) int64 {
		if !t.Before(next) {
			return unit
		}
		hi, lo := bits.Mul64(uint64(t.Sub(start)), unit)
		q, r := bits.Div64(hi, lo, length)
		if 2*r >= length {
			q++
		}
		return int64(q)
	}
	return decimal.New(pos(b)-pos(a), -Scale)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Accrued is what spans cost from `from` until now at the prices in force,
// exact and unrounded: the part of the real-time balance rating has not
// reached yet. Pass the organisation's spans overlapping
// SpanRange(Window{from, now}); open spans are priced up to now, closed
// ones with their 60 s minimum.
func Accrued(spans []Span, plans []Plan, overrides []Override, from, now time.Time) (decimal.Decimal, error) {
	if !from.Before(now) {
		return decimal.Zero, nil
	}
	lines, err := Rate(spans, plans, overrides, Window{Start: from, End: now})
	if err != nil {
		return decimal.Zero, err
	}
	sum := decimal.Zero
	for _, l := range lines {
		sum = sum.Add(l.Amount)
	}
	return sum, nil
}
