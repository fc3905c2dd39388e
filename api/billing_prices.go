package api

import "time"

// Prices are exact decimal strings (never floats) of up to 6 decimal
// places, in the plan's currency.

// PriceRates are a plan's prices: per hour, except reservations (per
// month) and egress (per GiB). An absent price is zero.
type PriceRates struct {
	VCPUHour        string            `json:"vcpu_hour,omitempty" pattern:"^[0-9]{1,12}(\\.[0-9]{1,6})?$" doc:"Per vCPU-hour while a VM is powered on" example:"0.012"`
	MemoryGiBHour   string            `json:"memory_gib_hour,omitempty" pattern:"^[0-9]{1,12}(\\.[0-9]{1,6})?$" doc:"Per GiB-hour of memory while a VM is powered on" example:"0.004"`
	DiskGiBHour     map[string]string `json:"disk_gib_hour,omitempty" doc:"Per GiB-hour of disk, VM on or off, by disk class; standard is the default class" example:"{\"standard\":\"0.0002\"}"`
	SnapshotGiBHour string            `json:"snapshot_gib_hour,omitempty" pattern:"^[0-9]{1,12}(\\.[0-9]{1,6})?$" doc:"Per GiB-hour of snapshot kept"`
	PublicIPHour    string            `json:"public_ip_hour,omitempty" pattern:"^[0-9]{1,12}(\\.[0-9]{1,6})?$" doc:"Per hour a public IP is allocated, attached or not"`
	EgressGiB       string            `json:"egress_gib,omitempty" pattern:"^[0-9]{1,12}(\\.[0-9]{1,6})?$" doc:"Per GiB sent out"`
	// Reservation VDCs pay a fixed monthly price for their quotas,
	// prorated per second over the calendar month's real length.
	ReservationVCPUMonth      string `json:"reservation_vcpu_month,omitempty" pattern:"^[0-9]{1,12}(\\.[0-9]{1,6})?$" doc:"Reservation VDCs: per reserved vCPU per calendar month"`
	ReservationMemoryGiBMonth string `json:"reservation_memory_gib_month,omitempty" pattern:"^[0-9]{1,12}(\\.[0-9]{1,6})?$" doc:"Reservation VDCs: per reserved GiB of memory per calendar month"`
	// Allocation VDCs pay for this share of their quotas every hour, used
	// or not, at the vCPU and memory prices; use above it is charged as
	// pay-as-you-go.
	AllocationGuaranteePercent string `json:"allocation_guarantee_percent,omitempty" pattern:"^[0-9]{1,3}(\\.[0-9]{1,6})?$" doc:"Allocation VDCs: percentage of the quotas guaranteed and charged hourly" example:"50"`
}

// PricePlan is the price list of one region and allocation model, in force
// from EffectiveFrom until the next plan of the same region and model.
// Prices are public: every signed-in user may read them.
type PricePlan struct {
	Meta
	Region          string     `json:"region" example:"au-syd"`
	AllocationModel string     `json:"allocation_model" enum:"payg,allocation,reservation"`
	EffectiveFrom   time.Time  `json:"effective_from"`
	Currency        string     `json:"currency" example:"AUD"`
	Rates           PriceRates `json:"rates"`
	Description     string     `json:"description,omitempty"`
	InForce         bool       `json:"in_force" doc:"This is the plan of its region and model in force now"`
}

// PricePlanCreate adds a plan (provider admins). Plans are never edited:
// a price change is a new plan from a later date, so bills already rated
// stay as they were.
type PricePlanCreate struct {
	Region          string `json:"region"`
	AllocationModel string `json:"allocation_model,omitempty" enum:"payg,allocation,reservation" default:"payg"`
	// EffectiveFrom may not be in the past: prices are not retroactive.
	EffectiveFrom *time.Time `json:"effective_from,omitempty" doc:"When the plan takes effect; now when absent. Not in the past."`
	Currency      string     `json:"currency,omitempty" pattern:"^[A-Z]{3}$" doc:"Must be the provider's currency; that one when absent" example:"AUD"`
	Rates         PriceRates `json:"rates"`
	Description   string     `json:"description,omitempty" maxLength:"500"`
}

