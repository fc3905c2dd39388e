package api

import "time"

// Budget is a monthly spending limit of an organisation, or of one of its
// VDCs, that alerts by e-mail and webhook when spend crosses each threshold
// (once per calendar month, UTC).
type Budget struct {
	Meta
	Org        string   `json:"org"`
	VDC        string   `json:"vdc,omitempty" doc:"VDC ID; absent for a budget over the whole organisation"`
	Name       string   `json:"name"`
	Amount     string   `json:"amount" doc:"Exact decimal amount per calendar month"`
	Currency   string   `json:"currency" doc:"The provider's currency (ISO 4217)"`
	Thresholds []int    `json:"thresholds" nullable:"false" doc:"Percentages of the amount that alert, each once per month"`
	Emails     []string `json:"emails" nullable:"false" doc:"Addresses that get the alert mails"`
	// Spent is month-to-date rated usage: every closed hour of the month
	// so far, exact.
	Spent       string    `json:"spent" doc:"Exact rated spend this calendar month (UTC), up to the last rated hour"`
	PeriodStart time.Time `json:"period_start" doc:"Start of the current calendar month (UTC)"`
}

// BudgetCreate makes a budget.
type BudgetCreate struct {
	Name       string   `json:"name" pattern:"^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$"`
	VDC        string   `json:"vdc,omitempty" maxLength:"200" doc:"VDC ID or name; omit for the whole organisation"`
	Amount     string   `json:"amount" pattern:"^[0-9]{1,12}(\\.[0-9]{1,6})?$" doc:"Exact decimal amount per month, greater than zero"`
	Thresholds []int    `json:"thresholds,omitempty" maxItems:"10" doc:"Percentages from 1 to 1000; default 50, 80, 100"`
	Emails     []string `json:"emails,omitempty" maxItems:"20" doc:"Addresses to alert by e-mail"`
}

// BudgetUpdate changes a budget. Changing the amount or the thresholds lets
// every threshold alert again against the new figures.
type BudgetUpdate struct {
	Name       *string   `json:"name,omitempty" pattern:"^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$"`
	Amount     *string   `json:"amount,omitempty" pattern:"^[0-9]{1,12}(\\.[0-9]{1,6})?$"`
	Thresholds *[]int    `json:"thresholds,omitempty" maxItems:"10"`
	Emails     *[]string `json:"emails,omitempty" maxItems:"20"`
}

// DefaultBudgetThresholds alert at half, most and all of a budget.
var DefaultBudgetThresholds = []int{50, 80, 100}

// Webhook event types.
const (
	// EventBillingThreshold: 50, 80 or 100 % of an organisation's credit is used.
	EventBillingThreshold = "billing.threshold"
	// EventBillingState: an organisation went to grace, suspended, active or closed.
	EventBillingState = "billing.state"
	// EventBudgetThreshold: a budget's spend crossed one of its thresholds.
	EventBudgetThreshold = "budget.threshold"
	// EventInvoiceFinalized: an invoice got its number and is due.
	EventInvoiceFinalized = "invoice.finalized"
)

// EventTypes lists every webhook event type.
var EventTypes = []string{EventBillingThreshold, EventBillingState, EventBudgetThreshold, EventInvoiceFinalized}

// Webhook is an endpoint that receives events as signed HTTP POSTs.
type Webhook struct {
	Meta
	Org        string   `json:"org,omitempty" doc:"Owning organisation; absent for the provider's webhooks, which get every organisation's events"`
	URL        string   `json:"url"`
	EventTypes []string `json:"event_types" nullable:"false" doc:"Event types delivered; empty means all"`
	Active     bool     `json:"active"`
}

// WebhookCreate makes a webhook. The server generates the signing secret.
type WebhookCreate struct {
	URL        string   `json:"url" maxLength:"2000" doc:"http or https URL; an organisation's webhook may not target loopback or private addresses"`
	EventTypes []string `json:"event_types,omitempty" maxItems:"50" doc:"Event types to deliver: billing.threshold, billing.state, budget.threshold, invoice.finalized, or resource changes named like audit actions (vm.create, vdc.delete...); omit for all"`
}

// WebhookCreated is the answer to a create: the webhook and its signing
// secret, which is never shown again.
type WebhookCreated struct {
	Webhook
	Secret string `json:"secret" doc:"HMAC-SHA256 signing secret; shown only now"`
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// WebhookDelivery is one event sent (or being sent) to a webhook: the
// delivery log.
type WebhookDelivery struct {
	ID            string     `json:"id" doc:"Also sent as the Sirocco-Delivery header"`
	Webhook       string     `json:"webhook"`
	EventID       string     `json:"event_id"`
	EventType     string     `json:"event_type"`
	State         string     `json:"state" enum:"pending,delivered,failed"`
	Attempts      int        `json:"attempts"`
	LastStatus    int        `json:"last_status,omitempty" doc:"HTTP status of the last attempt; absent when it got no answer"`
	LastError     string     `json:"last_error,omitempty"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty" doc:"When the next attempt is due; absent once delivered or failed"`
	DeliveredAt   *time.Time `json:"delivered_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
}

// WebhookEvent is the JSON body POSTed to a webhook.
type WebhookEvent struct {
	ID        string    `json:"id" doc:"Event ID; the same on every retry and for every webhook"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Org       string    `json:"org,omitempty" doc:"Organisation ID the event is about"`
	Data      any       `json:"data"`
}

// BudgetThresholdData is the data of a budget.threshold event.
type BudgetThresholdData struct {
	Budget      string    `json:"budget" doc:"Budget ID"`
	Name        string    `json:"name"`
	VDC         string    `json:"vdc,omitempty"`
	Threshold   int       `json:"threshold" doc:"The highest threshold crossed, percent"`
	Amount      string    `json:"amount"`
	Spent       string    `json:"spent" doc:"Exact month-to-date spend"`
	Currency    string    `json:"currency"`
	PeriodStart time.Time `json:"period_start"`
}
