// Package rating prices usage: a pure function of usage spans, the
// effective-dated price plans and organisation overrides, and a time window,
// giving rated lines. It reads no clock and does no I/O, so any window can be
// re-rated and must give the same lines (the same InputHash). Money is exact
// (shopspring/decimal), rounded only when an invoice line is made.
package rating

import (
	"time"

	"github.com/shopspring/decimal"
)

// Meters: what a line charges for.
const (
	MeterVCPU        = "vcpu"        // compute: vCPU-hours while powered on
	MeterMemory      = "memory"      // compute: GiB-hours of memory while powered on
	MeterDisk        = "disk"        // GiB-hours of disk allocated, VM on or off
	MeterSnapshot    = "snapshot"    // GiB-hours of snapshot kept
	MeterPublicIP    = "public_ip"   // hours a public IP is allocated
	MeterReservation = "reservation" // a reservation VDC's monthly price, prorated per second
	MeterAllocation  = "allocation"  // an allocation VDC's guaranteed share, per hour
	MeterEgress      = "egress"      // GiB sent out
)

// Span meters: what a usage span records. A compute span (VM powered on)
// rates as MeterVCPU and MeterMemory lines.
const (
	SpanCompute     = "compute"
	SpanDisk        = MeterDisk
	SpanSnapshot    = MeterSnapshot
	SpanPublicIP    = MeterPublicIP
	SpanReservation = MeterReservation
	SpanAllocation  = MeterAllocation
)

// MinimumPowerOn is the least a power-on is charged for (DESIGN "Billing
// conventions").
const MinimumPowerOn = 60 * time.Second

// Span is [Start, End) of unchanged billable state of one resource. End is
// nil while the span is open. Compute spans of one power-on share
// PowerOnID, so that the 60 s minimum applies per power-on, not per span.
type Span struct {
	ID           string
	OrgID        string
	VDCID        string
	Region       string
	Model        string // allocation model of the VDC: payg, allocation, reservation
	ResourceKind string // vm, disk, snapshot, public_ip, vdc
	ResourceID   string
	ResourceName string
	Meter        string // Span* constants
	VCPU         int
	MemoryMiB    int64
	SizeGiB      int64
	Class        string // disk class
	PowerOnID    string
	Start        time.Time
	End          *time.Time
}

// Rates are a plan's prices per hour (per month for reservations) in the
// plan's currency. JSON of decimal strings.
type Rates struct {
	VCPUHour        decimal.Decimal            `json:"vcpu_hour"`
	MemoryGiBHour   decimal.Decimal            `json:"memory_gib_hour"`
	DiskGiBHour     map[string]decimal.Decimal `json:"disk_gib_hour"` // by disk class; "standard" is the default class
	SnapshotGiBHour decimal.Decimal            `json:"snapshot_gib_hour"`
	PublicIPHour    decimal.Decimal            `json:"public_ip_hour"`
	EgressGiB       decimal.Decimal            `json:"egress_gib"`
	// Reservation VDCs: a fixed monthly price per reserved vCPU and GiB of
	// memory (the VDC's quotas), prorated per second over the calendar
	// month's real length.
	ReservationVCPUMonth      decimal.Decimal `json:"reservation_vcpu_month"`
	ReservationMemoryGiBMonth decimal.Decimal `json:"reservation_memory_gib_month"`
	// Allocation VDCs: this percentage of the quotas is guaranteed and
	// charged per hour at VCPUHour and MemoryGiBHour whether used or not;
	// use above it is charged as payg.
	AllocationGuaranteePercent decimal.Decimal `json:"allocation_guarantee_percent"`
}

// Plan is an effective-dated price plan of one region and allocation model.
// It applies from EffectiveFrom until the next plan of the same region and
// model.
type Plan struct {
	ID            string
	Region        string
	Model         string
	Currency      string
	EffectiveFrom time.Time
	Rates         Rates
}

// Override is an organisation's negotiated prices from EffectiveFrom: the
// rates it sets replace the plan's (nil fields keep them), then
// DiscountPercent comes off every line.
type Override struct {
	OrgID           string
	EffectiveFrom   time.Time
	DiscountPercent decimal.Decimal
	Rates           PartialRates
}

// PartialRates are the rates an override replaces.
type PartialRates struct {
	VCPUHour        *decimal.Decimal           `json:"vcpu_hour,omitempty"`
	MemoryGiBHour   *decimal.Decimal           `json:"memory_gib_hour,omitempty"`
	DiskGiBHour     map[string]decimal.Decimal `json:"disk_gib_hour,omitempty"`
	SnapshotGiBHour *decimal.Decimal           `json:"snapshot_gib_hour,omitempty"`
	PublicIPHour    *decimal.Decimal           `json:"public_ip_hour,omitempty"`
}

// Window is [Start, End) in UTC. Rating runs on hour windows.
type Window struct {
	Start, End time.Time
}

// Line is one resource's charge on one meter in one window. Quantity is in
// Unit (vCPU-hours, GiB-hours, hours, months); Amount = Quantity ×
// UnitPrice, exact and unrounded. InputHash identifies the spans, plan and
// window it came from.
type Line struct {
	OrgID        string
	VDCID        string
	ResourceKind string
	ResourceID   string
	ResourceName string
	Meter        string
	Window       Window
	Quantity     decimal.Decimal
	Unit         string
	UnitPrice    decimal.Decimal
	Amount       decimal.Decimal
	Currency     string
	PlanID       string
	InputHash    string
}