// PriceOverrideRates are the prices an organisation's override replaces;
// absent ones keep the plan's.
type PriceOverrideRates struct {
	VCPUHour        string            `json:"vcpu_hour,omitempty" pattern:"^[0-9]{1,12}(\\.[0-9]{1,6})?$"`
	MemoryGiBHour   string            `json:"memory_gib_hour,omitempty" pattern:"^[0-9]{1,12}(\\.[0-9]{1,6})?$"`
	DiskGiBHour     map[string]string `json:"disk_gib_hour,omitempty" doc:"By disk class"`
	SnapshotGiBHour string            `json:"snapshot_gib_hour,omitempty" pattern:"^[0-9]{1,12}(\\.[0-9]{1,6})?$"`
	PublicIPHour    string            `json:"public_ip_hour,omitempty" pattern:"^[0-9]{1,12}(\\.[0-9]{1,6})?$"`
}

// PriceOverride is an organisation's negotiated prices from EffectiveFrom
// until its next override: Rates replace the plans' in every region, then
// DiscountPercent comes off every charge.
type PriceOverride struct {
	Meta
	Org             string             `json:"org"`
	EffectiveFrom   time.Time          `json:"effective_from"`
	DiscountPercent string             `json:"discount_percent" example:"10"`
	Rates           PriceOverrideRates `json:"rates"`
	Note            string             `json:"note,omitempty"`
	InForce         bool               `json:"in_force" doc:"This is the organisation's override in force now"`
}

// PriceOverrideCreate gives an organisation negotiated prices (provider
// admins). To end one, add another from a later date.
type PriceOverrideCreate struct {
	EffectiveFrom   *time.Time         `json:"effective_from,omitempty" doc:"Now when absent. Not in the past."`
	DiscountPercent string             `json:"discount_percent,omitempty" pattern:"^[0-9]{1,3}(\\.[0-9]{1,6})?$" doc:"Percentage off every charge, 0-100" example:"10"`
	Rates           PriceOverrideRates `json:"rates,omitempty"`
	Note            string             `json:"note,omitempty" maxLength:"500"`
}

// QuoteRequest describes something to be created: a VM (by size, or by
// vCPU, memory and disk), a lone disk, or public IPs.
type QuoteRequest struct {
	VDC       string `json:"vdc,omitempty" maxLength:"200" doc:"VDC ID or name; may be left out when the organisation has one VDC"`
	Size      string `json:"size,omitempty" maxLength:"200" doc:"A size from GET /api/v1/sizes: its vCPU, memory and disk unless given below"`
	VCPU      *int   `json:"vcpu,omitempty" minimum:"0" maximum:"512"`
	MemoryMiB *int64 `json:"memory_mib,omitempty" minimum:"0" maximum:"16777216"`
	DiskGiB   *int64 `json:"disk_gib,omitempty" minimum:"0" maximum:"65536"`
	DiskClass string `json:"disk_class,omitempty" maxLength:"50" doc:"Default standard"`
	PublicIPs int    `json:"public_ips,omitempty" minimum:"0" maximum:"1000"`
}

// Quote is the price of a QuoteRequest under the prices in force now
// (the VDC's region and allocation model, and the organisation's
// override). Amounts are exact; a bill rounds only its invoice lines.
type Quote struct {
	Currency        string      `json:"currency" example:"AUD"`
	PerHour         string      `json:"per_hour" doc:"Exact price per hour" example:"0.0312"`
	PerMonth        string      `json:"per_month" doc:"per_hour × hours_per_month, exact" example:"22.776"`
	PerMonthDisplay string      `json:"per_month_display" doc:"per_month rounded half-up to the currency's minor unit" example:"22.78"`
	HoursPerMonth   int         `json:"hours_per_month" doc:"The quote's month: 730 hours. Bills charge the real seconds used." example:"730"`
	Lines           []QuoteLine `json:"lines" nullable:"false"`
	Plan            string      `json:"plan" doc:"ID of the price plan used"`
	Region          string      `json:"region"`
	AllocationModel string      `json:"allocation_model"`
	DiscountPercent string      `json:"discount_percent,omitempty" doc:"The organisation's discount, already applied"`
	Note            string      `json:"note,omitempty"`
}

// QuoteLine is one meter of a quote.
type QuoteLine struct {
	Meter     string `json:"meter" enum:"vcpu,memory,disk,public_ip" example:"vcpu"`
	Quantity  string `json:"quantity" doc:"vCPUs, GiB or IPs" example:"2"`
	UnitPrice string `json:"unit_price" doc:"Per unit per hour, after the organisation's override" example:"0.012"`
	PerHour   string `json:"per_hour" example:"0.024"`
}

// CodeNoPricePlan: usage of a region and allocation model the provider has
// not priced (409).
const CodeNoPricePlan = "no_price_plan"
