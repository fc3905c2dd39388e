package rating

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/shopspring/decimal"
)

// Units of Line.Quantity.
const (
	UnitVCPUHour = "vcpu-hour"
	UnitGiBHour  = "GiB-hour"
	UnitHour     = "hour"
	UnitMonth    = "month"
)

// DefaultDiskClass is the class whose price applies to a disk without a
// class, or of a class the plan does not price.
const DefaultDiskClass = "standard"

// QuoteHoursPerMonth is the month of a quote: 730 h (8760 h / 12), the
// convention of public price lists. Bills never use it: a reservation is
// prorated over the real calendar month and everything else is per second.
const QuoteHoursPerMonth = 730

// MinorUnits is the number of decimal places of a currency's minor unit
// (ISO 4217): 0 for currencies without cents such as JPY, 3 for the dinars,
// 2 otherwise.
func MinorUnits(currency string) int32 {
	switch currency {
	case "JPY", "KRW", "VND", "CLP", "ISK", "PYG", "UGX", "XAF", "XOF", "XPF", "RWF", "KMF", "GNF", "VUV", "DJF", "BIF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	}
	return 2
}

// Round rounds d half-up (away from zero, so a credit note mirrors its
// invoice) to the currency's minor unit. It is the only rounding of money:
// invoice lines and the balance shown, never rated lines.
func Round(d decimal.Decimal, currency string) decimal.Decimal {
	return d.Round(MinorUnits(currency))
}

// ParseRates reads a plan's rates from JSON of decimal strings and checks
// them: no negative price, a guarantee percentage within [0, 100], and no
// unknown field (a misspelt rate would otherwise silently price at zero).
func ParseRates(b []byte) (Rates, error) {
	var r Rates
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Rates{}, fmt.Errorf("rates: %w", err)
	}
	return r, r.Validate()
}

// Validate checks rates: no negative price and a guarantee percentage within
// [0, 100].
func (r Rates) Validate() error {
	for _, f := range []struct {
		name string
		v    decimal.Decimal
	}{
		{"vcpu_hour", r.VCPUHour}, {"memory_gib_hour", r.MemoryGiBHour}, {"snapshot_gib_hour", r.SnapshotGiBHour},
		{"public_ip_hour", r.PublicIPHour}, {"egress_gib", r.EgressGiB},
		{"reservation_vcpu_month", r.ReservationVCPUMonth}, {"reservation_memory_gib_month", r.ReservationMemoryGiBMonth},
		{"allocation_guarantee_percent", r.AllocationGuaranteePercent},
	} {
		if f.v.IsNegative() {
			return fmt.Errorf("rates: %s is negative (%s)", f.name, f.v)
		}
	}
	for class, v := range r.DiskGiBHour {
		if v.IsNegative() {
			return fmt.Errorf("rates: disk_gib_hour[%q] is negative (%s)", class, v)
		}
	}
	if r.AllocationGuaranteePercent.GreaterThan(decimal.NewFromInt(100)) {
		return fmt.Errorf("rates: allocation_guarantee_percent %s is above 100", r.AllocationGuaranteePercent)
	}
	return nil
}

// ParsePartialRates reads an override's rates from JSON of decimal strings,
// with the checks of ParseRates.
func ParsePartialRates(b []byte) (PartialRates, error) {
	var p PartialRates
	if len(bytes.TrimSpace(b)) == 0 {
		return p, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return PartialRates{}, fmt.Errorf("override rates: %w", err)
	}
	return p, p.Validate()
}

// Validate checks that no replaced rate is negative.
func (p PartialRates) Validate() error {
	for _, f := range []struct {
		name string
		v    *decimal.Decimal
	}{
		{"vcpu_hour", p.VCPUHour}, {"memory_gib_hour", p.MemoryGiBHour}, {"snapshot_gib_hour", p.SnapshotGiBHour},
		{"public_ip_hour", p.PublicIPHour},
	} {
		if f.v != nil && f.v.IsNegative() {
			return fmt.Errorf("override rates: %s is negative (%s)", f.name, *f.v)
		}
	}
	for class, v := range p.DiskGiBHour {
		if v.IsNegative() {
			return fmt.Errorf("override rates: disk_gib_hour[%q] is negative (%s)", class, v)
		}
	}
	return nil
}

// ValidateDiscount checks a discount percentage is within [0, 100].
func ValidateDiscount(pct decimal.Decimal) error {
	if pct.IsNegative() || pct.GreaterThan(decimal.NewFromInt(100)) {
		return fmt.Errorf("discount %s%% is not within 0-100", pct)
	}
	return nil
}

// Apply returns r with o's rates in place of the plan's (a disk class o
// prices replaces that class only). The discount is not applied: see
// Override.Factor.
func (o Override) Apply(r Rates) Rates {
	set := func(dst *decimal.Decimal, v *decimal.Decimal) {
		if v != nil {
			*dst = *v
		}
	}
	set(&r.VCPUHour, o.Rates.VCPUHour)
	set(&r.MemoryGiBHour, o.Rates.MemoryGiBHour)
	set(&r.SnapshotGiBHour, o.Rates.SnapshotGiBHour)
	set(&r.PublicIPHour, o.Rates.PublicIPHour)
	if len(o.Rates.DiskGiBHour) > 0 {
		disk := make(map[string]decimal.Decimal, len(r.DiskGiBHour)+len(o.Rates.DiskGiBHour))
		for k, v := range r.DiskGiBHour {
			disk[k] = v
		}
		for k, v := range o.Rates.DiskGiBHour {
			disk[k] = v
		}
		r.DiskGiBHour = disk
	}
	return r
}

// Factor is what remains of a price after the discount: 1 − percent/100.
func (o Override) Factor() decimal.Decimal {
	return decimal.NewFromInt(1).Sub(o.DiscountPercent.Mul(hundredth()))
}

// Disk is the price per GiB-hour of a disk of class (DefaultDiskClass when
// empty or not priced; zero when the plan prices neither).
func (r Rates) Disk(class string) decimal.Decimal {
	if v, ok := r.DiskGiBHour[class]; ok && class != "" {
		return v
	}
	return r.DiskGiBHour[DefaultDiskClass]
}

// Quote prices a proposed payg VM (or a lone disk or IP, with zero vCPU and
// memory): the price per hour, and per month of QuoteHoursPerMonth (730 h)
// hours, exact. Apply an organisation's override to r first
// (Override.Apply, then multiply by Override.Factor).
func Quote(r Rates, vcpu int, memoryMiB, diskGiB int64, diskClass string, publicIPs int) (perHour, perMonth decimal.Decimal) {
	perHour = r.VCPUHour.Mul(decimal.NewFromInt(int64(vcpu))).
		Add(r.MemoryGiBHour.Mul(mibToGiB(memoryMiB))).
		Add(r.Disk(diskClass).Mul(decimal.NewFromInt(diskGiB))).
		Add(r.PublicIPHour.Mul(decimal.NewFromInt(int64(publicIPs))))
	return perHour, perHour.Mul(decimal.NewFromInt(QuoteHoursPerMonth))
}

// hundredth is 1/100, for percentages. Multiplying by exact constants
// avoids decimal division and its package-global precision.
func hundredth() decimal.Decimal { return decimal.New(1, -2) }

// mibToGiB converts exactly: 1/1024 = 0.0009765625 is a finite decimal.
func mibToGiB(mib int64) decimal.Decimal {
	if mib < 1<<39 && mib > -(1<<39) { // mib × 9765625 fits in int64
		return decimal.New(mib*9765625, -10)
	}
	return decimal.NewFromInt(mib).Mul(decimal.New(9765625, -10))
}
