package api

import "time"

// Invoice is a monthly invoice or a credit note correcting one. Money
// fields are exact decimal strings in Currency, rounded to its minor unit;
// Total = Subtotal − Credits, and Subtotal is the sum of the lines.
type Invoice struct {
	ID          string        `json:"id"`
	Org         string        `json:"org"`
	Kind        string        `json:"kind" enum:"invoice,credit_note"`
	Corrects    string        `json:"corrects,omitempty" doc:"The invoice a credit note corrects"`
	Number      *int64        `json:"number,omitempty" doc:"Gapless number, assigned when finalized; absent on drafts"`
	PeriodStart time.Time     `json:"period_start" doc:"First instant of the billed calendar month, UTC"`
	PeriodEnd   time.Time     `json:"period_end" doc:"First instant after it"`
	State       string        `json:"state" enum:"draft,finalized,paid,void"`
	Currency    string        `json:"currency" example:"AUD"`
	Subtotal    string        `json:"subtotal" example:"3.69"`
	Credits     string        `json:"credits" example:"1.00" doc:"Credit grants used by the period's usage"`
	Total       string        `json:"total" example:"2.69"`
	FinalizedAt *time.Time    `json:"finalized_at,omitempty"`
	PaidAt      *time.Time    `json:"paid_at,omitempty"`
	VoidedAt    *time.Time    `json:"voided_at,omitempty"`
	Version     int64         `json:"version"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
	Lines       []InvoiceLine `json:"lines,omitempty" doc:"Present when reading one invoice"`
}

// InvoiceLine is one resource's charge on one meter for the month, the
// exact sum of its rated lines rounded half-up once.
type InvoiceLine struct {
	Position     int      `json:"position"`
	Description  string   `json:"description"`
	ResourceKind string   `json:"resource_kind,omitempty"`
	ResourceID   string   `json:"resource_id,omitempty"`
	Meter        string   `json:"meter,omitempty"`
	Quantity     string   `json:"quantity"`
	Unit         string   `json:"unit"`
	UnitPrice    string   `json:"unit_price"`
	Amount       string   `json:"amount"`
	RatedLines   []string `json:"rated_lines,omitempty" doc:"IDs of the rated lines it sums"`
}

// InvoiceRun asks for the invoices of one month.
type InvoiceRun struct {
	Period string `json:"period" pattern:"^[0-9]{4}-(0[1-9]|1[0-2])$" example:"2026-11" doc:"The calendar month, UTC; it must be over"`
}

// InvoiceRunResult lists the invoices a run made or found.
type InvoiceRunResult struct {
	Period   string    `json:"period"`
	Invoices []Invoice `json:"invoices" nullable:"false"`
	Errors   []string  `json:"errors,omitempty" doc:"Organisations that could not be invoiced yet (e.g. usage not posted); run again later"`
}

// CreditNoteCreate corrects a finalized invoice.
type CreditNoteCreate struct {
	Amount string `json:"amount" pattern:"^[0-9]+(\\.[0-9]+)?$" example:"2.00" doc:"Exact decimal in the invoice's currency, at most what remains creditable"`
	Reason string `json:"reason" minLength:"1" maxLength:"500"`
}

// UsageRow is usage summed per resource and meter, or per UTC day and meter.
type UsageRow struct {
	Key           string `json:"key" doc:"Resource ID (group=resource) or day as 2006-01-02 (group=day)"`
	ResourceKind  string `json:"resource_kind,omitempty"`
	ResourceName  string `json:"resource_name,omitempty"`
	Meter         string `json:"meter"`
	Quantity      string `json:"quantity"`
	Unit          string `json:"unit"`
	Amount        string `json:"amount" doc:"Exact, unrounded"`
	AmountRounded string `json:"amount_rounded" doc:"Rounded half-up to the currency's minor unit"`
	Currency      string `json:"currency"`
}

// Usage is an organisation's rated usage over [From, To).
type Usage struct {
	Org   string     `json:"org"`
	From  time.Time  `json:"from"`
	To    time.Time  `json:"to"`
	Group string     `json:"group" enum:"resource,day"`
	Items []UsageRow `json:"items" nullable:"false"`
}
