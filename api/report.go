package api

import "time"

// Forecast is what an organisation's calendar month (UTC) costs so far and
// is likely to cost by its end if what runs now keeps running. Money fields
// are exact decimal strings in Currency; *_display fields are rounded half-up
// to the currency's minor unit.
type Forecast struct {
	Currency    string    `json:"currency" example:"AUD"`
	PeriodStart time.Time `json:"period_start" doc:"First instant of the calendar month (UTC)"`
	PeriodEnd   time.Time `json:"period_end" doc:"First instant of the next month (UTC)"`
	AsOf        time.Time `json:"as_of"`
	// SoFar is usage in the month up to AsOf: rated lines of the month plus
	// what rating has not reached yet, priced now (as the balance's
	// accrued amount is).
	SoFar        string `json:"so_far" doc:"Exact usage of the month so far" example:"12.3456"`
	SoFarDisplay string `json:"so_far_display" example:"12.35"`
	// PerHour is what the resources that exist now (powered-on VMs, disks,
	// snapshots, public IPs, reservations) cost per hour at the prices in
	// force, the organisation's negotiated prices included.
	PerHour        string `json:"per_hour" doc:"Exact cost per hour of what runs now" example:"0.0725"`
	PerHourDisplay string `json:"per_hour_display" example:"0.07"`
	HoursLeft      string `json:"hours_left" doc:"Hours from as_of to the end of the month" example:"412.5"`
	// Rest is what running the same resources until the month ends costs:
	// per_hour × hours_left, priced as rating will.
	Rest        string `json:"rest" doc:"Exact cost of what runs now until the month ends"`
	RestDisplay string `json:"rest_display"`
	// MonthEnd = SoFar + Rest.
	MonthEnd        string `json:"month_end" doc:"Exact forecast for the whole month: so_far + rest"`
	MonthEndDisplay string `json:"month_end_display" example:"41.90"`
}

// Revenue is the provider's revenue by calendar month (UTC).
type Revenue struct {
	Currency string         `json:"currency" example:"AUD"`
	From     string         `json:"from" doc:"First month, YYYY-MM" example:"2026-01"`
	To       string         `json:"to" doc:"Last month included, YYYY-MM" example:"2026-12"`
	Months   []RevenueMonth `json:"months" nullable:"false" doc:"One entry per month, oldest first, months without activity included"`
	// Tenants are the organisations with the most usage rated over the
	// whole range, largest first.
	Tenants []RevenueTenant `json:"tenants" nullable:"false"`
}

// RevenueMonth is one calendar month's figures. Amounts are exact decimal
// strings; invoices and credit notes are already rounded to the minor unit.
type RevenueMonth struct {
	Month string `json:"month" doc:"YYYY-MM" example:"2026-03"`
	// Invoiced is the total of the month's finalized (or paid) invoices,
	// after the credit they burnt: what tenants were asked to pay.
	Invoiced string `json:"invoiced" doc:"Total of finalized and paid invoices for the month"`
	Invoices int    `json:"invoices" doc:"How many invoices make up invoiced"`
	// CreditNotes is the total of credit notes issued in the month.
	CreditNotes string `json:"credit_notes" doc:"Total of credit notes finalized in the month"`
	// Credits granted in the month, by kind.
	CreditsTrial string `json:"credits_trial" doc:"Trial credit granted in the month"`
	CreditsPromo string `json:"credits_promo" doc:"Promotional credit granted in the month"`
	CreditsPaid  string `json:"credits_paid" doc:"Paid top-ups in the month"`
	// Usage is the month's rated usage at list value, before credit.
	Usage        string `json:"usage" doc:"Exact usage rated in the month"`
	UsageDisplay string `json:"usage_display"`
}

// RevenueTenant is one organisation's share of the range's rated usage.
type RevenueTenant struct {
	Org          string `json:"org" doc:"Organisation ID"`
	Name         string `json:"name"`
	Usage        string `json:"usage" doc:"Exact usage rated over the range"`
	UsageDisplay string `json:"usage_display"`
}
