package api

import "time"

// Balance is an organisation's real-time balance. Money fields are exact
// decimal strings in Currency; the *_display fields are the same amounts
// rounded half-up to the currency's minor unit, as people see them.
type Balance struct {
	Currency string `json:"currency" example:"AUD"`
	// Available = credit_remaining - owed - accrued. At or below zero the
	// organisation goes into grace.
	Available        string `json:"available" doc:"Exact: credit left minus what is owed and accrued" example:"41.237500000"`
	AvailableDisplay string `json:"available_display" doc:"available rounded half-up to the minor unit" example:"41.24"`
	CreditRemaining  string `json:"credit_remaining" doc:"Exact credit left on grants usable now"`
	CreditDisplay    string `json:"credit_remaining_display"`
	Owed             string `json:"owed" doc:"Exact usage charged that no credit covered"`
	OwedDisplay      string `json:"owed_display"`
	Accrued          string `json:"accrued" doc:"Exact usage not charged yet: rated lines not posted and the unrated part of running resources, priced now"`
	AccruedDisplay   string `json:"accrued_display"`
	State            string `json:"state" enum:"active,warn,grace,suspended,closed" doc:"The organisation's state"`
	// Override is the state the provider pinned, or empty when billing
	// decides.
	Override string        `json:"override,omitempty" enum:"active,suspended"`
	Grants   []CreditGrant `json:"grants" nullable:"false"`
	AsOf     time.Time     `json:"as_of"`
	Warnings []int         `json:"warnings,omitempty" doc:"Credit-used thresholds (percent) already announced for the current credit"`
}

// Credit grant kinds.
const (
	CreditTrial = "trial"
	CreditPromo = "promo"
	CreditPaid  = "paid"
)

// CreditGrant is credit given to an organisation, as it stands.
type CreditGrant struct {
	ID               string     `json:"id"`
	Kind             string     `json:"kind" enum:"trial,promo,paid"`
	Amount           string     `json:"amount" doc:"Exact amount granted" example:"50.00"`
	Remaining        string     `json:"remaining" doc:"Exact credit left"`
	RemainingDisplay string     `json:"remaining_display" example:"12.35"`
	Currency         string     `json:"currency" example:"AUD"`
	Priority         int        `json:"priority" doc:"Higher burns first; then the soonest expiry, then the oldest grant"`
	EffectiveAt      time.Time  `json:"effective_at"`
	ExpiresAt        *time.Time `json:"expires_at,omitempty"`
	ExpiredAt        *time.Time `json:"expired_at,omitempty" doc:"When what was left was written off"`
	Usable           bool       `json:"usable" doc:"In effect and not expired"`
	Reason           string     `json:"reason,omitempty"`
	GrantedBy        string     `json:"granted_by,omitempty"`
	CreatedAt        time.Time  `json:"created_at"`
}

// CreditGrantCreate gives credit (provider only). Trials are granted at
// e-mail verification, not here.
type CreditGrantCreate struct {
	Kind      string     `json:"kind" enum:"promo,paid" doc:"paid: a top-up the tenant paid for; promo: a promotional credit"`
	Amount    string     `json:"amount" pattern:"^[0-9]{1,12}(\\.[0-9]{1,6})?$" doc:"Exact decimal amount in the provider's currency" example:"100.00"`
	ExpiresAt *time.Time `json:"expires_at,omitempty" doc:"When what is left of the credit lapses; never when absent"`
	Priority  int        `json:"priority,omitempty" minimum:"-1000" maximum:"1000" doc:"Higher burns first (default 0)"`
	Reason    string     `json:"reason" minLength:"1" maxLength:"500" doc:"Why, for the audit log and the tenant"`
}

// BillingOverride pins an organisation's state (provider only): "active"
// keeps it active whatever its balance, "suspended" suspends it, "" gives
// control back to billing.
type BillingOverride struct {
	State  string `json:"state" enum:",active,suspended"`
	Reason string `json:"reason" minLength:"1" maxLength:"500"`
}
