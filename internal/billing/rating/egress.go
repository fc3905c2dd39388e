package rating

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// UnitGiB is the unit of egress lines: 2^30 bytes.
const UnitGiB = "GiB"

// gib is 2^30 bytes; dividing by it ends, so quantities stay exact.
var gib = decimal.NewFromInt(1 << 30)

// Egress is what one reading of a VM's egress counter adds: Bytes sent
// since the previous reading, read At.
type Egress struct {
	OrgID        string
	VDCID        string
	Region       string
	Model        string
	ResourceID   string // the VM
	ResourceName string
	At           time.Time
	Bytes        int64
}

// RateEgress prices the egress readings taken in w: per VM, the GiB its
// readings add at the plan (and the organisation's override) in force when
// each was read. Readings of a region and model no plan prices are free, as
// in Priced. Lines are sorted like Rate's.
func RateEgress(readings []Egress, plans []Plan, overrides []Override, w Window) []Line {
	type key struct{ org, vm, plan string }
	type acc struct {
		line  Line
		bytes int64
		hash  []byte
	}
	byKey := map[key]*acc{}
	var keys []key
	for _, e := range readings {
		if e.At.Before(w.Start) || !e.At.Before(w.End) || e.Bytes <= 0 {
			continue
		}
		var plan *Plan
		for i := range plans {
			p := &plans[i]
			if p.Region == e.Region && p.Model == normModel(e.Model) && !p.EffectiveFrom.After(e.At) &&
				(plan == nil || p.EffectiveFrom.After(plan.EffectiveFrom)) {
				plan = p
			}
		}
		if plan == nil {
			continue
		}
		rates, factor := plan.Rates, decimal.NewFromInt(1)
		var ov *Override
		for i := range overrides {
			o := &overrides[i]
			if o.OrgID == e.OrgID && !o.EffectiveFrom.After(e.At) && (ov == nil || o.EffectiveFrom.After(ov.EffectiveFrom)) {
				ov = o
			}
		}
		if ov != nil {
			rates, factor = ov.Apply(rates), ov.Factor()
		}
		k := key{e.OrgID, e.ResourceID, plan.ID}
		a, ok := byKey[k]
		if !ok {
			a = &acc{line: Line{OrgID: e.OrgID, VDCID: e.VDCID, ResourceKind: "vm", ResourceID: e.ResourceID, ResourceName: e.ResourceName,
				Meter: MeterEgress, Window: w, Unit: UnitGiB, UnitPrice: rates.EgressGiB.Mul(factor), Currency: plan.Currency, PlanID: plan.ID}}
			a.hash = appendStr(nil, plan.ID)
			byKey[k] = a
			keys = append(keys, k)
		}
		a.bytes += e.Bytes
		a.hash = binary.AppendVarint(a.hash, e.At.UnixNano())
		a.hash = binary.AppendVarint(a.hash, e.Bytes)
	}
	slices.SortFunc(keys, func(x, y key) int {
		if c := compareStrings(x.org, y.org); c != 0 {
			return c
		}
		if c := compareStrings(x.vm, y.vm); c != 0 {
			return c
		}
		return compareStrings(x.plan, y.plan)
	})
	out := make([]Line, 0, len(keys))
	for _, k := range keys {
		a := byKey[k]
		// Exact: bytes / 2^30 has at most 30 decimal places.
		a.line.Quantity = decimal.NewFromInt(a.bytes).DivRound(gib, 30)
		a.line.Amount = a.line.Quantity.Mul(a.line.UnitPrice)
		a.hash = binary.AppendVarint(a.hash, w.Start.UnixNano())
		sum := sha256.Sum256(a.hash)
		a.line.InputHash = hex.EncodeToString(sum[:])
		out = append(out, a.line)
	}
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
